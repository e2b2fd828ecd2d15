#!/usr/bin/env bash
# `make demo`: nexusctl's main job on the bundled Nebula Financial policies and data.
# Each capability adds one numbered step file beside this script; they run in order.
# NEXUSCTL_DEMO_ONLY="10 40" runs only those steps (by number). Off a terminal, or under
# NO_COLOR, no escape code reaches the output (headings plain, the steps' own bold stripped),
# so the demo piped to a file or a CI log reads as text.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXUSCTL_DEMO_OUT="${NEXUSCTL_DEMO_OUT:-out/demo}"
mkdir -p "$NEXUSCTL_DEMO_OUT"
bold='' plain=''
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  bold=$'\033[1m' plain=$'\033[0m'
  run_step() { bash "$1"; }
else
  run_step() { bash "$1" | sed -u $'s/\033\\[[0-9;]*[A-Za-z]//g'; }
fi
only=" ${NEXUSCTL_DEMO_ONLY:-} "
for step in demo/[0-9][0-9]-*.sh; do
  number="$(basename "$step" | cut -c1-2)"
  if [ "$only" != "  " ] && [[ "$only" != *" $number "* ]]; then
    continue
  fi
  printf '\n%s== %s ==%s\n' "$bold" "$(basename "$step" .sh)" "$plain"
  run_step "$step"
done
# The artifact summary: every file the demo wrote, folders summarised by their file count.
printf '\n%s== artifacts ==%s\n' "$bold" "$plain"
for item in "$NEXUSCTL_DEMO_OUT"/*; do
  if [ -d "$item" ]; then
    printf '  %-48s folder, %s files\n' "$item/" "$(find "$item" -type f | wc -l | tr -d ' ')"
  else
    printf '  %-48s %s bytes\n' "$item" "$(wc -c < "$item" | tr -d ' ')"
  fi
done
printf '\nDemo outputs are in %s\n' "$NEXUSCTL_DEMO_OUT"
