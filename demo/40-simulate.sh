#!/usr/bin/env bash
# Simulation: replay recorded traffic under the live retail-chat policy (v3) and a candidate
# (v4), diff decisions and spend, gate the diff; each replay writes all its reports at once
# (terminal summary, HTML, PR-ready Markdown, JUnit, JSON: repeated -o, format by extension).
# A failed gate exits 6: the demo shows that verdict and goes on (it does not abort).
set -euo pipefail
out="${NEXUSCTL_DEMO_OUT:?run through demo/run.sh}"
pol=policies/nebula

# Retail traffic only: the mix is derived from the retail policy's own tenants, apps, use
# cases and residency classes (the Nebula-wide mix of demo 30 would send the other policies'
# requests to retail-chat, where they escalate as unknown).
synth="$out/retail-synth.parquet"
nexusctl traffic synth --rows 100000 --seed 42 --policy "$pol/retail-chat.yaml" -o "$synth"

# Run one simulation; exit 6 (a gate said no) is an expected verdict here, anything else fails.
simulate() {
  local code=0
  nexusctl simulate "$@" || code=$?
  if [ "$code" -eq 6 ]; then
    echo "(a gate failed: exit 6, as a CI job would see it; the demo continues)"
  elif [ "$code" -ne 0 ]; then
    exit "$code"
  fi
}

echo "--- retail-chat v3 -> v4 on $synth, gated by the retail gate file: one replay writes the"
echo "    terminal summary (-o -), the HTML report, the PR-ready Markdown, JUnit XML and the JSON"
simulate --baseline "$pol/retail-chat.yaml" --candidate "$pol/retail-chat.candidate.yaml" \
  --traffic "$synth" --gates "$pol/gates/retail-chat.gates.yaml" \
  --decisions "$out/retail-decisions.parquet" \
  -o - -o "$out/retail-diff.html" -o "$out/retail-diff.md" -o "$out/retail-gates.xml" \
  -o "$out/retail-diff.json"

echo "--- the same candidate on a repriced catalog: spend change = price effect + routing effect"
simulate --baseline "$pol/retail-chat.yaml" --candidate "$pol/candidates/retail-chat.yaml" \
  --traffic "$synth" --allow-catalog-change --format markdown -o "$out/retail-reprice.md"
grep -m1 '^Spend change' "$out/retail-reprice.md"

azure="$out/azure-code.parquet"
if [ -f "$azure" ]; then
  echo "--- code-assistant v5 -> v6 on the imported Azure code trace"
  simulate --baseline "$pol/code-assistant.yaml" --candidate "$pol/code-assistant.candidate.yaml" \
    --traffic "$azure" --gate changed_decisions_max_pct=30 --gate spend_change_max_pct=10 \
    -o - -o "$out/azure-code-diff.html"
else
  echo "($azure is missing: run demo/30-traffic.sh first to simulate the Azure trace)"
fi
echo "HTML reports (open offline in any browser):" "$out"/*-diff.html
