"""SLSA provenance v1 for a policy bundle, and the generic ``attest`` API.

The provenance statement's subject is the bundle digest (the manifest's SHA-256); the
predicate follows SLSA v1 (slsa.dev/spec/v1.0/provenance): a build type of ours, the source
repository and commit as external parameters, the catalog and price table as resolved
dependencies, and the builder id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexusctl import __version__
from nexusctl.bundle import BundleTree
from nexusctl.errors import InputError
from nexusctl.signing.signers import Signer
from nexusctl.signing.statements import SLSA_PROVENANCE_PREDICATE, Subject, statement_bytes

BUILD_TYPE = "https://nexuscore.io/buildtypes/policy-bundle/v1"
DEFAULT_BUILDER_ID = "https://nexuscore.io/builders/nexusctl/v1"


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
    import hashlib

    import git

    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    is_file = path.is_file()
    try:
        repo = git.Repo(path.parent if is_file else path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise InputError(
            f"{path} is not inside a git repository",
            hint="pass --source with the policy file in its checkout, or pass --no-source",
        ) from None
    try:
        commit = repo.head.commit.hexsha
    except ValueError:
        raise InputError(f"{repo.working_dir}: the repository has no commit yet") from None
    remote = next((r for r in repo.remotes if r.name == "origin"), None)
    url = next(iter(remote.urls), None) if remote is not None else None
    root = Path(str(repo.working_dir)).resolve()
    repository = url or f"git+file://{root}"
    rel = digest = None
    if is_file:
        rel = path.resolve().relative_to(root).as_posix()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return SourceInfo(
        repository=repository, commit=commit, dirty=repo.is_dirty(), path=rel, sha256=digest
    )


def provenance_predicate(
    tree: BundleTree, source: SourceInfo | None, builder_id: str = DEFAULT_BUILDER_ID
) -> dict[str, Any]:
    """Return the SLSA v1 provenance predicate for a checked bundle (integers stay integers)."""
    manifest = tree.manifest
    external: dict[str, Any] = {
        "policy": {"name": manifest.policy.name, "version": manifest.policy.version},
    }
    dependencies: list[dict[str, Any]] = []
    if source is not None:
        external["source"] = {
            "repository": source.repository,
            "commit": source.commit,
            "dirty": source.dirty,
        }
        if source.path is not None:
            external["source"]["path"] = source.path
        dependencies.append({"uri": source.repository, "digest": {"gitCommit": source.commit}})
    for entry in manifest.files:
        if entry.role in ("catalog", "price-table"):
            dependencies.append({"name": entry.path, "digest": {"sha256": entry.sha256}})
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": external,
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {"id": builder_id, "version": {"nexusctl": __version__}},
        },
    }


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


def provenance_type() -> str:
    """The SLSA provenance v1 predicate type."""
    return SLSA_PROVENANCE_PREDICATE
