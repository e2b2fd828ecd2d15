"""DSSE v1 (secure-systems-lab/dsse protocol.md): the pre-authentication encoding and signatures.

A signature is always over ``PAE(payloadType, payload)``, never over the payload alone, so a
signer cannot be tricked into signing bytes that a verifier would read with another type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """Return ``PAE(type, body)`` = ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``.

    LEN is the ASCII decimal byte length with no leading zeros (DSSE protocol v1.0.2).
    """
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


def sign_pae(key: ec.EllipticCurvePrivateKey, payload_type: str, payload: bytes) -> bytes:
    """Sign ``PAE(payload_type, payload)`` with ECDSA; return the DER signature Sigstore uses.

    Signing is deterministic (RFC 6979), so the same key and payload give the same bytes.
    """
    from cryptography.hazmat.primitives.asymmetric import ec

    return key.sign(
        pae(payload_type, payload),
        ec.ECDSA(_hash_for(key.curve), deterministic_signing=True),
    )


def verify_pae(
    key: ec.EllipticCurvePublicKey, signature: bytes, payload_type: str, payload: bytes
) -> bool:
    """Return True when ``signature`` (DER, or raw ``r||s``) signs ``PAE(payload_type, payload)``.

    Sigstore bundles carry DER signatures; the DSSE protocol's own test vector uses raw
    ``r||s``. Both encodings of the same (r, s) are accepted; nothing else is.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec

    message = pae(payload_type, payload)
    algorithm = ec.ECDSA(_hash_for(key.curve))
    for candidate in _encodings(key, signature):
        try:
            key.verify(candidate, message, algorithm)
        except InvalidSignature:
            continue
        return True
    return False


def raw_to_der(key: ec.EllipticCurvePublicKey, raw: bytes) -> bytes | None:
    """Convert a raw ``r||s`` signature for ``key``'s curve to DER, or None if it cannot be one."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    size = (key.curve.key_size + 7) // 8
    if len(raw) != 2 * size:
        return None
    r = int.from_bytes(raw[:size], "big")
    s = int.from_bytes(raw[size:], "big")
    return encode_dss_signature(r, s)


def _encodings(key: ec.EllipticCurvePublicKey, signature: bytes) -> list[bytes]:
    out = [signature]
    der = raw_to_der(key, signature)
    if der is not None:
        out.append(der)
    return out


def _hash_for(curve: ec.EllipticCurve) -> hashes.HashAlgorithm:
    from cryptography.hazmat.primitives import hashes

    # The curve fixes the hash (Sigstore PublicKeyDetails: P-256/SHA-256, P-384/SHA-384).
    if curve.key_size == 256:
        return hashes.SHA256()
    if curve.key_size == 384:
        return hashes.SHA384()
    return hashes.SHA512()
