"""Read a Sigstore bundle v0.1-v0.3 holding a DSSE envelope, strictly, with the stdlib only.

`policy verify` is the hot path (CI gates and promotions run it for every bundle), and building
``sigstore_models``' pydantic classes costs ~0.1 s of start-up. This reader accepts exactly
the bundles ``sigstore_models.bundle.v1.Bundle`` accepts for the fields verification uses (a
differential test over good and broken bundles holds the two together); keyless bundles are
additionally parsed by sigstore-python itself, which checks the log entries.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from nexusctl.document.strict_json import JsonLimitError, loads_strict
from nexusctl.errors import VerificationError
from nexusctl.statements import Reason

MEDIA_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    }
)
MAX_BUNDLE_CONTAINERS = 10_000
_TOP = frozenset({"mediaType", "verificationMaterial", "dsseEnvelope", "messageSignature"})
_MATERIAL = frozenset(
    {
        "publicKey",
        "x509CertificateChain",
        "certificate",
        "tlogEntries",
        "timestampVerificationData",
    }
)
_ENVELOPE = frozenset({"payload", "payloadType", "signatures"})
_SIGNATURE = frozenset({"sig", "keyid"})


@dataclass(frozen=True)
class DsseBundle:
    """The parts of a DSSE Sigstore bundle that verification uses."""

    media_type: str
    public_key_hint: str | None
    certificate_chain: tuple[bytes, ...]
    certificate: bytes | None
    payload_type: str
    payload: bytes
    signature: bytes
    keyid: str | None


class _Malformed(Exception):
    pass


def read_dsse_bundle(raw: bytes, what: str) -> DsseBundle:
    """Parse ``raw`` as a Sigstore bundle with exactly one DSSE signature.

    Raises:
        VerificationError: reason ``malformed-signature``, naming what is wrong.
    """
    try:
        # A bundle is a few dozen objects; the payload is one base64 string, not counted.
        doc = loads_strict(raw, max_containers=MAX_BUNDLE_CONTAINERS)
    except JsonLimitError as exc:
        raise VerificationError(
            f"{what}: not a JSON Sigstore bundle ({exc})", reason=Reason.MALFORMED_SIGNATURE
        ) from None
    try:
        return _read(doc)
    except _Malformed as exc:
        raise VerificationError(
            f"{what}: not a valid Sigstore bundle ({exc})", reason=Reason.MALFORMED_SIGNATURE
        ) from None


def _read(doc: Any) -> DsseBundle:
    top = _object(doc, "bundle", _TOP)
    media_type = top.get("mediaType")
    if media_type not in MEDIA_TYPES:
        raise _Malformed(f"unknown media type {media_type!r}")
    material = _object(top.get("verificationMaterial"), "verificationMaterial", _MATERIAL)
    tlog = material.get("tlogEntries")
    if not isinstance(tlog, list):
        raise _Malformed("verificationMaterial.tlogEntries must be a list")
    kinds = [k for k in ("publicKey", "x509CertificateChain", "certificate") if material.get(k)]
    if len(kinds) != 1:
        raise _Malformed("exactly one of publicKey, x509CertificateChain, certificate is needed")
    hint = None
    chain: tuple[bytes, ...] = ()
    certificate = None
    if kinds[0] == "publicKey":
        key = _object(material["publicKey"], "publicKey", frozenset({"hint"}))
        if "hint" not in key:
            raise _Malformed("publicKey.hint is missing")
        hint = key["hint"]
        if hint is not None and not isinstance(hint, str):
            raise _Malformed("publicKey.hint must be a string")
    elif kinds[0] == "x509CertificateChain":
        holder = _object(material["x509CertificateChain"], "chain", frozenset({"certificates"}))
        certificates = holder.get("certificates")
        if not isinstance(certificates, list) or not certificates:
            raise _Malformed("x509CertificateChain.certificates must be a non-empty list")
        chain = tuple(_raw_bytes(c, "certificate") for c in certificates)
    else:
        certificate = _raw_bytes(material["certificate"], "certificate")
    if top.get("messageSignature") is not None:
        raise _Malformed("a bundle holds a DSSE envelope or a message signature, not both")
    envelope = _object(top.get("dsseEnvelope"), "dsseEnvelope", _ENVELOPE)
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise _Malformed("dsseEnvelope.payloadType must be a string")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise _Malformed("the DSSE envelope must hold exactly one signature")
    signature = _object(signatures[0], "signature", _SIGNATURE)
    keyid = signature.get("keyid")
    if keyid is not None and not isinstance(keyid, str):
        raise _Malformed("signature keyid must be a string")
    return DsseBundle(
        media_type=media_type,
        public_key_hint=hint,
        certificate_chain=chain,
        certificate=certificate,
        payload_type=payload_type,
        payload=_b64(envelope.get("payload"), "payload"),
        signature=_b64(signature.get("sig"), "sig"),
        keyid=keyid,
    )


def _object(value: Any, name: str, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Malformed(f"{name} must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _Malformed(f"unknown field(s) in {name}: {', '.join(unknown)}")
    return value


def _raw_bytes(value: Any, name: str) -> bytes:
    holder = _object(value, name, frozenset({"rawBytes"}))
    return _b64(holder.get("rawBytes"), f"{name}.rawBytes")


def _b64(value: Any, name: str) -> bytes:
    """Decode standard or URL-safe base64 (DSSE verifiers must accept both)."""
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{name} must be a non-empty base64 string")
    padded = value + "=" * (-len(value) % 4)
    try:
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise _Malformed(f"{name} is not base64") from None
