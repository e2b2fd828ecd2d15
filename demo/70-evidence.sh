#!/usr/bin/env bash
# Evidence: the simulated decisions of demo 40 and a LiteLLM spend log ingested into a
# tamper-evident store; conformance of the real decisions to the policy live in prod (demo 60's
# registry), one deviation found; a report joined with the registry (who promoted and approved
# each policy version); a proof produced and verified offline; one record edited by hand and
# caught by `evidence verify` (exit 5, the record named).
set -euo pipefail
out="$NEXUSCTL_DEMO_OUT/evidence"
rm -rf "$out"
mkdir -p "$out"
store="$out/store"

echo "\$ nexusctl evidence keygen nebula.example/evidence -o $out/evidence.key"
nexusctl evidence keygen nebula.example/evidence -o "$out/evidence.key"
nexusctl evidence init "$store" --key "$out/evidence.key.vkey"

decisions="$NEXUSCTL_DEMO_OUT/retail-decisions.parquet"
if [ -f "$decisions" ]; then
  echo "\$ nexusctl evidence ingest $store $decisions --format simulate --environment staging"
  nexusctl evidence ingest "$store" "$decisions" --format simulate --environment staging \
    --key "$out/evidence.key"
else
  echo "($decisions is missing: run demo/40-simulate.sh first)"
fi
echo "\$ nexusctl evidence ingest $store tests/assets/traffic/litellm_spend.json --format litellm"
nexusctl evidence ingest "$store" tests/assets/traffic/litellm_spend.json --format litellm \
  --key "$out/evidence.key"

# One LiteLLM spend-log line from the prod gateway, just now: a public FAQ question from an
# EU customer, served by Azure's gpt-4o-mini. The policy live in prod routes such a request
# to the cheapest eligible small EU model, which is not that one: conformance finds it.
python - "$out/litellm-prod.json" <<'PY'
import datetime as dt
import json
import sys

now = dt.datetime.now(dt.UTC)
stamp = "%Y-%m-%dT%H:%M:%S.%fZ"
entry = {
    "request_id": "chatcmpl-prod-faq-0001",
    "call_type": "acompletion",
    "spend": 0.000178,
    "prompt_tokens": 420,
    "completion_tokens": 180,
    "total_tokens": 600,
    "startTime": now.strftime(stamp),
    "endTime": (now + dt.timedelta(milliseconds=812)).strftime(stamp),
    "model": "azure/eu/gpt-4o-mini-2024-07-18",
    "custom_llm_provider": "azure",
    "status": "success",
    "metadata": {
        "user_api_key_team_alias": "retail-banking",
        "tags": ["app:mobile-chat", "use_case:faq", "data_class:public", "residency:eu",
                 "risk:low", "complexity:0.1"],
    },
}
json.dump([entry], open(sys.argv[1], "w"), indent=2)
PY
echo "\$ nexusctl evidence ingest $store $out/litellm-prod.json --format litellm"
nexusctl evidence ingest "$store" "$out/litellm-prod.json" --format litellm --key "$out/evidence.key"

registry="$NEXUSCTL_DEMO_OUT/registry"
if [ -d "$registry/records" ]; then
  # LiteLLM logs carry no environment: these came from the prod gateway (--default-env).
  echo "\$ nexusctl evidence conformance $store --registry $registry --default-env prod"
  nexusctl evidence conformance "$store" --registry "$registry" --default-env prod
  code=0
  nexusctl evidence conformance "$store" --registry "$registry" --default-env prod \
    --fail-on-deviation >/dev/null 2>&1 || code=$?
  if [ "$code" -ne 6 ]; then
    echo "expected exit 6 from --fail-on-deviation, got $code" >&2
    exit 1
  fi
  echo "(--fail-on-deviation: exit 6, as a CI job would see it)"
  R=(--registry "$registry" --default-env prod)
else
  echo "($registry is missing: run demo/60-registry.sh first; the report goes without the join)"
  R=()
fi
nexusctl evidence report "$store" "${R[@]}" -f markdown -o "$out/report.md"
nexusctl evidence report "$store" "${R[@]}" -f html -o "$out/report.html"
nexusctl evidence report "$store" "${R[@]}" -f json -o "$out/report.json"
sed -n '/^## Signed policy versions/,/^## Decisions by route/p' "$out/report.md" | sed '$d'
nexusctl evidence query "$store" \
  "SELECT source, tenant, count(*) AS decisions, sum(cost_pusd) AS pusd FROM decisions GROUP BY ALL ORDER BY 1, 2"

id=$(nexusctl evidence query "$store" "SELECT min(request_id) AS id FROM decisions" -f csv | tail -1)
echo "\$ nexusctl evidence prove $store --request-id $id -o $out/proof.json"
nexusctl evidence prove "$store" --request-id "$id" -o "$out/proof.json"
nexusctl evidence verify-proof "$out/proof.json" --key "$out/evidence.key.vkey"
nexusctl evidence verify "$store" --key "$out/evidence.key.vkey"

echo "--- one record edited by hand (its cost set to 1 pico-USD), then verified again"
segment=$(find "$store/real/segments" -name 'seg-*.parquet' | sort | head -1)
python - "$segment" <<'PY'
import sys
import pyarrow as pa
import pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
rows = table.to_pylist()
rows[0]["nexus.cost.pusd"] = 1
pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), sys.argv[1])
PY
code=0
nexusctl evidence verify "$store" --key "$out/evidence.key.vkey" || code=$?
if [ "$code" -ne 5 ]; then
  echo "expected exit 5 from a tampered store, got $code" >&2
  exit 1
fi
echo "(exit 5: the edit was caught, as an auditor's CI job would see it)"
