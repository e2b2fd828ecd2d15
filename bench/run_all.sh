#!/usr/bin/env bash
# Run every benchmark script under bench/ (each prints its own figures).
set -euo pipefail
cd "$(dirname "$0")/.."
# Bytecode as an installed wheel has it (bench/compiled.py says why).
python -m compileall -q nexusctl
for b in bench/*.py; do
  printf '\n== %s ==\n' "$b"
  python "$b"
done
