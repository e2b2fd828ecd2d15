#!/usr/bin/env bash
# Run nexusctl with NEXUSCTL_ARGS, one argument per line; record the exit code as an output.
set -uo pipefail
args=()
while IFS= read -r line; do
  [ -n "$line" ] && args+=("$line")
done <<< "${NEXUSCTL_ARGS:-}"
nexusctl "${args[@]}"
code=$?
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "exit-code=$code" >> "$GITHUB_OUTPUT"
fi
exit "$code"
