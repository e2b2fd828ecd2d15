"""The bundle signature's statement: OpenSSF model-signing's layout over the bundle's files.

Statements are serialised with RFC 8785 (integers stay integers; no protobuf ``Struct`` round
trip, which would turn ``1`` into ``1.0``); their models are in ``nexusctl.statements``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from nexusctl.bundle import ATTESTATIONS_DIR, MANIFEST_NAME, SIGNATURE_NAME, model_signing_order
from nexusctl.statements import (
    ATTESTATION_KINDS,
    MODEL_SIGNING_PREDICATE,
    ModelSigningPredicate,
    ResourceDescriptor,
    Serialization,
    SignedResource,
    statement_bytes,
)

#: Paths model-signing's verifier must skip: the signature (it cannot cover itself) and the
#: attestation files of the known kinds (added after signing). Exactly these files, never the
#: whole ``attestations/`` folder: model-signing would then accept any unsigned file there.
SIGNATURE_IGNORE_PATHS = (
    *(f"{ATTESTATIONS_DIR}/{kind}.sigstore.json" for kind in sorted(ATTESTATION_KINDS)),
    SIGNATURE_NAME,
)


def bundle_resources(contents: Mapping[str, str], manifest_sha256: str) -> list[SignedResource]:
    """Return model-signing's ``resources``: every signed file with its SHA-256, in its order.

    The signed files are the manifest's files plus ``manifest.json`` itself.
    """
    digests = dict(contents)
    digests[MANIFEST_NAME] = manifest_sha256
    return [
        SignedResource(name=path, algorithm="sha256", digest=digests[path])
        for path in model_signing_order(list(digests))
    ]


def resources_root_digest(resources: Sequence[SignedResource]) -> str:
    """Return model-signing's subject digest: SHA-256 over the concatenated resource digests."""
    hasher = hashlib.sha256()
    for resource in resources:
        hasher.update(bytes.fromhex(resource.digest))
    return hasher.hexdigest()


def bundle_signature_statement(
    bundle_name: str, contents: Mapping[str, str], manifest_sha256: str
) -> bytes:
    """Return the statement the bundle signature covers (model-signing's layout).

    ``serialization.ignore_paths`` names the signature file and the known attestation files,
    which model-signing's verifier then skips when it re-hashes the folder.
    """
    resources = bundle_resources(contents, manifest_sha256)
    predicate = ModelSigningPredicate(
        serialization=Serialization(
            method="files",
            hash_type="sha256",
            allow_symlinks=False,
            ignore_paths=list(SIGNATURE_IGNORE_PATHS),
        ),
        resources=resources,
    )
    subject = ResourceDescriptor.of(bundle_name, resources_root_digest(resources))
    return statement_bytes([subject], MODEL_SIGNING_PREDICATE, predicate.model_dump(mode="json"))
