"""A small fake Sigstore (Fulcio + Rekor v1 + OIDC discovery) on 127.0.0.1, for tests only.

It does what the real services do for a client, with keys made on start-up:

- ``POST /api/v2/signingCert`` (Fulcio): checks the bearer JWT as Fulcio does (signature by
  a key it trusts for the token's issuer, audience ``sigstore``, lifetime), checks the CSR's
  proof of possession, and issues a short-lived code-signing leaf with the SAN Fulcio derives
  from the token (GitHub Actions: the ``job_workflow_ref`` URI), the Fulcio issuer extensions,
  for GitHub tokens the source-repository extensions Fulcio derives from the ``repository``,
  ``sha`` and ``ref`` claims (sigstore/fulcio docs/oid-info.md: ``.1.12`` Source Repository
  URI = server URL + repository, ``.1.13`` digest, ``.1.14`` ref), and an embedded RFC 6962 SCT.
- ``POST /api/v1/log/entries`` (Rekor v1): turns a ``dsse`` or ``hashedrekord`` proposal into
  an entry, signs its Signed Entry Timestamp and a checkpoint (C2SP signed note) for a
  one-leaf tree, and returns the inclusion proof.
- ``GET /.well-known/openid-configuration``: OIDC discovery, for clients that look it up.

``trusted_root()`` / ``client_trust_config()`` give the JSON a client needs to sign and verify.
The checkpoint signer name is ``host:port`` because sigstore-js requires it to be part of the
log's base URL.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

ISSUER = "https://issuer.nexus.test"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
#: The HS256 secret ``make_token`` signs with; the fake Fulcio checks it for other issuers.
TOKEN_SECRET = "fake-oidc-secret-" + "k" * 32
OID_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OID_SOURCE_REPOSITORY_URI = ObjectIdentifier("1.3.6.1.4.1.57264.1.12")
OID_SOURCE_REPOSITORY_DIGEST = ObjectIdentifier("1.3.6.1.4.1.57264.1.13")
OID_SOURCE_REPOSITORY_REF = ObjectIdentifier("1.3.6.1.4.1.57264.1.14")
OID_SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
VALID_FROM = "2020-01-01T00:00:00Z"


def make_token(identity: str, issuer: str = ISSUER, lifetime_s: int = 600) -> str:
    """Return an OIDC-shaped JWT signed with ``TOKEN_SECRET`` (HS256)."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {
        "iss": issuer,
        "sub": identity,
        "email": identity,
        "email_verified": True,
        "aud": "sigstore",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_s,
    }
    return jwt.encode(claims, TOKEN_SECRET, algorithm="HS256")


def _spki_der(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _der_octet_string(data: bytes) -> bytes:
    length = len(data)
    if length < 0x80:
        header = bytes([0x04, length])
    elif length < 0x100:
        header = bytes([0x04, 0x81, length])
    else:
        header = bytes([0x04, 0x82]) + struct.pack(">H", length)
    return header + data


def _der_utf8(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 0x10000
    if len(data) < 0x80:
        return bytes([0x0C, len(data)]) + data
    if len(data) < 0x100:
        return bytes([0x0C, 0x81, len(data)]) + data
    return bytes([0x0C, 0x82]) + struct.pack(">H", len(data)) + data


class FakeSigstore:
    """Fulcio + Rekor v1 + OIDC discovery on an ephemeral 127.0.0.1 port."""

    def __init__(self) -> None:
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.log_key = ec.generate_private_key(ec.SECP256R1())
        self.ct_log_id = hashlib.sha256(_spki_der(self.ct_key.public_key())).digest()
        self.log_id = hashlib.sha256(_spki_der(self.log_key.public_key())).digest()
        self.root = self._make_root()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.entries = 0
        self.requests: list[str] = []
        #: Issuer URL -> the public key its tokens must be signed with (ES256), as Fulcio
        #: fetches an issuer's JWKS; issuers not listed must use ``TOKEN_SECRET`` (HS256).
        self.issuer_keys: dict[str, ec.EllipticCurvePublicKey] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeSigstore:
        """Serve on 127.0.0.1 (ephemeral port) in a daemon thread."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                fake.requests.append(f"GET {self.path}")
                if self.path == "/.well-known/openid-configuration":
                    self._reply(200, fake.openid_configuration())
                else:
                    self._reply(404, {"message": "not found"})

            def do_POST(self) -> None:
                fake.requests.append(f"POST {self.path}")
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                try:
                    if self.path == "/api/v2/signingCert":
                        auth = self.headers.get("Authorization", "")
                        self._reply(201, fake.issue_certificate(body, auth))
                    elif self.path == "/api/v1/log/entries":
                        self._reply(201, fake.log_entry(body))
                    else:
                        self._reply(404, {"message": "not found"})
                except ValueError as exc:
                    self._reply(400, {"message": str(exc)})

            def _reply(self, status: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and join its thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    @property
    def host_port(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"

    # -- trust material --------------------------------------------------------------------

    def trusted_root(self) -> dict[str, Any]:
        """The Sigstore TrustedRoot JSON for this instance (started: URLs name its port)."""
        return self._trusted_root(self.url)

    def trusted_root_offline(self) -> dict[str, Any]:
        """The TrustedRoot JSON of an instance that was never started (its keys only)."""
        return self._trusted_root("http://127.0.0.1:9")

    def _trusted_root(self, url: str) -> dict[str, Any]:

        def key(public: ec.EllipticCurvePublicKey) -> dict[str, Any]:
            return {
                "rawBytes": _b64(_spki_der(public)),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": VALID_FROM},
            }

        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [
                {
                    "baseUrl": url,
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": key(self.log_key.public_key()),
                    "logId": {"keyId": _b64(self.log_id)},
                }
            ],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "nexus-test", "commonName": "fake-fulcio"},
                    "uri": url,
                    "certChain": {
                        "certificates": [
                            {"rawBytes": _b64(self.root.public_bytes(serialization.Encoding.DER))}
                        ]
                    },
                    "validFor": {"start": VALID_FROM},
                }
            ],
            "ctlogs": [
                {
                    "baseUrl": url,
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": key(self.ct_key.public_key()),
                    "logId": {"keyId": _b64(self.ct_log_id)},
                }
            ],
            "timestampAuthorities": [],
        }

    def signing_config(self) -> dict[str, Any]:
        """The Sigstore SigningConfig v0.2 JSON pointing at this instance."""
        service = {
            "url": self.url,
            "majorApiVersion": 1,
            "validFor": {"start": VALID_FROM},
            "operator": "nexus-test",
        }
        return {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service],
            "oidcUrls": [service],
            "rekorTlogUrls": [service],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        }

    def client_trust_config(self) -> dict[str, Any]:
        """The ClientTrustConfig JSON (trusted root + signing config) clients take."""
        return {
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": self.trusted_root(),
            "signingConfig": self.signing_config(),
        }

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/auth",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/keys",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["HS256"],
        }

    # -- Fulcio ----------------------------------------------------------------------------

    def _make_root(self) -> x509.Certificate:
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nexus-test"),
                x509.NameAttribute(NameOID.COMMON_NAME, "fake-fulcio"),
            ]
        )
        public = self.ca_key.public_key()
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
            .not_valid_after(dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )

    def issue_certificate(self, request: dict[str, Any], authorization: str) -> dict[str, Any]:
        """Handle a Fulcio v2 signingCert request; return the chain with an embedded SCT."""
        claims = self._verified_claims(authorization.removeprefix("Bearer ").strip())
        csr_pem = base64.b64decode(request["certificateSigningRequest"])
        csr = x509.load_pem_x509_csr(csr_pem)
        if not csr.is_signature_valid:
            raise ValueError("CSR proof of possession failed")
        public = csr.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        issuer = str(claims["iss"])
        source: list[tuple[ObjectIdentifier, str]] = []
        if issuer == GITHUB_ISSUER:
            # Fulcio's GitHub Actions identity: the workflow that ran, as a URI SAN; the
            # repository whose run it was, in the source-repository extensions.
            identity = f"https://github.com/{claims['job_workflow_ref']}"
            source = [
                (OID_SOURCE_REPOSITORY_URI, f"https://github.com/{claims['repository']}"),
                (OID_SOURCE_REPOSITORY_DIGEST, str(claims["sha"])),
                (OID_SOURCE_REPOSITORY_REF, str(claims["ref"])),
            ]
        else:
            identity = str(claims.get("email") or claims["sub"])
        serial = x509.random_serial_number()
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)

        def build(sct_list: bytes) -> x509.Certificate:
            san: x509.GeneralName
            if "@" in identity and "://" not in identity:
                san = x509.RFC822Name(identity)
            else:
                san = x509.UniformResourceIdentifier(identity)
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([]))
                .issuer_name(self.root.subject)
                .public_key(public)
                .serial_number(serial)
                .not_valid_before(now - dt.timedelta(seconds=30))
                .not_valid_after(now + dt.timedelta(minutes=10))
                .add_extension(x509.SubjectAlternativeName([san]), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=False,
                        crl_sign=False,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(
                    x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
                )
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                    critical=False,
                )
                .add_extension(
                    x509.UnrecognizedExtension(OID_ISSUER_V1, issuer.encode()), critical=False
                )
                .add_extension(
                    x509.UnrecognizedExtension(OID_ISSUER_V2, _der_utf8(issuer)), critical=False
                )
                .add_extension(
                    x509.UnrecognizedExtension(OID_SCT_LIST, _der_octet_string(sct_list)),
                    critical=False,
                )
            )
            for oid, value in source:
                builder = builder.add_extension(
                    x509.UnrecognizedExtension(oid, _der_utf8(value)), critical=False
                )
            return builder.sign(self.ca_key, hashes.SHA256())

        draft = build(self._sct_list(b"\x00" * 72, 0))
        tbs = draft.tbs_precertificate_bytes
        timestamp_ms = int(now.timestamp() * 1000)
        issuer_key_hash = hashlib.sha256(_spki_der(self.ca_key.public_key())).digest()
        # RFC 6962 §3.2: digitally-signed struct over a precert entry.
        signed = (
            struct.pack(">BBQH", 0, 0, timestamp_ms, 1)
            + issuer_key_hash
            + struct.pack(">I", len(tbs))[1:]
            + tbs
            + struct.pack(">H", 0)
        )
        signature = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        leaf = build(self._sct_list(signature, timestamp_ms))
        assert leaf.tbs_precertificate_bytes == tbs
        pems = [c.public_bytes(serialization.Encoding.PEM).decode() for c in (leaf, self.root)]
        return {"signedCertificateEmbeddedSct": {"chain": {"certificates": pems}}}

    def _verified_claims(self, token: str) -> dict[str, Any]:
        """Check the token's signature, audience and lifetime; raise ValueError if any fails."""
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            key: Any = self.issuer_keys.get(str(issuer), TOKEN_SECRET)
            algorithm = "HS256" if isinstance(key, str) else "ES256"
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[algorithm], audience="sigstore"
            )
        except jwt.PyJWTError as exc:
            raise ValueError(f"identity token refused: {exc}") from None
        return claims

    def _sct_list(self, signature: bytes, timestamp_ms: int) -> bytes:
        sct = (
            b"\x00"
            + self.ct_log_id
            + struct.pack(">QH", timestamp_ms, 0)
            + bytes([4, 3])  # sha256, ecdsa
            + struct.pack(">H", len(signature))
            + signature
        )
        one = struct.pack(">H", len(sct)) + sct
        return struct.pack(">H", len(one)) + one

    # -- Rekor v1 --------------------------------------------------------------------------

    def log_entry(self, proposal: dict[str, Any]) -> dict[str, Any]:
        """Integrate a proposed entry into a fresh one-leaf log; return Rekor's v1 response."""
        kind = proposal.get("kind")
        if kind == "dsse":
            content = proposal["spec"]["proposedContent"]
            envelope = json.loads(content["envelope"])
            payload = base64.b64decode(envelope["payload"])
            verifier = content["verifiers"][0]
            body = {
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "envelopeHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(content["envelope"].encode()).hexdigest(),
                    },
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(payload).hexdigest(),
                    },
                    "signatures": [
                        {"signature": s["sig"], "verifier": verifier}
                        for s in envelope["signatures"]
                    ],
                },
            }
        elif kind == "hashedrekord":
            body = proposal
        else:
            raise ValueError(f"unsupported entry kind {kind!r}")
        body_bytes = rfc8785.dumps(body)
        with self._lock:
            self.entries += 1
        integrated = int(dt.datetime.now(dt.UTC).timestamp())
        log_index = 0
        log_id_hex = self.log_id.hex()
        set_payload = rfc8785.dumps(
            {
                "body": _b64(body_bytes),
                "integratedTime": integrated,
                "logID": log_id_hex,
                "logIndex": log_index,
            }
        )
        set_sig = self.log_key.sign(set_payload, ec.ECDSA(hashes.SHA256()))
        root = hashlib.sha256(b"\x00" + body_bytes).digest()  # RFC 6962 leaf hash, size-1 tree
        note = f"{self.host_port}\n1\n{_b64(root)}\n"
        note_sig = self.log_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        checkpoint = note + "\n" + f"\u2014 {self.host_port} {_b64(self.log_id[:4] + note_sig)}\n"
        uuid = root.hex()
        return {
            uuid: {
                "body": _b64(body_bytes),
                "integratedTime": integrated,
                "logID": log_id_hex,
                "logIndex": log_index,
                "verification": {
                    "inclusionProof": {
                        "checkpoint": checkpoint,
                        "hashes": [],
                        "logIndex": log_index,
                        "rootHash": root.hex(),
                        "treeSize": 1,
                    },
                    "signedEntryTimestamp": _b64(set_sig),
                },
            }
        }
