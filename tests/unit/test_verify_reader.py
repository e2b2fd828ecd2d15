"""Our stdlib bundle reader accepts exactly what sigstore_models' Bundle accepts (DSSE, 1 sig)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError
from sigstore_models.bundle.v1 import Bundle

from nexusctl.errors import VerificationError
from nexusctl.signing._reader import read_dsse_bundle
from nexusctl.signing.keys import generate_key_pair
from nexusctl.signing.signers import CertificateSigner, KeySigner
from tests.conftest import ASSETS
from tests.e2e.signing.pki import make_pki

STATEMENT = b'{"_type":"https://in-toto.io/Statement/v1","predicate":{},"predicateType":"x","subject":[{"digest":{"sha256":"00"},"name":"n"}]}'

Doc = dict[str, Any]


def _set(path: list[str | int], value: Any) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


def _drop(path: list[str | int]) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return apply


MUTATIONS: dict[str, Callable[[Doc], None]] = {
    "unchanged": lambda doc: None,
    "legacy-media-type-0.3": _set(
        ["mediaType"], "application/vnd.dev.sigstore.bundle+json;version=0.3"
    ),
    "unknown-media-type": _set(
        ["mediaType"], "application/vnd.dev.sigstore.bundle+json;version=99.9"
    ),
    "no-media-type": _drop(["mediaType"]),
    "extra-top-field": _set(["extra"], 1),
    "extra-material-field": _set(["verificationMaterial", "extra"], 1),
    "no-tlog-entries": _drop(["verificationMaterial", "tlogEntries"]),
    "tlog-not-list": _set(["verificationMaterial", "tlogEntries"], {}),
    "second-material": _set(["verificationMaterial", "certificate"], {"rawBytes": "AAAA"}),
    "no-envelope": _drop(["dsseEnvelope"]),
    "envelope-not-object": _set(["dsseEnvelope"], "x"),
    "message-signature-too": _set(
        ["messageSignature"],
        {"messageDigest": {"algorithm": "SHA2_256", "digest": "AAAA"}, "signature": "AAAA"},
    ),
    "payload-type-int": _set(["dsseEnvelope", "payloadType"], 7),
    "sig-int": _set(["dsseEnvelope", "signatures", 0, "sig"], 7),
    "keyid-int": _set(["dsseEnvelope", "signatures", 0, "keyid"], 7),
    "keyid-absent": _drop(["dsseEnvelope", "signatures", 0, "keyid"]),
    "extra-signature-field": _set(["dsseEnvelope", "signatures", 0, "extra"], "x"),
    "no-payload": _drop(["dsseEnvelope", "payload"]),
    "verification-material-list": _set(["verificationMaterial"], []),
}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Doc]:
    folder = tmp_path_factory.mktemp("reader")
    generate_key_pair(folder / "k.pem")
    pki = make_pki(folder, "release@nebula.example")
    key = KeySigner.from_file(folder / "k.pem").sign_statement(STATEMENT)
    cert = CertificateSigner.from_files(pki["key"], pki["leaf"], pki["chain"]).sign_statement(
        STATEMENT
    )
    return {"key": json.loads(key), "cert": json.loads(cert)}


def accepts_ours(raw: bytes) -> bool:
    try:
        read_dsse_bundle(raw, "x")
    except VerificationError as exc:
        reason = exc.reason
    else:
        return True
    assert reason == "malformed-signature"
    return False


def accepts_models(raw: bytes) -> bool:
    try:
        bundle = Bundle.from_json(raw)
    except (ValidationError, ValueError):
        return False
    return bundle.dsse_envelope is not None and len(bundle.dsse_envelope.signatures) == 1


@pytest.mark.parametrize("kind", ["key", "cert"])
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_reader_agrees_with_sigstore_models(
    bundles: dict[str, Doc], kind: str, mutation: str
) -> None:
    doc = copy.deepcopy(bundles[kind])
    MUTATIONS[mutation](doc)
    raw = json.dumps(doc).encode()
    assert accepts_ours(raw) == accepts_models(raw)


def test_reader_agrees_on_hint_mutations(bundles: dict[str, Doc]) -> None:
    for value in (None, 5, "", "abc"):
        doc = copy.deepcopy(bundles["key"])
        doc["verificationMaterial"]["publicKey"]["hint"] = value
        raw = json.dumps(doc).encode()
        assert accepts_ours(raw) == accepts_models(raw), value
    doc = copy.deepcopy(bundles["key"])
    del doc["verificationMaterial"]["publicKey"]["hint"]
    raw = json.dumps(doc).encode()
    assert accepts_ours(raw) == accepts_models(raw)


@pytest.mark.parametrize(
    "asset", sorted(p.name for p in (ASSETS / "signing").glob("*.sigstore.json"))
)
def test_reader_agrees_on_assets(asset: str) -> None:
    raw = (ASSETS / "signing" / asset).read_bytes()
    assert accepts_ours(raw) == accepts_models(raw)


def test_reader_returns_the_signed_parts(bundles: dict[str, Doc]) -> None:
    parsed = read_dsse_bundle(json.dumps(bundles["cert"]).encode(), "x")
    assert parsed.payload == STATEMENT
    assert len(parsed.certificate_chain) == 3
    assert parsed.public_key_hint is None


def test_reader_accepts_url_safe_base64(bundles: dict[str, Doc]) -> None:
    import base64

    doc = copy.deepcopy(bundles["key"])
    sig = base64.b64decode(doc["dsseEnvelope"]["signatures"][0]["sig"])
    doc["dsseEnvelope"]["signatures"][0]["sig"] = base64.urlsafe_b64encode(sig).decode().rstrip("=")
    assert read_dsse_bundle(json.dumps(doc).encode(), "x").signature == sig
