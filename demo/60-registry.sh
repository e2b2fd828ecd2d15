#!/usr/bin/env bash
# The registry: retail-chat promoted dev -> staging -> prod in a git-backed registry, behind
# gates (signature + provenance, approvals, soak, a signed simulation against what is live);
# the v4 candidate refused at staging by its failing simulation (exit 6, the demo goes on); a
# rollback with its reason; what was live when; a gateway resolving prod with a TUF client;
# and a hand-edited record caught by `registry verify` (exit 5).
set -euo pipefail
out="${NEXUSCTL_DEMO_OUT:?run through demo/run.sh}"
reg="$out/registry"
work="$out/registry-demo"
pol=policies/nebula
rm -rf "$reg" "$work"
mkdir -p "$work/keys" "$work/src-v2"

say() { printf '\n\033[1m-- %s\033[0m\n' "$*"; }
# Print a command (an argument with spaces in quotes).
show() {
  local arg line='$'
  for arg in "$@"; do
    case "$arg" in *' '*) line+=" '$arg'" ;; *) line+=" $arg" ;; esac
  done
  echo "$line"
}
# Print a command, then run it.
run() {
  show "$@"
  "$@"
}
# Print a command, run it, and require the exit code it must end with (the demo goes on).
expect() {
  local want=$1 code=0
  shift
  show "$@"
  "$@" 2>&1 || code=$?
  if [ "$code" -ne "$want" ]; then
    echo "expected exit $want, got $code" >&2
    exit 1
  fi
  echo "(exit $code, as expected)"
}
# Build and sign one policy version into $work/retail-chat-vN; with more arguments, attest
# its provenance too (they say where it finds its source: --source FILE, or --no-source).
bundle() {
  local version=$1 source=$2
  shift 2
  nexusctl policy bundle "$source" -o "$work/retail-chat-v$version" >/dev/null
  nexusctl policy sign "$work/retail-chat-v$version" --key "$work/keys/release.pem" >/dev/null
  [ "$#" -eq 0 ] && { echo "retail-chat v$version: bundled and signed"; return; }
  nexusctl policy attest "$work/retail-chat-v$version" --provenance "$@" \
    --key "$work/keys/release.pem" >/dev/null
  echo "retail-chat v$version: bundled, signed and provenance-attested -> $work/retail-chat-v$version"
}

say "keys: an admin, the release key (signs bundles, publishes and promotes), two approvers"
for who in admin release alice bob; do
  nexusctl key generate --out "$work/keys/$who.pem" >/dev/null
done
ls "$work/keys"

# The trust policy that judges bundle signatures, one environment per registry environment
# (same shape as demo 50's): the release key signs; prod also requires provenance.
cat > "$work/keys/trust.yaml" <<'YAML'
apiVersion: nexuscore.io/v1
kind: TrustPolicy
metadata: {name: nebula-demo-trust, version: 1}
spec:
  environments:
    dev: {keys: [{id: release, path: release.pub}]}
    staging: {keys: [{id: release, path: release.pub}]}
    prod:
      keys: [{id: release, path: release.pub}]
      requiredAttestations: [provenance]
YAML

say "the registered traffic sample and promotion gates file (the config names them by digest)"
sample="$work/retail-sample.parquet"
gates="$work/retail-chat.promotion-gates.yaml"
nexusctl traffic synth --rows 20000 --seed 42 --policy "$pol/retail-chat.yaml" -o "$sample"
# What a promotion into staging or prod must meet against the version live there. It is the
# pull-request gate file (policies/nebula/gates/retail-chat.gates.yaml) without its absolute
# pgrMin floor: v3, live today, scores PGR ~0.14 on this synthetic sample, so that floor would
# block even a re-release of what is live; a promotion gate guards against regressions.
cat > "$gates" <<'YAML'
apiVersion: nexuscore.io/v1
kind: SimulationGates
metadata: {name: retail-chat-promotion-gates, version: 1}
spec:
  spendChangeMaxPct: 5
  changedDecisionsMaxPct: 5
  residencyViolationsMax: 0
  frontierShareMaxPct: 5
  sloAttainmentDropMaxPoints: 1
YAML
sha256() { python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"; }
sample_sha=$(sha256 "$sample")
gates_sha=$(sha256 "$gates")
echo "traffic sample sha256 $sample_sha"
echo "gates file     sha256 $gates_sha"

pem() { sed 's/^/        /' "$work/keys/$1.pub"; }
cat > "$work/registry.yaml" <<YAML
apiVersion: nexuscore.io/v1
kind: RegistryConfig
metadata: {name: nebula-demo, version: 1}
spec:
  keys:
    - id: admin
      pem: |
$(pem admin)
    - id: release
      pem: |
$(pem release)
    - id: alice
      pem: |
$(pem alice)
    - id: bob
      pem: |
$(pem bob)
  admins: {keys: [admin], threshold: 1}
  releasers: [release]
  environments:
    - name: dev
      trustEnvironment: dev
      gates: [signature]
    - name: staging
      trustEnvironment: staging
      gates: [order, signature, simulation, approvals, freeze]
      approvers: {keys: [alice, bob], threshold: 1}
      trafficSamples: [{name: retail-sample, sha256: $sample_sha, location: $sample}]
      gatesSha256: $gates_sha
    - name: prod
      trustEnvironment: prod           # all six gates (the default)
      approvers: {keys: [alice, bob], threshold: 2}
      soakSeconds: 1                   # a demo soak; a bank would say 86400
      trafficSamples: [{name: retail-sample, sha256: $sample_sha, location: $sample}]
      gatesSha256: $gates_sha
YAML

say "bundles: v2 (the release before v3: no FAQ frontier guardrail), v3 (live policy), v4 (candidate)"
# v2 is v3 without its 'no-frontier-for-public-faq' guardrail (the faq route allows only the
# small tier anyway, so no decision changes) and with metadata.version 2.
cp "$pol/catalog.yaml" "$work/src-v2/"
cp -r "$pol/prices" "$work/src-v2/"
python3 - "$pol/retail-chat.yaml" "$work/src-v2/retail-chat.yaml" <<'PY'
import re
import sys

text = open(sys.argv[1]).read()
text = text.replace("\n  version: 3\n", "\n  version: 2\n", 1)
guard = re.compile(r"    - id: no-frontier-for-public-faq\n(      .*\n|        .*\n)+")
text, count = guard.subn("", text, count=1)
assert count == 1, "the v3 guardrail to drop was not found"
open(sys.argv[2], "w").write(text)
PY
bundle 2 "$work/src-v2/retail-chat.yaml" --no-source # derived above, not a file in git
bundle 3 "$pol/retail-chat.yaml" --source "$pol/retail-chat.yaml"
bundle 4 "$pol/retail-chat.candidate.yaml" # never meant for prod: no provenance needed

say "init: config v1 signed by the admin; the trust policy copied in"
run nexusctl registry init "$reg" --config "$work/registry.yaml" --trust "$work/keys/trust.yaml" \
  --key "$work/keys/admin.pem"
R=(-r "$reg")
K=(--key "$work/keys/release.pem")

say "v2 goes live everywhere (nothing is live yet, so no simulation is due)"
nexusctl registry publish "$work/retail-chat-v2" "${K[@]}" "${R[@]}" >/dev/null
nexusctl registry promote retail-chat@2 --to dev "${K[@]}" "${R[@]}" >/dev/null
nexusctl registry approve retail-chat@2 --env staging --key "$work/keys/alice.pem" "${R[@]}" >/dev/null
nexusctl registry promote retail-chat@2 --to staging "${K[@]}" "${R[@]}" >/dev/null
nexusctl registry approve retail-chat@2 --env prod --key "$work/keys/alice.pem" "${R[@]}" >/dev/null
nexusctl registry approve retail-chat@2 --env prod --key "$work/keys/bob.pem" "${R[@]}" >/dev/null
sleep 1 # prod's soak: live in staging for at least 1 s
nexusctl registry promote retail-chat@2 --to prod "${K[@]}" "${R[@]}" >/dev/null
run nexusctl registry status "${R[@]}"

say "v3: published, then simulated against v2 (live in staging and prod) and the attestation signed"
run nexusctl registry publish "$work/retail-chat-v3" "${K[@]}" "${R[@]}"
run nexusctl simulate --baseline "$work/retail-chat-v2" --candidate "$work/retail-chat-v3" \
  --traffic "$sample" --gates "$gates" --format markdown -o "$work/v3-vs-v2.md" \
  --attest "$work/v3-vs-v2.sigstore.json" "${K[@]}"

say "v3: dev -> staging -> prod, each gate's verdict recorded"
run nexusctl registry promote retail-chat@3 --to dev "${K[@]}" "${R[@]}"
run nexusctl registry approve retail-chat@3 --env staging --key "$work/keys/alice.pem" "${R[@]}"
run nexusctl registry promote retail-chat@3 --to staging "${K[@]}" "${R[@]}" \
  --attestation "$work/v3-vs-v2.sigstore.json"
run nexusctl registry approve retail-chat@3 --env prod --key "$work/keys/alice.pem" "${R[@]}"
run nexusctl registry approve retail-chat@3 --env prod --key "$work/keys/bob.pem" "${R[@]}"
sleep 1 # prod's soak
run nexusctl registry promote retail-chat@3 --to prod "${K[@]}" "${R[@]}" \
  --attestation "$work/v3-vs-v2.sigstore.json"
sleep 1
v3_live_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)

say "v4 candidate: in dev, approved for staging, but its simulation against v3 fails a gate"
nexusctl registry publish "$work/retail-chat-v4" "${K[@]}" "${R[@]}" >/dev/null
nexusctl registry promote retail-chat@4 --to dev "${K[@]}" "${R[@]}" >/dev/null
nexusctl registry approve retail-chat@4 --env staging --key "$work/keys/alice.pem" "${R[@]}" >/dev/null
expect 6 nexusctl simulate --baseline "$work/retail-chat-v3" --candidate "$work/retail-chat-v4" \
  --traffic "$sample" --gates "$gates" --format markdown -o "$work/v4-vs-v3.md" \
  --attest "$work/v4-vs-v3.sigstore.json" "${K[@]}"
echo "# The attestation is signed even though a gate failed; the registry reads its verdict:"
expect 6 nexusctl registry promote retail-chat@4 --to staging "${K[@]}" "${R[@]}" \
  --attestation "$work/v4-vs-v3.sigstore.json"

say "rollback: prod back to v2, with two rollback approvals and a reason (a new forward record)"
run nexusctl registry approve retail-chat@2 --env prod --purpose rollback \
  --key "$work/keys/alice.pem" "${R[@]}"
run nexusctl registry approve retail-chat@2 --env prod --purpose rollback \
  --key "$work/keys/bob.pem" "${R[@]}"
run nexusctl registry rollback retail-chat --env prod --to 2 "${K[@]}" "${R[@]}" \
  --reason "FAQ complaints since v3 went live; back to v2 while retail-ops investigates"
run nexusctl registry status "${R[@]}"

say "what was live in prod at $v3_live_at, who promoted it, on which evidence"
run nexusctl registry history --env prod --at "$v3_live_at" "${R[@]}"
run nexusctl registry history --env prod --name retail-chat "${R[@]}"

say "what differs between environments, route by route (dev runs the v4 candidate)"
run nexusctl registry diff dev staging "${R[@]}"
run nexusctl registry diff staging prod "${R[@]}"

say "a gateway resolves prod's retail-chat with python-tuf's client (root copied out of band)"
mkdir -p "$work/gateway"
cp "$reg/tuf/prod/metadata/1.root.json" "$work/gateway/root.json"
run nexusctl registry resolve prod retail-chat --from "$reg" --state "$work/gateway/tuf" \
  --root "$work/gateway/root.json"

say "verify the whole history, then catch a record edited by hand (and committed)"
run nexusctl registry verify "${R[@]}" --state "$work/verified.json"
git clone --quiet "$reg" "$work/registry-tampered"
last=$(find "$work/registry-tampered/records" -name '*.json' | sort | tail -n 1)
python3 - "$last" <<'PY'
import base64
import json
import sys

path = sys.argv[1]
record = json.load(open(path))
envelope = record["dsseEnvelope"]
statement = json.loads(base64.b64decode(envelope["payload"]))
statement["predicate"]["reason"] = "routine change"
envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
json.dump(record, open(path, "w"))
print(f"edited the rollback's reason in {path}")
PY
git -C "$work/registry-tampered" -c user.name=mallory -c user.email=mallory@example.invalid \
  commit --quiet -am "records: tidy wording"
expect 5 nexusctl registry verify -r "$work/registry-tampered"
