"""Canonical bytes (RFC 8785, JSON Canonicalization Scheme) and the digests taken over them.

Anything nexusctl hashes or signs goes through ``canonical_bytes``: ``json.dumps(sort_keys=True)``
is not canonical for numbers or for non-ASCII strings, RFC 8785 is. Money and time are integers
in everything signed, so the float rules of RFC 8785 §3.2.2.3 never decide a signature.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_bytes(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of a JSON-compatible value.

    Raises:
        ValueError: the value holds something JSON cannot represent (NaN, a set, bytes...).
    """
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise ValueError(f"value cannot be canonicalised: {exc}") from exc


def sha256_hex(data: bytes) -> str:
    """Return the lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def canonical_digest(value: Any) -> str:
    """Return ``sha256:<hex>`` over the canonical bytes of ``value``."""
    return "sha256:" + sha256_hex(canonical_bytes(value))
