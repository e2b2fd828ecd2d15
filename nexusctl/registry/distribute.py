"""Distribution to gateways: each environment's live bundles as a TUF repository (python-tuf).

``tuf/<env>/metadata/`` holds ``N.root.json`` (root role: the registry admins; ``1.root.json``
is written at init, later versions when a config change rotates keys: see ``tufroots``),
``N.targets.json`` and ``N.snapshot.json`` (consistent snapshots) and ``timestamp.json``;
``tuf/<env>/targets/<sha256>.<name>.tar`` holds each live bundle as a deterministic tar. The
targets, snapshot and timestamp roles are the releasers' keys; the releaser who promotes signs
them. Expiry is the environment's ``pointerExpirySeconds``. Rollback, freeze and mix-and-match
protection are python-tuf's (``ngclient``), not ours: see ``resolve``.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from nexusctl.registry._store import TUF, Store
from nexusctl.registry.config import RegistryConfig, RegistryEnvironment

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from nexusctl.registry._context import Actor, Registry


def bundle_tar(bundle_dir: Path) -> bytes:
    """Return a deterministic tar of ``bundle_dir`` (sorted names, no owners, times or modes)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in bundle_dir.rglob("*") if p.is_file()):
            data = path.read_bytes()
            info = tarfile.TarInfo(path.relative_to(bundle_dir).as_posix())
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def write_roots(
    store: Store, config: RegistryConfig, admins: list[ec.EllipticCurvePrivateKey], now: dt.datetime
) -> None:
    """Write ``1.root.json`` for every environment, signed by the given admin keys."""
    from nexusctl.registry._tufload import load_tuf

    load_tuf()
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata

    from nexusctl.registry.tufroots import ROOT_EXPIRY, root_for

    for env in config.spec.environments:
        metadata = Metadata(root_for(config, 1, now + ROOT_EXPIRY))
        for private in admins:
            metadata.sign(CryptoSigner(private), append=True)
        store.write(f"{TUF}/{env.name}/metadata/1.root.json", metadata.to_bytes())


def publish_metadata(
    reg: Registry, env: RegistryEnvironment, actor: Actor, now: dt.datetime
) -> None:
    """Publish ``env``'s live set as new targets, snapshot and timestamp (timestamp last).

    Called after the live set changed and before the commit; a crash before the commit is
    undone by the next command, so a half-written set is never committed.
    """
    from nexusctl.registry._tufload import load_tuf

    load_tuf()
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata, MetaFile, Snapshot, TargetFile, Targets, Timestamp

    base = f"{TUF}/{env.name}"
    folder = reg.store.root / base / "metadata"
    expires = now + dt.timedelta(seconds=env.pointer_expiry_seconds)
    version = _current_version(folder, "timestamp") + 1
    assert actor.private is not None, "promote and rollback take a key actor"
    signer = CryptoSigner(actor.private)
    targets = Targets(version=version, expires=expires)
    for name, entry in sorted(reg.state.live.get(env.name, {}).items()):
        data = bundle_tar(reg.store.bundle_dir(entry.digest))
        target = TargetFile.from_data(f"{name}.tar", data, ["sha256"])
        target.unrecognized_fields["custom"] = {
            "version": entry.version,
            "digest": entry.digest,
        }
        targets.targets[target.path] = target
        reg.store.write(f"{base}/targets/{target.hashes['sha256']}.{name}.tar", data)
    targets_md = Metadata(targets)
    targets_md.sign(signer)
    reg.store.write(f"{base}/metadata/{version}.targets.json", targets_md.to_bytes())
    snapshot = Snapshot(version=version, expires=expires)
    snapshot.meta["targets.json"] = MetaFile(version=version)
    snapshot_md = Metadata(snapshot)
    snapshot_md.sign(signer)
    reg.store.write(f"{base}/metadata/{version}.snapshot.json", snapshot_md.to_bytes())
    timestamp = Timestamp(version=version, expires=expires)
    timestamp.snapshot_meta = MetaFile(version=version)
    timestamp_md = Metadata(timestamp)
    timestamp_md.sign(signer)
    reg.store.write(f"{base}/metadata/timestamp.json", timestamp_md.to_bytes())


def _current_version(folder: Path, role: str) -> int:
    """The version of the role's current metadata (0: none yet), read as any tree file is.

    Raises:
        VerificationError: ``tuf-mismatch``: not a regular file within the cap, or not
            metadata with an integer version (someone with push access replaced it).
    """
    from nexusctl.document.strict_json import JsonLimitError, loads_strict
    from nexusctl.errors import VerificationError
    from nexusctl.registry.records import read_record
    from nexusctl.registry.tufroots import MAX_TUF_BYTES

    path = folder / f"{role}.json"
    if not os.path.lexists(path):
        return 0
    shown = f"{TUF}/{folder.parent.name}/metadata/{role}.json"
    raw = read_record(path, shown, MAX_TUF_BYTES, "tuf-mismatch")
    try:
        version = loads_strict(raw)["signed"]["version"]
    except (JsonLimitError, KeyError, TypeError) as exc:
        version = exc
    if type(version) is not int or version < 1:
        raise VerificationError(
            f"{shown}: not TUF metadata with a version",
            reason="tuf-mismatch",
            hint="`registry verify` names what changed it; restore it from the history",
        )
    return version
