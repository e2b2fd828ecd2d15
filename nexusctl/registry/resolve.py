"""``registry resolve``: a python-tuf ``ngclient`` that fetches an environment's live bundle.

The client keeps its trusted metadata in a state folder between runs, so python-tuf refuses
rollback (a lower version than it trusted), freeze (expired metadata), mix-and-match (a
targets file the snapshot does not name) and altered bundle bytes (hash and length from the
signed targets). The first run trusts the root given with ``root`` (or, trust on first use,
the registry's ``1.root.json``). The source is a registry folder or an HTTP base URL serving
``tuf/<env>/``. A registry clone is read between its events only (``_readlock``): under its
lock, shared, and never while an interrupted event's files are in the tree, so the state
never keeps metadata (a rotated root, say) that the next command undoes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from nexusctl.errors import EnvironmentError_, InputError, UsageError, VerificationError

if TYPE_CHECKING:
    from tuf.ngclient.fetcher import FetcherInterface

MAX_ROOT_BYTES = 1024 * 1024
#: How long to wait, by default, for a registry command holding a clone's lock (events take
#: seconds at most; a gateway polling every minute can afford it).
DEFAULT_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class Resolved:
    """A verified live bundle, unpacked in the client's cache."""

    environment: str
    name: str
    version: int
    digest: str
    path: Path

    def to_json(self) -> dict[str, object]:
        """Return the JSON document the CLI prints."""
        return {
            "environment": self.environment,
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "path": str(self.path),
        }


def _chunks(fd: int) -> Iterator[bytes]:
    """Read ``fd`` to its end in 64 KiB chunks, closing it however the reader stops."""
    import os

    try:
        while chunk := os.read(fd, 1 << 16):
            yield chunk
    finally:
        os.close(fd)


def _folder_fetcher() -> FetcherInterface:
    from tuf.api.exceptions import DownloadHTTPError
    from tuf.ngclient.fetcher import FetcherInterface

    class FolderFetcher(FetcherInterface):
        """Serve ``file://`` URLs from the local file system (a registry clone)."""

        def _fetch(self, url: str) -> Iterator[bytes]:
            """Stream the file in chunks, so python-tuf's length limit stops an endless or
            huge file; a symlink or special file (a tampered clone) is refused."""
            import os
            import stat

            path = Path(unquote(urlparse(url).path))
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise DownloadHTTPError(f"{path} not found", 404) from None
            except OSError as exc:
                raise DownloadHTTPError(f"{path}: {exc.strerror}", 403) from None
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise DownloadHTTPError(f"{path}: not a regular file", 403)
            return _chunks(fd)

    return FolderFetcher()


def resolve(
    source: str,
    env: str,
    name: str,
    state_dir: Path,
    *,
    root: Path | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> Resolved:
    """Fetch and verify ``name``'s live bundle in ``env`` with python-tuf; unpack it.

    From a registry clone, waits up to ``wait_seconds`` for a registry command in progress
    there; the state folder is not touched when the clone is refused.

    Raises:
        VerificationError: python-tuf refused the metadata or the bundle (``tuf-refused``),
            ``name`` is not live in ``env`` (``not-live``), or the clone holds an interrupted
            event's files (``uncommitted-event``).
        ConflictError: a registry command held the clone's lock longer than ``wait_seconds``.
        EnvironmentError_: the source could not be reached.
        InputError: no trusted root to start from.
        UsageError: ``env`` or ``name`` is not an identifier.
    """
    import re

    from nexusctl.document.model import IDENTIFIER_RE
    from nexusctl.registry._tufload import load_tuf

    for what, value in (("environment", env), ("policy name", name)):
        if re.fullmatch(IDENTIFIER_RE, value) is None:  # both become paths and URL segments
            raise UsageError(f"{what} {value!r} is not an identifier (lowercase, digits, . _ -)")
    load_tuf()
    from tuf.api import exceptions
    from tuf.ngclient import Updater

    folder = None
    if source.startswith(("http://", "https://")):
        base, fetcher = source.rstrip("/") + f"/tuf/{env}", None
    else:
        try:
            folder = Path(source).resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
            raise InputError(f"{source}: not a registry folder ({exc})") from None
        base, fetcher = (folder / "tuf" / env).as_uri(), _folder_fetcher()
    if os.path.lexists(state_dir) and not state_dir.is_dir():
        raise InputError(f"{state_dir}: --state must be a folder (the client's trusted metadata)")
    metadata_dir = state_dir / env / "metadata"
    targets_dir = state_dir / env / "targets"
    try:
        with _between_events(folder, env, wait_seconds):
            try:
                metadata_dir.mkdir(parents=True, exist_ok=True)
                targets_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise EnvironmentError_(
                    f"{state_dir}: cannot create the client's state folders: {exc.strerror}"
                ) from None
            bootstrap = None
            if not (metadata_dir / "root.json").is_file():
                bootstrap = _first_root(root, source, env)
            updater = Updater(
                str(metadata_dir),
                base + "/metadata/",
                str(targets_dir),
                base + "/targets/",
                fetcher=fetcher,
                bootstrap=bootstrap,
            )
            updater.refresh()
            info = updater.get_targetinfo(f"{name}.tar")
            if info is None:
                raise VerificationError(
                    f"{name} is not live in '{env}': its signed, current TUF targets do not "
                    "list it",
                    reason="not-live",
                    hint=f"nothing is live until `registry promote {name}@VERSION --to {env}`",
                )
            path = updater.find_cached_target(info) or updater.download_target(info)
    except exceptions.DownloadError as exc:
        raise EnvironmentError_(f"cannot fetch from {source}: {exc}") from None
    except exceptions.RepositoryError as exc:
        raise VerificationError(
            f"the TUF client refused '{env}': {type(exc).__name__}: {exc}", reason="tuf-refused"
        ) from None
    except OSError as exc:  # the client's own state folder: a file where a folder must be, ...
        where = exc.filename or state_dir
        raise EnvironmentError_(f"{where}: cannot use the client's state: {exc.strerror}") from None
    custom = info.unrecognized_fields.get("custom", {})
    return Resolved(
        environment=env,
        name=name,
        version=int(custom.get("version", 0)),
        digest=str(custom.get("digest", "")),
        path=_unpack(Path(path), state_dir / env / "bundles", str(custom.get("digest", ""))),
    )


def _between_events(
    folder: Path | None, env: str, wait_seconds: float
) -> contextlib.AbstractContextManager[None]:
    """Read a registry clone between its events (see ``_readlock``); other sources as they are.

    An HTTP server, or a folder that is not a registry clone (an exported copy), has no
    writer here to wait for; it should serve a clone it updates by ``git pull`` (which only
    brings committed, pushed events) or an exported copy.
    """
    if folder is None or not (folder / ".git").is_dir():
        return contextlib.nullcontext()
    from nexusctl.registry._readlock import reading
    from nexusctl.registry._store import RECORDS, Store

    if not (folder / RECORDS).is_dir():
        return contextlib.nullcontext()
    return reading(Store(folder), f"tuf/{env}", wait_seconds)


def _first_root(root: Path | None, source: str, env: str) -> bytes:
    from nexusctl.files import read_bounded

    if root is not None:
        return read_bounded(root, MAX_ROOT_BYTES, what="TUF root")
    if source.startswith(("http://", "https://")):
        raise InputError("a first resolve over HTTP needs --root (the trusted 1.root.json)")
    return read_bounded(
        Path(source) / "tuf" / env / "metadata" / "1.root.json", MAX_ROOT_BYTES, what="TUF root"
    )


def _unpack(tar_path: Path, cache: Path, digest: str) -> Path:
    target = cache / digest.removeprefix("sha256:")
    if target.is_dir():
        return target
    import shutil

    tmp = cache / f".{target.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(tar_path.read_bytes())) as tar:
        tar.extractall(tmp, filter="data")
    manifest = tmp / "manifest.json"
    if "sha256:" + hashlib.sha256(manifest.read_bytes()).hexdigest() != digest:
        raise VerificationError(
            "the bundle's manifest is not the signed digest", reason="tuf-refused"
        )
    tmp.rename(target)
    return target
