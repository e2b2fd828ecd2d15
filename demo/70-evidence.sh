#!/usr/bin/env bash
# Evidence: the simulated decisions of demo 40 and a LiteLLM spend log ingested into a
# tamper-evident store; a report; a proof produced and verified offline; one record edited by
# hand and caught by `evidence verify` (exit 5, the record named).
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

nexusctl evidence report "$store" -f markdown -o "$out/report.md"
nexusctl evidence report "$store" -f html -o "$out/report.html"
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
