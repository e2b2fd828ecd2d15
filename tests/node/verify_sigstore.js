// Verify a Sigstore bundle (DSSE) offline with sigstore-js's @sigstore/verify.
//
//   node verify_sigstore.js BUNDLE.json --key PUBLIC.pem
//   node verify_sigstore.js BUNDLE.json --root trusted_root.json --san IDENTITY --issuer URL
//
// Key mode: an empty trusted root, the key given to keyFinder, no log/timestamp thresholds
// (a self-managed key has neither). Keyless mode: the given trusted root, one tlog entry and
// one SCT required, and the identity policy. Prints "OK" (exit 0) or "FAIL <code> <message>"
// (exit 1). Written by nexusctl for its interop tests.
'use strict';

const fs = require('fs');
const crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

function args(argv) {
  const out = { bundle: argv[0] };
  for (let i = 1; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

function emptyRoot() {
  return TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [],
  });
}

function main() {
  const opts = args(process.argv.slice(2));
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(opts.bundle, 'utf8')));
  const entity = toSignedEntity(bundle);
  let verifier;
  let policy;
  if (opts.key) {
    const publicKey = crypto.createPublicKey(fs.readFileSync(opts.key, 'utf8'));
    const keyFinder = () => ({ publicKey, validFor: () => true });
    verifier = new Verifier(toTrustMaterial(emptyRoot(), keyFinder), {
      tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0,
    });
  } else {
    const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(opts.root, 'utf8')));
    verifier = new Verifier(toTrustMaterial(root), {
      tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1,
    });
    policy = { subjectAlternativeName: opts.san, extensions: { issuer: opts.issuer } };
  }
  verifier.verify(entity, policy);
  process.stdout.write('OK\n');
}

try {
  main();
} catch (err) {
  process.stdout.write(`FAIL ${err.code || err.name} ${err.message}\n`);
  process.exit(1);
}
