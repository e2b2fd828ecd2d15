#!/usr/bin/env bash
# Lint the bundled policies (must be clean), summarise one, and show a broken policy failing.
set -euo pipefail

echo "\$ nexusctl policy lint policies/"
nexusctl policy lint policies/

echo
echo "\$ nexusctl policy lint --format sarif policies/ > \$NEXUSCTL_DEMO_OUT/lint.sarif"
nexusctl policy lint --format sarif policies/ > "$NEXUSCTL_DEMO_OUT/lint.sarif"
echo "SARIF 2.1.0 written to $NEXUSCTL_DEMO_OUT/lint.sarif"

echo; echo "\$ nexusctl policy test policies/nebula"; nexusctl policy test policies/nebula

echo
echo "\$ nexusctl policy show policies/nebula/retail-chat.yaml"
nexusctl policy show policies/nebula/retail-chat.yaml

echo
echo "# A deliberately broken policy: its fallback chain leaves the EU (rule NXL005)."
echo "\$ nexusctl policy lint tests/assets/lint/NXL005-residency-escape"
status=0
nexusctl policy lint tests/assets/lint/NXL005-residency-escape || status=$?
echo "exit $status (1 = findings at or above --fail-on)"
test "$status" -eq 1
