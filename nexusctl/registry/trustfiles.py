"""The trust policy a registry judges bundle signatures by, pinned file by file.

A trust policy names key, certificate-authority and trusted-root files by path; its own digest
does not cover them. What the admins sign for a config version that brings a trust policy (and
for version 1, at init) therefore names, as statement subjects, the trust policy file
(``registry-trust-policy``) and every file it names (``registry-trust-policy/<path>``), each
by SHA-256. A trust policy is never changed in place: a config change that brings one names a
new path (``trust/v2/trust.yaml``); it is staged under ``config/proposed/vNNNNNN.trust/``
until ``config apply`` moves it there, never over a file an earlier trust policy uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nexusctl.canonical import sha256_hex
from nexusctl.errors import InputError
from nexusctl.files import read_bounded
from nexusctl.registry._store import CONFIG, Store, config_name
from nexusctl.registry.config import LoadedConfig, RegistryConfig

if TYPE_CHECKING:
    from nexusctl.signing.trust import TrustPolicy

TRUST_SUBJECT = "registry-trust-policy"
MAX_TRUST_FILE_BYTES = 8 * 1024 * 1024


def named_files(policy: TrustPolicy) -> list[str]:
    """Return the files a trust policy names (keys, CA certificates, trusted roots), sorted.

    Raises:
        InputError: a name is absolute or leaves the trust policy's folder.
    """
    names: set[str] = set()
    for env in policy.spec.environments.values():
        names.update(k.path for k in env.keys if k.path is not None)
        names.update(ca.path for ca in env.certificate_authorities)
        names.update([env.trusted_root] if env.trusted_root else [])
    for name in names:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise InputError(f"trust policy: '{name}' is outside the trust policy's folder")
    return sorted(names)


def binding(root: Path, rel: str) -> dict[str, str]:
    """Return the statement subjects pinning the trust policy at ``root/rel`` and its files.

    Raises:
        InputError: the trust policy or a file it names is missing, invalid or too large.
    """
    from nexusctl.signing import load_trust_policy

    path = root / rel
    raw = read_bounded(path, MAX_TRUST_FILE_BYTES, what="trust policy")
    out = {TRUST_SUBJECT: "sha256:" + sha256_hex(raw)}
    for name in named_files(load_trust_policy(path)):
        data = read_bounded(path.parent / name, MAX_TRUST_FILE_BYTES, what="trust file")
        out[f"{TRUST_SUBJECT}/{name}"] = "sha256:" + sha256_hex(data)
    return out


def copy_trust_policy(store: Store, trust_path: Path, rel: str) -> str:
    """Copy the trust policy (and the key/CA/root files it names) into the registry at ``rel``.

    Returns the ``sha256:<hex>`` of the trust policy file.

    Raises:
        InputError: the trust policy is invalid or names a file outside its folder.
    """
    from nexusctl.signing import load_trust_policy

    policy = load_trust_policy(trust_path)
    raw = read_bounded(trust_path, MAX_TRUST_FILE_BYTES, what="trust policy")
    target = store.write(rel, raw)
    for name in named_files(policy):
        data = read_bounded(trust_path.parent / name, MAX_TRUST_FILE_BYTES, what="trust file")
        store.write(str((target.parent / name).relative_to(store.root)), data)
    return "sha256:" + sha256_hex(raw)


def trust_dir(version: int) -> str:
    """Return the folder staging the trust policy proposed with config ``version``."""
    return f"{CONFIG}/proposed/{config_name(version).removesuffix('.yaml')}.trust"


def stage_trust(store: Store, config: RegistryConfig, trust: Path, version: int) -> dict[str, str]:
    """Stage ``trust`` for config ``version`` at the path its ``trustPolicy`` names; return
    the subjects pinning it.

    Raises:
        InputError: the path is in use or outside the registry, the trust policy lacks a trust
            environment the config names, or a file it names would overwrite another.
    """
    from nexusctl.signing import load_trust_policy

    rel = config.spec.trust_policy
    if Path(rel).is_absolute() or ".." in Path(rel).parts or (store.root / rel).exists():
        raise InputError(
            f"config v{version}: trustPolicy '{rel}' must be a new path in the registry",
            hint="e.g. trust/v2/trust.yaml: records before the change are still verified "
            "under the trust policy they were made under",
        )
    policy = load_trust_policy(trust)
    missing = sorted(
        {e.trust_environment for e in config.spec.environments} - set(policy.spec.environments)
    )
    if missing:
        raise InputError(f"{trust}: no trust environment {', '.join(missing)}")
    copy_trust_policy(store, trust, f"{trust_dir(version)}/{rel}")
    staged = store.root / trust_dir(version)
    for path in sorted(p for p in staged.rglob("*") if p.is_file()):
        final = store.root / path.relative_to(staged)
        if final.exists() and final.read_bytes() != path.read_bytes():
            raise InputError(
                f"{trust}: would overwrite {path.relative_to(staged)}, which the registry "
                "already holds; keep the new trust policy's files in a folder of their own"
            )
    return binding(staged, rel)


def staged_binding(store: Store, loaded: LoadedConfig, version: int) -> dict[str, str] | None:
    """Return the subjects pinning the trust policy staged with config ``version`` (or None).

    Raises:
        InputError: the staged trust policy or a file it names is missing or invalid.
    """
    staged = store.root / trust_dir(version)
    if not (staged / loaded.config.spec.trust_policy).is_file():
        return None
    return binding(staged, loaded.config.spec.trust_policy)


def install_trust(store: Store, version: int) -> None:
    """Move the trust policy staged with config ``version`` into place (``config apply``)."""
    staged = store.root / trust_dir(version)
    if not staged.is_dir():
        return
    for path in sorted(p for p in staged.rglob("*") if p.is_file()):
        store.write(path.relative_to(staged).as_posix(), path.read_bytes())


def held_digest(path: Path, what: str) -> str:
    """``sha256:<hex>`` of the trust file at ``path`` as the tree holds it ("" when absent).

    Read like every file of the tree: a regular file, not a symlink, within the cap.

    Raises:
        VerificationError: ``trust-policy-changed``: a symlink, special file or larger file.
    """
    import os

    from nexusctl.registry.records import read_record

    if not os.path.lexists(path):
        return ""
    return "sha256:" + sha256_hex(
        read_record(path, what, MAX_TRUST_FILE_BYTES, "trust-policy-changed")
    )
