#!/usr/bin/env bash
# The merge half of the policy gate: bundle each changed policy, sign it, attest its SLSA
# provenance, then publish it to the registry and promote it as far as the registry's gates
# allow. In GitHub Actions, signing is keyless with the workflow's OIDC identity (the job
# needs `id-token: write`); SIGN_ARGS overrides that (one argument per line, e.g. --key FILE).
#
# Environment:
#   POLICIES     policy files/folders, space-separated (default: policies)
#   BEFORE_REF   the commit before the merge (changed policies are diffed against it)
#   OUT          where bundles go (default: nexusctl-out)
#   SIGN_ARGS    signing mode for `policy sign` / `policy attest` (default: --keyless)
#   REGISTRY     the registry clone (a git work tree with a remote); empty: stop after signing
#   REGISTRY_KEY the releaser's registry key file (PEM, mode 600), required with REGISTRY
#   ENVIRONMENT  the environment to promote to after publishing (empty: publish only)
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
    if [ -n "${ENVIRONMENT:-}" ]; then
      nexusctl registry promote "$ref" --registry "$REGISTRY" --to "$ENVIRONMENT" --key "$REGISTRY_KEY"
    fi
  fi
done
