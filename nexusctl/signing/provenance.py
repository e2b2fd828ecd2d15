"""SLSA provenance v1 for a policy bundle, and the generic ``attest`` API.

The provenance statement's subject is the bundle digest (the manifest's SHA-256); the
predicate follows SLSA v1 (slsa.dev/spec/v1.0/provenance, models in ``nexusctl.statements``):
a build type of ours, the source repository and commit as external parameters, the catalog
and price table as resolved dependencies, and the builder id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexusctl import __version__
from nexusctl.bundle import BundleTree
from nexusctl.errors import InputError
from nexusctl.files import sha256_file
from nexusctl.signing.signers import Signer
from nexusctl.statements import (
    BuildDefinition,
    Builder,
    ResourceDescriptor,
    RunDetails,
    SlsaProvenance,
    statement_bytes,
)

BUILD_TYPE = "https://nexuscore.io/buildtypes/policy-bundle/v1"
DEFAULT_BUILDER_ID = "https://nexuscore.io/builders/nexusctl/v1"

#: An in-toto subject: a name and the SHA-256 of what it names (``Subject.of(name, digest)``).
Subject = ResourceDescriptor


@dataclass(frozen=True)
class SourceInfo:
    """Where the policy came from: repository, commit, whether the work tree was dirty.

    ``path`` and ``sha256`` name the policy file inside the repository when the source was
    given as that file; ``attest_provenance`` then requires it to be the bundled policy.
    """

    repository: str
    commit: str
    dirty: bool
    path: str | None = None
    sha256: str | None = None


def read_git_source(path: Path) -> SourceInfo:
    """Read the repository URL and HEAD commit of the git checkout that contains ``path``.

    ``path`` is the policy file (recommended) or any folder in its checkout. The URL is the
    ``origin`` remote's; a repository without one is named by its absolute ``git+file://`` path.

    Raises:
        InputError: ``path`` does not exist or is not inside a git work tree, or HEAD has no
            commit.
    """
    from nexusctl.gitsource import open_git_source

    try:
        source = open_git_source(path)
    except InputError as exc:
        raise InputError(
            str(exc),
            hint="pass --source with the policy file in its checkout, or pass --no-source",
        ) from None
    commit = source.head_commit()
    repository = source.remote_url() or f"git+file://{source.root}"
    rel = digest = None
    if path.is_file():
        rel = source.relative_path(path)
        digest = sha256_file(path, what="policy file")
    return SourceInfo(
        repository=repository, commit=commit, dirty=source.is_dirty(), path=rel, sha256=digest
    )


def provenance_predicate(
    tree: BundleTree, source: SourceInfo | None, builder_id: str = DEFAULT_BUILDER_ID
) -> SlsaProvenance:
    """Return the SLSA v1 provenance predicate for a checked bundle (integers stay integers)."""
    manifest = tree.manifest
    external: dict[str, Any] = {
        "policy": {"name": manifest.policy.name, "version": manifest.policy.version},
    }
    dependencies: list[ResourceDescriptor] = []
    if source is not None:
        external["source"] = {
            "repository": source.repository,
            "commit": source.commit,
            "dirty": source.dirty,
        }
        if source.path is not None:
            external["source"]["path"] = source.path
        dependencies.append(
            ResourceDescriptor(uri=source.repository, digest={"gitCommit": source.commit})
        )
    for entry in manifest.files:
        if entry.role in ("catalog", "price-table"):
            dependencies.append(
                ResourceDescriptor(name=entry.path, digest={"sha256": entry.sha256})
            )
    return SlsaProvenance(
        build_definition=BuildDefinition(
            build_type=BUILD_TYPE,
            external_parameters=external,
            resolved_dependencies=dependencies,
        ),
        run_details=RunDetails(
            builder=Builder(id=builder_id, version={"nexusctl": __version__}),
        ),
    )


def attest(
    statement_subjects: Sequence[Subject],
    predicate_type: str,
    predicate: Mapping[str, Any],
    signer: Signer,
) -> bytes:
    """Sign an in-toto Statement v1 over ``statement_subjects``; return Sigstore bundle JSON.

    This is the one entry point for any attestation (provenance, routing-diff...). The
    predicate must be JSON data with integers for money and time (no floats in signed bytes).

    Raises:
        InputError: no subject, no predicate type, or a predicate that cannot be canonicalised.
        EnvironmentError_: keyless signing could not reach Sigstore.
    """
    try:
        payload = statement_bytes(statement_subjects, predicate_type, predicate)
    except ValueError as exc:
        raise InputError(f"cannot build the attestation: {exc}") from None
    return signer.sign_statement(payload)


def provenance_statement_subjects(tree: BundleTree) -> list[Subject]:
    """The provenance subject: the bundle, named by its manifest digest."""
    return [Subject.of(tree.manifest.name, tree.digest)]
