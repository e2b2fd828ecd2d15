"""in-toto Statement v1 payloads nexusctl signs: the bundle signature, provenance, any attestation.

Statements are plain dicts serialised with RFC 8785 (integers stay integers; no protobuf
``Struct`` round trip, which would turn ``1`` into ``1.0``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nexusctl.bundle import ATTESTATIONS_DIR, MANIFEST_NAME, SIGNATURE_NAME, model_signing_order
from nexusctl.canonical import canonical_bytes

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
#: OpenSSF model-signing's predicate (v1.0): a file list, so its verifier accepts our bundles.
MODEL_SIGNING_PREDICATE = "https://model_signing/signature/v1.0"
SLSA_PROVENANCE_PREDICATE = "https://slsa.dev/provenance/v1"
ROUTING_DIFF_PREDICATE = "https://nexuscore.io/attestation/routing-diff/v1"
#: Paths inside the bundle that the bundle signature does not cover (it cannot cover itself).
SIGNATURE_IGNORE_PATHS = (ATTESTATIONS_DIR, SIGNATURE_NAME)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Subject:
    """An in-toto subject: a name and the SHA-256 of what it names."""

    name: str
    sha256: str

    @classmethod
    def of(cls, name: str, digest: str) -> Subject:
        """Make a subject from ``<hex>`` or ``sha256:<hex>``.

        Raises:
            ValueError: the digest is not a lowercase hex SHA-256.
        """
        hex_digest = digest.removeprefix("sha256:")
        if not _HEX64.match(hex_digest):
            raise ValueError(f"not a lowercase hex SHA-256 digest: {digest!r}")
        return cls(name, hex_digest)

    def to_json(self) -> dict[str, Any]:
        """Return the ResourceDescriptor form."""
        return {"name": self.name, "digest": {"sha256": self.sha256}}


def statement_bytes(
    subjects: Sequence[Subject], predicate_type: str, predicate: Mapping[str, Any]
) -> bytes:
    """Return the canonical bytes of an in-toto Statement v1.

    Raises:
        ValueError: no subject, an empty predicate type, or a predicate JSON cannot hold.
    """
    if not subjects:
        raise ValueError("an in-toto statement needs at least one subject")
    if not predicate_type:
        raise ValueError("an in-toto statement needs a predicate type")
    return canonical_bytes(
        {
            "_type": STATEMENT_TYPE,
            "subject": [s.to_json() for s in subjects],
            "predicateType": predicate_type,
            "predicate": dict(predicate),
        }
    )


def bundle_resources(contents: Mapping[str, str], manifest_sha256: str) -> list[dict[str, str]]:
    """Return model-signing's ``resources``: every signed file with its SHA-256, in its order.

    The signed files are the manifest's files plus ``manifest.json`` itself.
    """
    digests = dict(contents)
    digests[MANIFEST_NAME] = manifest_sha256
    return [
        {"name": path, "algorithm": "sha256", "digest": digests[path]}
        for path in model_signing_order(list(digests))
    ]


def resources_root_digest(resources: Sequence[Mapping[str, str]]) -> str:
    """Return model-signing's subject digest: SHA-256 over the concatenated resource digests."""
    hasher = hashlib.sha256()
    for resource in resources:
        hasher.update(bytes.fromhex(resource["digest"]))
    return hasher.hexdigest()


def bundle_signature_statement(
    bundle_name: str, contents: Mapping[str, str], manifest_sha256: str
) -> bytes:
    """Return the statement the bundle signature covers (model-signing's layout).

    ``serialization.ignore_paths`` names the signature file and the attestations folder, which
    model-signing's verifier then skips when it re-hashes the folder.
    """
    resources = bundle_resources(contents, manifest_sha256)
    predicate = {
        "serialization": {
            "method": "files",
            "hash_type": "sha256",
            "allow_symlinks": False,
            "ignore_paths": list(SIGNATURE_IGNORE_PATHS),
        },
        "resources": resources,
    }
    subject = Subject(bundle_name, resources_root_digest(resources))
    return statement_bytes([subject], MODEL_SIGNING_PREDICATE, predicate)
