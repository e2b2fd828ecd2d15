#!/usr/bin/env bash
# The catalog's prices are imported, not typed: check them against the LiteLLM price table
# they name (exit 1 if any drifted), and check that the committed JSON Schemas and the policy
# reference still match the models they are generated from.
set -euo pipefail
out="${NEXUSCTL_DEMO_OUT:?run through demo/run.sh}"

nexusctl catalog prices policies/nebula/catalog.yaml --from litellm --check
nexusctl catalog prices policies/nebula/catalog.yaml --from litellm --format json \
  > "$out/catalog-prices.json"
nexusctl schema export --check
nexusctl schema docs --check
