#!/usr/bin/env bash
# `nexusctl policy explain`: where the router sends one request, and why, for requests that
# exercise every branch of the decision (tests/assets/router/*.json).
set -euo pipefail
cd "$(dirname "$0")/.."
P=policies/nebula
R=tests/assets/router
OUT="${NEXUSCTL_DEMO_OUT:-out/demo}"
mkdir -p "$OUT"

step() { printf '\n\033[1m-- %s\033[0m\n' "$1"; }

step "matched route 'advice', complexity 0.65 raises the floor to mid (load 4)"
nexusctl policy explain "$P/retail-chat.yaml" --request "@$R/retail-advice-complex.json" --load 4

step "residency: a Canadian FAQ may only use ca-central"
nexusctl policy explain "$P/retail-chat.yaml" --request "@$R/retail-faq-ca.json"

step "cost cap eliminates Haiku; nothing in the small tier meets the 4 s SLO (SLO miss)"
nexusctl policy explain "$P/retail-chat.yaml" --request "@$R/retail-faq-long.json"

step "restricted bureau file on the on-prem Llama-2-70B at load 1: speculative decoding on"
nexusctl policy explain "$P/credit-underwriting.yaml" --request "@$R/credit-bureau-file.json" --load 1

step "the same request at load 32: speculation off (above disableAboveLoad 16)"
nexusctl policy explain "$P/credit-underwriting.yaml" --request "@$R/credit-bureau-file.json" --load 32

step "a longer bureau file at load 32 misses the 60 s SLO"
nexusctl policy explain "$P/credit-underwriting.yaml" --request "@$R/credit-bureau-file-long.json" --load 32

step "high-risk credit memo: routed, and escalated to the credit underwriters"
nexusctl policy explain "$P/credit-underwriting.yaml" --request "@$R/credit-memo-high-risk.json" --load 2

step "code assistant asked for audio: nothing eligible, refused with the reason"
nexusctl policy explain "$P/code-assistant.yaml" --request "@$R/code-audio-nothing-eligible.json" \
  --format json > "$OUT/explain-refusal.json"
python3 - "$OUT/explain-refusal.json" <<'PY'
import json
import sys

d = json.load(open(sys.argv[1]))["decision"]
print("outcome:", d["outcome"], "| reason:", d["reason"], "| rule:", d["escalation_rule"],
      "->", d["escalation_target"])
for c in d["candidates"]:
    print(f"  {c['deployment_id']:<24} {c['reason']}")
PY
echo "JSON decision written to $OUT/explain-refusal.json"
