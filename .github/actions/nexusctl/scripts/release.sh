#!/usr/bin/env bash
# The merge half of the policy gate: bundle each changed policy, sign it, attest its SLSA
# provenance, then publish it to the registry and promote it through ENVIRONMENT, in order,
# as far as the registry's gates allow: before each promotion the bundle is simulated against
# what is live there on TRAFFIC with GATES (the registered sample and gates file) and the
# signed routing-diff attestation is handed to the promotion. A gate that refuses (exit 6:
# approvals not yet given, a soak not over, a failed simulation) ends the promotion there
# without failing the job; anything else fails it. In GitHub Actions, signing is keyless with
# the workflow's OIDC identity (the job needs `id-token: write`); SIGN_ARGS overrides that
# (one argument per line, e.g. --key FILE).
#
# Environment:
#   POLICIES     policy files/folders, space-separated (default: policies)
#   BEFORE_REF   the commit before the merge (changed policies are diffed against it)
#   OUT          where bundles go (default: nexusctl-out)
#   SIGN_ARGS    signing mode for `policy sign` / `policy attest` (default: --keyless)
#   REGISTRY     the registry clone (a git work tree with a remote); empty: stop after signing
#   REGISTRY_KEY the releaser's registry key file (PEM, mode 600), required with REGISTRY
#   ENVIRONMENT  environments to promote through, space-separated, in order (e.g. "dev
#                staging"); empty: publish only
#   TRAFFIC      the registered traffic sample (Parquet) for the routing-diff attestation;
#                empty: each environment's sample kept in the registry (`nexusctl registry
#                sample`, digest checked), when it keeps one
#   GATES        the registered SimulationGates file (optional)
set -euo pipefail
policies="${POLICIES:-policies}"
out="${OUT:-nexusctl-out}"
: "${BEFORE_REF:?BEFORE_REF (the commit before the merge) is required}"
read -r -a policy_paths <<< "$policies"
sign_args=()
while IFS= read -r line; do
  [ -n "$line" ] && sign_args+=("$line")
done <<< "${SIGN_ARGS:---keyless}"
mkdir -p "$out/bundles"

# Succeed when a version of policy $2 is live in environment $1 (the registry's record log).
is_live() {
  nexusctl registry status --registry "$REGISTRY" --format json | python3 -c 'import json, sys
env, name = sys.argv[1], sys.argv[2]
doc = json.load(sys.stdin)
live = next((e["live"] for e in doc["environments"] if e["name"] == env), {})
sys.exit(0 if name in live else 1)' "$1" "$2"
}

# Promote bundle $2 (NAME@VERSION $1) to environment $3; return 1 when a gate refused it.
promote() {
  local ref=$1 bundle=$2 env=$3 name=${1%@*} rc=0 live attestation=() traffic=${TRAFFIC:-}
  if [ -z "$traffic" ] && is_live "$env" "$name"; then
    traffic="$(nexusctl registry sample "$env" --registry "$REGISTRY" --format json \
      2> "$out/sample.err")" || rc=$?
    case "$rc" in
      0) traffic="$(printf '%s' "$traffic" | python3 -c 'import json, sys
print(json.load(sys.stdin)["path"])')" ;;
      2) traffic="" ;;  # none kept in the registry: the promotion's own gates decide
      *) cat "$out/sample.err" >&2; exit "$rc" ;;
    esac
    rc=0
  fi
  if [ -n "$traffic" ] && is_live "$env" "$name"; then
    # What is live there, fetched and checked by the registry's TUF client.
    live="$(nexusctl registry resolve "$env" "$name" --from "$REGISTRY" \
      --state "$out/tuf-client/$env" --format json | python3 -c 'import json, sys
print(json.load(sys.stdin)["path"])')"
    gate_args=()
    [ -n "${GATES:-}" ] && gate_args=(--gates "$GATES")
    nexusctl simulate --baseline "$live" --candidate "$bundle" --traffic "$traffic" \
      "${gate_args[@]}" --format markdown --output "$out/bundles/$name.$env.md" \
      --attest "$out/bundles/$name.$env.routing-diff.sigstore.json" "${sign_args[@]}" || rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -eq 6 ] || exit "$rc"
    attestation=(--attestation "$out/bundles/$name.$env.routing-diff.sigstore.json")
  fi
  rc=0
  nexusctl registry promote "$ref" --registry "$REGISTRY" --to "$env" --key "$REGISTRY_KEY" \
    "${attestation[@]}" || rc=$?
  case "$rc" in
    0) return 0 ;;
    6) echo "$ref stays out of $env: a promotion gate refused it (see above)"; return 1 ;;
    *) exit "$rc" ;;
  esac
}

changed=()
while IFS= read -r path; do
  case "$path" in *.yaml | *.yml) ;; *) continue ;; esac
  [ -f "$path" ] && grep -qE '^kind:[[:space:]]*RoutingPolicy[[:space:]]*$' "$path" && changed+=("$path")
done < <(git diff --name-only --diff-filter=AMR "$BEFORE_REF" HEAD -- "${policy_paths[@]}")
echo "changed policies: ${changed[*]:-(none)}"

for policy in "${changed[@]}"; do
  name="$(basename "$policy")"
  bundle="$out/bundles/${name%.*}"
  rm -rf "$bundle"
  nexusctl policy bundle "$policy" --output "$bundle"
  nexusctl policy sign "$bundle" "${sign_args[@]}"
  nexusctl policy attest "$bundle" --provenance --source "$policy" "${sign_args[@]}"
  nexusctl policy inspect "$bundle" # what was signed, for the job log
  if [ -n "${REGISTRY:-}" ]; then
    if ! nexusctl registry --help > /dev/null 2>&1; then
      echo "REGISTRY is set but this nexusctl has no 'registry' commands" >&2
      exit 4
    fi
    : "${REGISTRY_KEY:?REGISTRY is set, so REGISTRY_KEY must name the releaser registry key file}"
    published="$(nexusctl registry publish "$bundle" --registry "$REGISTRY" --key "$REGISTRY_KEY" --format json)"
    # NAME@VERSION of what was just published, read from the signed record's JSON.
    ref="$(printf '%s' "$published" | python3 -c 'import json, sys
b = json.load(sys.stdin)["predicate"]["bundle"]
print(b["name"] + "@" + str(b["version"]))')"
    echo "published $ref"
    read -r -a environments <<< "${ENVIRONMENT:-}"
    for env in "${environments[@]}"; do
      promote "$ref" "$bundle" "$env" || break
    done
  fi
done
