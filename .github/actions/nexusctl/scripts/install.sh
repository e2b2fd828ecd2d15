#!/usr/bin/env bash
# Install nexusctl into a fresh virtual environment from the checkout this script lives in.
# Runtime dependencies are constrained to the versions in requirements.lock (the ones the
# project's own CI tested); the nexusctl package itself comes from this source tree only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
python="${PYTHON:-python3}"
venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/nexusctl-venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --constraint "$root/requirements.lock" "$root"
"$venv/bin/nexusctl" --version
if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$venv/bin" >> "$GITHUB_PATH"
fi
