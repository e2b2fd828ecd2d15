#!/usr/bin/env bash
# `make demo`: nexusctl's main job on the bundled Nebula Financial policies and data.
# Each capability adds one numbered step file beside this script; they run in order.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXUSCTL_DEMO_OUT="${NEXUSCTL_DEMO_OUT:-out/demo}"
mkdir -p "$NEXUSCTL_DEMO_OUT"
for step in demo/[0-9][0-9]-*.sh; do
  printf '\n\033[1m== %s ==\033[0m\n' "$(basename "$step" .sh)"
  bash "$step"
done
printf '\nDemo outputs are in %s\n' "$NEXUSCTL_DEMO_OUT"
