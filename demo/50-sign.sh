#!/usr/bin/env bash
# Bundle, sign, attest and verify a policy offline; then show a tampered bundle being caught.
set -euo pipefail
out="$NEXUSCTL_DEMO_OUT/sign"
rm -rf "$out"
mkdir -p "$out"

echo "\$ nexusctl key generate --out $out/release.pem"
nexusctl key generate --out "$out/release.pem"

echo
echo "\$ nexusctl policy bundle policies/nebula/retail-chat.yaml -o $out/retail-chat"
nexusctl policy bundle policies/nebula/retail-chat.yaml -o "$out/retail-chat"

echo
echo "\$ nexusctl policy sign $out/retail-chat --key $out/release.pem"
nexusctl policy sign "$out/retail-chat" --key "$out/release.pem"

echo
echo "\$ nexusctl policy attest $out/retail-chat --provenance --source policies/nebula/retail-chat.yaml --key $out/release.pem"
nexusctl policy attest "$out/retail-chat" --provenance --source policies/nebula/retail-chat.yaml \
  --key "$out/release.pem"

cat > "$out/trust.yaml" <<'YAML'
# Who may sign Nebula's routing policies, per environment (demo: one local release key).
apiVersion: nexuscore.io/v1
kind: TrustPolicy
metadata:
  name: nebula-demo-trust
  version: 1
spec:
  defaultEnvironment: prod
  environments:
    prod:
      keys:
        - id: release
          path: release.pub
      requiredAttestations: [provenance]
YAML

echo
echo "\$ nexusctl policy verify $out/retail-chat --trust $out/trust.yaml --env prod"
nexusctl policy verify "$out/retail-chat" --trust "$out/trust.yaml" --env prod

echo
echo "# The other example policies, same steps:"
for name in code-assistant credit-underwriting; do
  nexusctl policy bundle "policies/nebula/$name.yaml" -o "$out/$name" >/dev/null
  nexusctl policy sign "$out/$name" --key "$out/release.pem" >/dev/null
  nexusctl policy attest "$out/$name" --provenance --source "policies/nebula/$name.yaml" \
    --key "$out/release.pem" >/dev/null
  result=$(nexusctl policy verify "$out/$name" --trust "$out/trust.yaml")
  echo "${result%%$'\n'*}"
done

echo
echo "# Tamper: edit the bundled policy after it was signed."
cp -r "$out/retail-chat" "$out/retail-chat-tampered"
printf '# edited after signing\n' >> "$out/retail-chat-tampered/retail-chat.yaml"
echo "\$ nexusctl policy verify $out/retail-chat-tampered --trust $out/trust.yaml"
set +e
nexusctl policy verify "$out/retail-chat-tampered" --trust "$out/trust.yaml" 2>&1
code=$?
set -e
if [ "$code" -ne 5 ]; then
  echo "expected exit 5 (verification failed), got $code" >&2
  exit 1
fi
echo "(exit $code: verification failed, as it must)"
