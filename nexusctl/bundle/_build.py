"""Build a policy bundle directory, and check one against its manifest.

A bundle is the policy, its catalog, the catalog's price table and any declared extras, each
copied under its path relative to the policy's folder (so the policy still loads from the
bundle), plus ``manifest.json``. The same inputs always give byte-identical trees: content is
copied, never metadata, and nothing time-dependent is written.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from nexusctl.bundle._manifest import (
    ATTESTATIONS_DIR,
    MANIFEST_NAME,
    MAX_BUNDLE_FILES,
    MAX_MANIFEST_BYTES,
    RESERVED_NAMES,
    SIGNATURE_NAME,
    BundleManifest,
    DocumentRef,
    FileRole,
    ManifestFile,
    PriceTableInfo,
    check_relative_path,
    parse_manifest,
)
from nexusctl.canonical import sha256_hex
from nexusctl.errors import EnvironmentError_, InputError, VerificationError
from nexusctl.files import open_regular, read_bounded
from nexusctl.statements import Reason

#: Deepest folder nesting a bundle may have (a policy's references are a few levels deep).
MAX_BUNDLE_DEPTH = 32
#: Largest file ``policy bundle`` copies into a bundle (price tables are ~2 MB).
MAX_BUNDLE_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class BuiltBundle:
    """A bundle on disk and its manifest."""

    path: Path
    manifest: BundleManifest

    @property
    def digest(self) -> str:
        """The bundle digest, ``sha256:<hex>`` over the canonical manifest."""
        return self.manifest.digest()


def build_bundle(
    policy_path: Path,
    out_dir: Path,
    extras: Sequence[Path] = (),
    *,
    force: bool = False,
    root: Path | None = None,
) -> BuiltBundle:
    """Bundle ``policy_path`` with its catalog, price table and ``extras`` into ``out_dir``.

    Files keep their paths relative to the policy's folder, so the policy's references
    resolve inside the bundle as they did at the source. When a reference crosses folders
    (a shared catalog under a repository root, ``nexusctl.document.root``), files keep their
    paths relative to the deepest folder holding them all instead, and the bundle gets its
    own ``.nexusctl-root`` marker (listed in the manifest), so the bundled policy loads with
    the same references, confined to the bundle. Nothing is rewritten: the policy's bytes and
    digest are its source's.

    The tree is built in a temporary sibling folder and renamed into place, so ``out_dir``
    is either the complete new bundle or untouched.

    Raises:
        PolicyLoadError: the policy or catalog does not load (a reference outside the root,
            through a symlink, or missing).
        InputError: a symlink, an extra outside the repository root, a reserved or duplicate
            name, or a non-empty ``out_dir`` without ``force``.
        EnvironmentError_: the bundle could not be written.
    """
    from nexusctl.document import ROOT_MARKER
    from nexusctl.policy.loader import load_policy

    loaded = load_policy(policy_path, root=root)
    repository = loaded.root
    assert repository is not None  # load_policy always records the root it confined to
    policy_real = _real_file(policy_path)
    sources: list[tuple[Path, FileRole]] = [(policy_real, "policy")]
    # The loader resolved these component by component, refusing symlinks on the way.
    sources.append((loaded.catalog.path, "catalog"))
    table = loaded.catalog.catalog.spec.price_table
    if loaded.catalog.price_table_path is not None:
        sources.append((loaded.catalog.price_table_path, "price-table"))
    for extra in extras:
        real = _real_file(extra)
        if not real.is_relative_to(repository.path):
            raise InputError(
                f"{extra}: outside {repository.describe()}; bundle files must sit inside it",
                hint="move the file inside, or put a .nexusctl-root marker in a folder above both",
            )
        sources.append((real, "extra"))
    folder = policy_real.parent
    top = folder
    if not all(path.is_relative_to(folder) for path, _ in sources):
        top = Path(os.path.commonpath([path.parent for path, _ in sources]))
    entries: dict[str, tuple[Path | None, FileRole]] = {}
    for path, role in sources:
        _add(entries, top, path, role)
    if top != folder:
        _add(entries, top, None, "extra", rel=ROOT_MARKER)

    files = []
    contents: dict[str, bytes] = {}
    for rel in sorted(entries):
        source, role = entries[rel]
        data = b"" if source is None else _read_regular(source)
        contents[rel] = data
        files.append(ManifestFile(path=rel, sha256=sha256_hex(data), size=len(data), role=role))
    roles = {role: rel for rel, (_, role) in entries.items() if role != "extra"}
    meta = loaded.policy.metadata
    cat_meta = loaded.catalog.catalog.metadata
    manifest = BundleManifest(
        name=f"{meta.name}-v{meta.version}",
        policy=DocumentRef(name=meta.name, version=meta.version, path=roles["policy"]),
        catalog=DocumentRef(name=cat_meta.name, version=cat_meta.version, path=roles["catalog"]),
        price_table=(
            PriceTableInfo(name=table.name, path=roles["price-table"])
            if table is not None and "price-table" in roles
            else None
        ),
        files=files,
    )
    _write_tree(out_dir, contents, manifest.to_bytes(), force=force)
    return BuiltBundle(out_dir, manifest)


def _real_file(path: Path) -> Path:
    """The real path of ``path``; a symlinked file is refused (it is not what gets signed)."""
    if path.is_symlink():
        raise InputError(f"{path}: symlinks are refused in bundles; name the real file")
    return Path(os.path.realpath(path))


def _add(
    entries: dict[str, tuple[Path | None, FileRole]],
    top: Path,
    path: Path | None,
    role: FileRole,
    *,
    rel: str | None = None,
) -> None:
    if rel is None:
        assert path is not None
        rel = path.relative_to(top).as_posix()
    problem = check_relative_path(rel)
    if problem:
        raise InputError(f"{path}: {problem}")
    if rel.split("/")[0] in RESERVED_NAMES:
        raise InputError(f"{path}: '{rel}' is a name the bundle reserves for itself")
    if rel in entries and (entries[rel][1] == role or role == "extra"):
        raise InputError(f"{path}: '{rel}' is already in the bundle")
    entries[rel] = (path, role)


def _read_regular(path: Path) -> bytes:
    if path.is_symlink():
        raise InputError(f"{path}: symlinks are refused in bundles")
    return read_bounded(path, MAX_BUNDLE_FILE_BYTES, what="bundle file")


def _write_tree(out_dir: Path, contents: dict[str, bytes], manifest: bytes, *, force: bool) -> None:
    if out_dir.is_symlink():
        raise InputError(f"{out_dir}: output folder is a symlink; refusing to write through it")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputError(f"{out_dir}: exists and is not a folder")
        if any(out_dir.iterdir()) and not force:
            raise InputError(
                f"{out_dir}: folder is not empty", hint="pass --force to replace its contents"
            )
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
    except OSError as exc:
        raise EnvironmentError_(f"cannot create the bundle next to {out_dir}: {exc}") from exc
    try:
        # mkdtemp makes 0700; a bundle is public data, readable like the files it holds.
        os.chmod(staging, 0o755)  # noqa: S103
        for rel, data in contents.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_file(target, data)
        _write_file(staging / MANIFEST_NAME, manifest)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=parent))
            os.rename(out_dir, old / "tree")
            os.rename(staging, out_dir)
            shutil.rmtree(old)
        else:
            os.rename(staging, out_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise EnvironmentError_(f"cannot write the bundle {out_dir}: {exc}") from exc


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@dataclass(frozen=True)
class BundleTree:
    """A bundle whose files match its manifest, and the signature files it carries."""

    path: Path
    manifest: BundleManifest
    manifest_bytes: bytes
    contents: dict[str, str]
    attestations: tuple[str, ...]
    has_signature: bool

    @property
    def digest(self) -> str:
        """The bundle digest, ``sha256:<hex>``."""
        return "sha256:" + sha256_hex(self.manifest_bytes)


def check_tree(bundle_dir: Path) -> BundleTree:
    """Check every file of ``bundle_dir`` against its manifest (offline, read-only).

    Raises:
        InputError: ``bundle_dir`` is not a folder.
        VerificationError: with reason ``symlink``, ``unsafe-entry``, ``manifest-missing``,
            ``malformed-manifest``, ``unsafe-path``, ``missing-file``, ``extra-file`` or
            ``digest-mismatch``.
    """
    if bundle_dir.is_symlink():
        raise VerificationError(
            f"{bundle_dir}: the bundle folder is a symlink", reason=Reason.SYMLINK
        )
    if not bundle_dir.is_dir():
        raise InputError(f"{bundle_dir}: not a bundle folder")
    on_disk = _walk(bundle_dir)
    if MANIFEST_NAME not in on_disk:
        raise VerificationError(f"{bundle_dir}: no {MANIFEST_NAME}", reason=Reason.MANIFEST_MISSING)
    manifest_bytes = _read_manifest(bundle_dir / MANIFEST_NAME)
    manifest = parse_manifest(manifest_bytes)
    listed = {f.path: f for f in manifest.files}
    for rel in sorted(listed):
        if rel not in on_disk:
            raise VerificationError(
                f"{rel}: listed in the manifest but missing from the bundle",
                reason=Reason.MISSING_FILE,
            )
    attestations = []
    for rel in sorted(on_disk):
        if rel in listed or rel in (MANIFEST_NAME, SIGNATURE_NAME):
            continue
        if _is_attestation_name(rel):
            attestations.append(rel)
            continue
        raise VerificationError(f"{rel}: file is not in the manifest", reason=Reason.EXTRA_FILE)
    contents = {rel: _checked_digest(bundle_dir / rel, e) for rel, e in sorted(listed.items())}
    return BundleTree(
        path=bundle_dir,
        manifest=manifest,
        manifest_bytes=manifest_bytes,
        contents=contents,
        attestations=tuple(attestations),
        has_signature=SIGNATURE_NAME in on_disk,
    )


def _read_manifest(path: Path) -> bytes:
    """Read at most one byte past the cap; ``parse_manifest`` refuses a longer manifest."""
    try:
        with open_regular(path, what="manifest") as handle:
            return handle.read(MAX_MANIFEST_BYTES + 1)
    except InputError as exc:
        raise VerificationError(str(exc), reason=Reason.UNSAFE_ENTRY) from None
    except OSError as exc:
        raise VerificationError(
            f"{path}: cannot read the manifest: {exc.strerror}", reason=Reason.UNSAFE_ENTRY
        ) from None


def _checked_digest(path: Path, entry: ManifestFile) -> str:
    """Return the file's SHA-256 after checking its size against the manifest's.

    The size is checked on the open descriptor first, so a huge planted file is never hashed.
    """
    rel = entry.path
    try:
        with open_regular(path, what="bundle file") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size != entry.size:
                raise VerificationError(
                    f"{rel}: size {size} bytes differs from the manifest's {entry.size}",
                    reason=Reason.DIGEST_MISMATCH,
                )
            # open_regular's handle is an io.BufferedReader (os.fdopen "rb").
            digest = hashlib.file_digest(cast(io.BufferedReader, handle), "sha256").hexdigest()
    except InputError as exc:
        raise VerificationError(str(exc), reason=Reason.UNSAFE_ENTRY) from None
    if digest != entry.sha256:
        raise VerificationError(
            f"{rel}: content differs from the manifest (sha256 {digest[:16]}..., "
            f"expected {entry.sha256[:16]}...)",
            reason=Reason.DIGEST_MISMATCH,
        )
    return digest


def _is_attestation_name(rel: str) -> bool:
    parts = rel.split("/")
    return (
        len(parts) == 2
        and parts[0] == ATTESTATIONS_DIR
        and parts[1].endswith(".sigstore.json")
        and check_relative_path(rel) is None
    )


def _walk(bundle_dir: Path) -> set[str]:
    """Return every file's relative POSIX path; refuse symlinks, special files, deep trees.

    Iterative (an explicit stack, never recursion), at most ``MAX_BUNDLE_DEPTH`` folders deep
    and ``MAX_BUNDLE_FILES`` entries, so a hostile tree ends with a verification error.
    """
    found: set[str] = set()
    entries = 0
    stack: list[tuple[str, int]] = [("", 0)]
    while stack:
        prefix, depth = stack.pop()
        folder = bundle_dir / prefix if prefix else bundle_dir
        try:
            with os.scandir(folder) as listing:
                children = sorted((e.name, e) for e in listing)
        except OSError as exc:
            raise VerificationError(
                f"{prefix or bundle_dir}: cannot list folder ({exc.strerror})",
                reason=Reason.UNSAFE_ENTRY,
            ) from None
        for name, child in children:
            entries += 1
            if entries > MAX_BUNDLE_FILES:
                raise VerificationError(
                    f"{bundle_dir}: more than {MAX_BUNDLE_FILES} entries",
                    reason=Reason.UNSAFE_ENTRY,
                )
            rel = f"{prefix}/{name}" if prefix else name
            info = child.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                raise VerificationError(
                    f"{rel}: symlinks are refused in bundles", reason=Reason.SYMLINK
                )
            if stat.S_ISDIR(info.st_mode):
                if depth + 1 >= MAX_BUNDLE_DEPTH:
                    raise VerificationError(
                        f"{rel}: folders nested deeper than {MAX_BUNDLE_DEPTH} levels",
                        reason=Reason.UNSAFE_ENTRY,
                    )
                stack.append((rel, depth + 1))
                continue
            if not stat.S_ISREG(info.st_mode):
                raise VerificationError(f"{rel}: not a regular file", reason=Reason.UNSAFE_ENTRY)
            problem = check_relative_path(rel)
            if problem:
                raise VerificationError(f"{rel}: {problem}", reason=Reason.UNSAFE_PATH)
            found.add(rel)
    return found


def bundled_policy(bundle_dir: Path) -> tuple[Path, BundleTree]:
    """Return the policy file inside a bundle, after checking every file against the manifest.

    Only integrity is checked here (who signed is `policy verify`'s job, against a trust
    policy); a bundle whose files do not match its manifest is never read.

    Raises:
        InputError: ``bundle_dir`` is not a folder.
        VerificationError: as ``check_tree``, or the manifest names no policy file.
    """
    tree = check_tree(bundle_dir)
    policy = next((f for f in tree.manifest.files if f.role == "policy"), None)
    if policy is None:
        raise VerificationError(
            f"{bundle_dir}: the manifest names no policy file", reason=Reason.MALFORMED_MANIFEST
        )
    return bundle_dir / policy.path, tree
