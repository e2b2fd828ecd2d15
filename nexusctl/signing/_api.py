"""Sign a bundle and attach attestations to it (the operations behind the CLI verbs)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nexusctl.bundle import ATTESTATIONS_DIR, SIGNATURE_NAME, BundleTree, check_tree
from nexusctl.errors import EnvironmentError_, InputError, VerificationError
from nexusctl.signing._layout import bundle_signature_statement
from nexusctl.signing.provenance import (
    DEFAULT_BUILDER_ID,
    SourceInfo,
    attest,
    provenance_predicate,
    provenance_statement_subjects,
)
from nexusctl.signing.signers import Signer
from nexusctl.statements import ATTESTATION_KINDS, SLSA_PROVENANCE_PREDICATE


def sign_bundle(bundle_dir: Path, signer: Signer) -> Path:
    """Check ``bundle_dir`` against its manifest, sign it, write ``signature.sigstore.json``.

    An existing signature is replaced (re-signing is how a key is rotated).

    Raises:
        VerificationError: the bundle does not match its manifest (nothing is signed).
        InputError / EnvironmentError_: from the signer, or the file cannot be written.
    """
    tree = _checked(bundle_dir)
    statement = bundle_signature_statement(
        tree.manifest.name, tree.contents, tree.digest.removeprefix("sha256:")
    )
    target = bundle_dir / SIGNATURE_NAME
    _write_atomic(target, signer.sign_statement(statement))
    return target


def attest_provenance(
    bundle_dir: Path,
    signer: Signer,
    source: SourceInfo | None,
    builder_id: str = DEFAULT_BUILDER_ID,
) -> Path:
    """Sign SLSA provenance v1 for the bundle; write ``attestations/provenance.sigstore.json``.

    Raises:
        VerificationError: the bundle does not match its manifest.
        InputError: ``source`` names a policy file whose bytes are not the bundled policy.
        InputError / EnvironmentError_: from the signer, or the file cannot be written.
    """
    tree = _checked(bundle_dir)
    if source is not None and source.sha256 is not None:
        policy = next(f for f in tree.manifest.files if f.role == "policy")
        if source.sha256 != policy.sha256:
            raise InputError(
                f"the policy at {source.path} (commit {source.commit[:12]}) is not the bundled "
                f"{policy.path}",
                hint="attest from the checkout the bundle was built from",
            )
    bundle_json = attest(
        provenance_statement_subjects(tree),
        SLSA_PROVENANCE_PREDICATE,
        provenance_predicate(tree, source, builder_id).model_dump(
            mode="json", by_alias=True, exclude_none=True
        ),
        signer,
    )
    return write_attestation(bundle_dir, "provenance", bundle_json)


def write_attestation(bundle_dir: Path, kind: str, bundle_json: bytes) -> Path:
    """Write a signed attestation as ``attestations/<kind>.sigstore.json`` in the bundle.

    Raises:
        InputError: ``kind`` is not a plain lowercase name, or not a kind verification knows
            (``nexusctl.statements.ATTESTATION_KINDS``).
        EnvironmentError_: the file cannot be written.
    """
    if not kind or not all(c.islower() or c.isdigit() or c == "-" for c in kind):
        raise InputError(f"attestation kind {kind!r} must be lowercase letters, digits and '-'")
    if kind not in ATTESTATION_KINDS:
        raise InputError(
            f"'{kind}' is not an attestation kind nexusctl knows",
            hint="known kinds: " + ", ".join(sorted(ATTESTATION_KINDS)),
        )
    folder = bundle_dir / ATTESTATIONS_DIR
    if folder.is_symlink():
        raise InputError(f"{folder}: is a symlink; refusing to write through it")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise EnvironmentError_(f"cannot create {folder}: {exc.strerror}") from exc
    target = folder / f"{kind}.sigstore.json"
    _write_atomic(target, bundle_json)
    return target


def _checked(bundle_dir: Path) -> BundleTree:
    try:
        return check_tree(bundle_dir)
    except VerificationError as exc:
        raise VerificationError(
            f"refusing to sign: {exc}", reason=exc.reason, hint="rebuild it with `policy bundle`"
        ) from None


def _write_atomic(target: Path, data: bytes) -> None:
    if target.is_symlink():
        raise InputError(f"{target}: is a symlink; refusing to write through it")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        raise EnvironmentError_(f"cannot write {target}: {exc.strerror}") from exc
