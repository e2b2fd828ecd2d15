"""DSSE PAE and signatures against the DSSE protocol's own test vector (protocol.md)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from nexusctl.signing._dsse import pae, raw_to_der, sign_pae, verify_pae


@pytest.fixture
def vector(shared_data: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (shared_data / "vectors" / "dsse" / "protocol_test_vector.json").read_text()
    )
    return data


def _key(vector: dict[str, object]) -> ec.EllipticCurvePrivateKey:
    key = vector["key"]
    assert isinstance(key, dict)
    return ec.derive_private_key(int(key["d"]), ec.SECP256R1())


def test_pae_matches_vector(vector: dict[str, object]) -> None:
    body = str(vector["serializedBody_utf8"]).encode()
    assert pae(str(vector["payloadType"]), body) == str(vector["pae_utf8"]).encode()


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"
    assert pae("", b"") == b"DSSEv1 0  0 "


def test_vector_key_matches_published_public_point(vector: dict[str, object]) -> None:
    key = vector["key"]
    assert isinstance(key, dict)
    numbers = _key(vector).public_key().public_numbers()
    assert (numbers.x, numbers.y) == (int(key["x"]), int(key["y"]))


def test_vector_signature_verifies_raw_r_s(vector: dict[str, object]) -> None:
    envelope = vector["envelope"]
    assert isinstance(envelope, dict)
    sig = base64.b64decode(envelope["signatures"][0]["sig"])
    assert len(sig) == 64
    public = _key(vector).public_key()
    payload = base64.b64decode(envelope["payload"])
    assert verify_pae(public, sig, envelope["payloadType"], payload)
    assert not verify_pae(public, sig, envelope["payloadType"], payload + b"!")
    assert not verify_pae(public, sig, "http://example.com/Other", payload)


def test_deterministic_signature_reproduces_vector(vector: dict[str, object]) -> None:
    """RFC 6979 signing with the vector's key gives exactly the published (r, s)."""
    envelope = vector["envelope"]
    assert isinstance(envelope, dict)
    key = _key(vector)
    expected_raw = base64.b64decode(envelope["signatures"][0]["sig"])
    ours = sign_pae(key, str(vector["payloadType"]), str(vector["serializedBody_utf8"]).encode())
    assert ours == raw_to_der(key.public_key(), expected_raw)


def test_raw_to_der_refuses_wrong_length(vector: dict[str, object]) -> None:
    assert raw_to_der(_key(vector).public_key(), b"\x01" * 63) is None


def test_signature_by_other_key_fails(vector: dict[str, object]) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    sig = sign_pae(other, "t", b"body")
    assert verify_pae(other.public_key(), sig, "t", b"body")
    assert not verify_pae(_key(vector).public_key(), sig, "t", b"body")
