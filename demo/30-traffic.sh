#!/usr/bin/env bash
# Recorded traffic: import the real Azure code trace (completed by a declared, seeded
# enrichment spec and joined with RouteLLM's GSM8K quality labels), inspect it, and
# synthesise a bursty, heavy-tailed mix over the Nebula policies for the replay steps.
set -euo pipefail
out="${NEXUSCTL_DEMO_OUT:?run through demo/run.sh}"
data="${NEXUSCTL_SHARED_DATA:-../shared/data}"

nexusctl traffic import azure "$data/traces/azure_llm_inference_code_2023.csv" \
  --enrich policies/nebula/enrichment/azure-code.yaml \
  --quality "$data/quality/routellm_gsm8k_responses.csv" --quality-format routellm-gsm8k \
  -o "$out/azure-code.parquet"
nexusctl traffic inspect "$out/azure-code.parquet"

nexusctl traffic synth --rows 100000 --seed 42 -o "$out/synth.parquet"
nexusctl traffic inspect "$out/synth.parquet"
