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
# The artifact summary: every file the demo wrote, folders summarised by their file count.
printf '\n\033[1m== artifacts ==\033[0m\n'
for item in "$NEXUSCTL_DEMO_OUT"/*; do
  if [ -d "$item" ]; then
    printf '  %-48s folder, %s files\n' "$item/" "$(find "$item" -type f | wc -l | tr -d ' ')"
  else
    printf '  %-48s %s bytes\n' "$item" "$(wc -c < "$item" | tr -d ' ')"
  fi
done
printf '\nDemo outputs are in %s\n' "$NEXUSCTL_DEMO_OUT"
