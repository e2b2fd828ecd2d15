#!/usr/bin/env bash
# The pull-request half of the policy gate: lint -> SARIF, simulate each changed policy
# against what is live in the target environment (from the registry, with its TUF client) or,
# without a registry, against its version on the base commit -> Markdown -> job summary and
# sticky comment.
# The reusable workflow (.github/workflows/policy-gate.yml) and the GitLab example run this
# same script; tests/e2e/test_ci_pipeline.py runs it on a real two-commit repository.
#
# Environment (all plain strings; nothing here is evaluated by a shell):
#   POLICIES        policy files/folders, space-separated (default: policies)
#   TRAFFIC         recorded traffic (Parquet) to replay; empty: the target environment's
#                   registered sample kept in the registry (`nexusctl registry sample`, its
#                   SHA-256 checked against the registry config; a changed file is refused)
#   REGISTRY        a registry clone to take that sample from (default: REGISTRY_URL when it
#                   is a folder)
#   GATES           a SimulationGates file                           (optional)
#   BASE_REF        the commit the change is compared with           (required)
#   REGISTRY_URL    the registry to read what is live from: a registry folder or the HTTP
#                   base URL serving its tuf/<env>/ (optional; empty: the base commit's
#                   version is the baseline)
#   REGISTRY_ROOT   the registry's trusted 1.root.json for ENVIRONMENT (needed over HTTP;
#                   for a folder, trust on first use of the folder's own root)
#   ENVIRONMENT     the environment whose live version is the baseline (default: prod; with
#                   several, space-separated, the last one)
#   OUT             where reports go                   (default: nexusctl-out)
#   COMMENT_PLATFORM github | gitlab | empty (no comment); with it COMMENT_REPO,
#                   COMMENT_NUMBER, COMMENT_API_URL, COMMENT_REPORT_URL and the token variable
#                   that `nexusctl ci comment` reads (GITHUB_TOKEN / GITLAB_TOKEN)
#   GITHUB_STEP_SUMMARY  when set, every report is appended to the job summary
#
# Exit: 0 clean, 1 lint findings, 6 a gate failed (after every report is posted), other
# codes as nexusctl's (3 invalid input, 4 could not run).
set -euo pipefail
policies="${POLICIES:-policies}"
out="${OUT:-nexusctl-out}"
: "${BASE_REF:?BASE_REF (the base commit) is required}"
mkdir -p "$out/reports"
read -r -a policy_paths <<< "$policies"

lint_rc=0
nexusctl policy lint "${policy_paths[@]}" --format sarif > "$out/lint.sarif" || lint_rc=$?
if [ -n "${GITHUB_ACTIONS:-}" ]; then
  nexusctl policy lint "${policy_paths[@]}" --format github || true
else
  nexusctl policy lint "${policy_paths[@]}" || true
fi
if [ -s "$out/lint.sarif" ] && [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "sarif=$out/lint.sarif" >> "$GITHUB_OUTPUT"  # for the code-scanning upload step
fi
if [ "$lint_rc" -gt 1 ]; then
  echo "nexusctl policy lint could not run (exit $lint_rc)" >&2
  exit "$lint_rc"
fi

changed=()
while IFS= read -r path; do
  case "$path" in *.yaml | *.yml) ;; *) continue ;; esac
  [ -f "$path" ] && grep -qE '^kind:[[:space:]]*RoutingPolicy[[:space:]]*$' "$path" && changed+=("$path")
done < <(git diff --name-only --diff-filter=AMR "$BASE_REF"...HEAD -- "${policy_paths[@]}")
echo "changed policies: ${changed[*]:-(none)}"

base="$out/base"
if [ "${#changed[@]}" -gt 0 ] && [ -z "${REGISTRY_URL:-}" ]; then
  rm -rf "$base"
  git worktree add --quiet --detach "$base" "$BASE_REF"
  trap 'git worktree remove --force "$base" >/dev/null 2>&1 || true' EXIT
fi
read -r -a environments <<< "${ENVIRONMENT:-prod}"
target_env="${environments[${#environments[@]}-1]}"

# The traffic to replay: TRAFFIC, or (looked up once, when a simulation is due) the target
# environment's registered sample, kept in the registry and checked against its SHA-256.
traffic="${TRAFFIC:-}"
find_traffic() {
  local samples="${REGISTRY:-}" sample rc=0
  [ -n "$traffic" ] && return 0
  [ -z "$samples" ] && [ -d "${REGISTRY_URL:-}" ] && samples="$REGISTRY_URL"
  if [ -z "$samples" ]; then
    echo "TRAFFIC is required: no registry folder (REGISTRY) to take the sample registered" \
      "for $target_env from" >&2
    exit 2
  fi
  sample="$(nexusctl registry sample "$target_env" --registry "$samples" --format json)" \
    || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "no usable traffic sample registered for $target_env (exit $rc)" >&2
    exit "$rc"
  fi
  traffic="$(printf '%s' "$sample" | python3 -c 'import json, sys
print(json.load(sys.stdin)["path"])')"
  echo "traffic: the sample registered for $target_env, digest checked ($traffic)"
}

# Set `baseline` to what the change is compared with, or to "" when there is none.
find_baseline() {
  local policy=$1 name rc=0 resolved err
  baseline=""
  if [ -z "${REGISTRY_URL:-}" ]; then
    [ -f "$base/$policy" ] && baseline="$base/$policy"
    return 0
  fi
  name="$(nexusctl policy show "$policy" --format json | python3 -c 'import json, sys
print(json.load(sys.stdin)["policy"]["name"])')"
  if [ -d "$REGISTRY_URL/.git" ] && ! nexusctl registry status --registry "$REGISTRY_URL" \
    --format json | python3 -c 'import json, sys
env, name = sys.argv[1], sys.argv[2]
live = next((e["live"] for e in json.load(sys.stdin)["environments"] if e["name"] == env), {})
sys.exit(0 if name in live else 1)' "$target_env" "$name"; then
    # A registry clone can say "nothing live" even for an environment nothing was ever
    # promoted to (no TUF metadata to resolve yet).
    echo "baseline for $policy: nothing named $name is live in $target_env"
    return 0
  fi
  root_args=()
  [ -n "${REGISTRY_ROOT:-}" ] && root_args=(--root "$REGISTRY_ROOT")
  err="$out/resolve.err"
  resolved="$(nexusctl registry resolve "$target_env" "$name" --from "$REGISTRY_URL" \
    --state "$out/tuf-client/$target_env" "${root_args[@]}" --format json 2> "$err")" || rc=$?
  if [ "$rc" -eq 0 ]; then
    baseline="$(printf '%s' "$resolved" | python3 -c 'import json, sys
print(json.load(sys.stdin)["path"])')"
    echo "baseline for $policy: $name live in $target_env, from the registry"
  elif [ "$rc" -eq 5 ] && grep -q "is not live in" "$err"; then
    echo "baseline for $policy: nothing named $name is live in $target_env"
  else
    cat "$err" >&2
    echo "nexusctl registry resolve failed for $name (exit $rc)" >&2
    exit "$rc"
  fi
}

gate_rc=0
for policy in "${changed[@]}"; do
  name="$(basename "$policy")"
  name="${name%.*}"
  tag="$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '-' | cut -c1-64)"
  report="$out/reports/$tag.md"
  find_baseline "$policy"
  if [ -z "$baseline" ]; then
    where="on the base commit"
    [ -n "${REGISTRY_URL:-}" ] && where="live in $target_env"
    printf '## New policy `%s`\n\nNo version %s to compare with.\n' "$policy" "$where" \
      > "$report"
  else
    find_traffic
    gate_args=()
    [ -n "${GATES:-}" ] && gate_args=(--gates "$GATES")
    rc=0
    nexusctl simulate --baseline "$baseline" --candidate "$policy" --traffic "$traffic" \
      "${gate_args[@]}" --allow-catalog-change --format markdown --output "$report" || rc=$?
    case "$rc" in
      0) ;;
      6) gate_rc=6 ;;
      *) echo "nexusctl simulate failed on $policy (exit $rc)" >&2; exit "$rc" ;;
    esac
  fi
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    cat "$report" >> "$GITHUB_STEP_SUMMARY"
  fi
  if [ -n "${COMMENT_PLATFORM:-}" ]; then
    url_args=()
    [ -n "${COMMENT_REPORT_URL:-}" ] && url_args=(--report-url "$COMMENT_REPORT_URL")
    nexusctl ci comment "$report" --platform "$COMMENT_PLATFORM" --repo "$COMMENT_REPO" \
      --pr "$COMMENT_NUMBER" --api-url "$COMMENT_API_URL" --tag "$tag" "${url_args[@]}"
  fi
done

if [ "$gate_rc" -ne 0 ]; then
  echo "a simulation gate failed (exit 6)" >&2
  exit 6
fi
exit "$lint_rc"
