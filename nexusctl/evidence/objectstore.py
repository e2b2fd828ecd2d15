"""Where an evidence store's objects live: a local directory or an S3-compatible bucket.

A store is a set of objects named by ``/``-separated keys relative to its root
(``real/seals/000000000001.json``). :class:`LocalBlobs` keeps them in a directory,
:class:`S3Blobs` under ``s3://bucket/prefix`` through pyarrow's S3 file system (AWS S3, MinIO,
Ceph, or any endpoint that speaks the S3 API; tested against moto on 127.0.0.1).

What the store's commit protocol needs from each (``docs/evidence.md#object-storage``):

* **whole-object writes**: a reader sees an object entirely or not at all. Locally, a write goes
  to a temporary name and is renamed into place; on S3 a PUT (or a completed multipart upload)
  is atomic by definition and, since December 2020, strongly read-after-write consistent for
  PUTs, overwrites, DELETEs and LISTs (AWS S3 user guide, "Amazon S3 data consistency model");
* **create-only writes** for sealed segments: locally a hard link refuses an existing name; on
  S3, which has no rename and whose conditional PUT (``If-None-Match``) pyarrow does not
  expose, the writer checks that the key is absent while it holds the writer lock;
* **one writer at a time**: locally ``flock``; on S3 a lock *object* (``.lock``) made by a
  conditional PUT (``If-None-Match: *``, :mod:`nexusctl.evidence.s3put`): exactly one of two
  racing writers creates it. With credentials pyarrow finds on its own (a profile, an instance
  role) nothing can sign that request, and the lock falls back to create-if-absent and read
  back, which is advisory (two writers within one round trip can both believe they hold it);
  what it cannot prevent, ``evidence verify`` detects, because every segment, seal and tile
  must hash to what a signed checkpoint committed to.

Credentials are passed in explicitly (the CLI reads the standard ``AWS_*`` variables); they are
never part of a message, a ``repr`` or a file.
"""

from __future__ import annotations

import abc
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from nexusctl.errors import ConflictError, EnvironmentError_, InputError, UsageError
from nexusctl.files import flock_within, open_regular, read_bounded, sha256_file

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs as pafs

_LOCK = ".lock"
_SCHEMES = ("s3://",)


@dataclass(frozen=True)
class S3Options:
    """How to reach an S3-compatible service; ``None`` leaves a value to pyarrow's defaults."""

    endpoint: str | None = None
    region: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)


class Blobs(abc.ABC):
    """The objects of one store, by key. Subclasses implement storage; keys never hold ``..``."""

    url: str

    @abc.abstractmethod
    def describe(self, key: str) -> str:
        """Return where ``key`` lives, for messages (a path or an ``s3://`` URL)."""

    @abc.abstractmethod
    def read(self, key: str, cap: int, what: str) -> bytes:
        """Return an object's bytes, refusing more than ``cap``.

        Raises:
            InputError: missing, not a regular object, or larger than ``cap``.
            EnvironmentError_: the service failed.
        """

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object ``key`` exists."""

    def read_if_exists(self, key: str, cap: int, what: str) -> bytes | None:
        """Return at most ``cap + 1`` bytes of an object, or ``None`` if it does not exist."""
        if not self.exists(key):
            return None
        with self.open_input(key, what) as handle:
            return bytes(handle.read(cap + 1))

    @abc.abstractmethod
    def keys(self, prefix: str) -> list[str]:
        """Return the keys of every object under ``prefix`` (recursive), sorted."""

    @abc.abstractmethod
    def size(self, key: str) -> int:
        """Return the size of an object in bytes (-1 when it does not exist)."""

    @abc.abstractmethod
    def put(self, key: str, data: bytes, *, durable: bool = True) -> None:
        """Write an object whole, replacing any; ``durable=False`` may skip a local fsync."""

    def put_new(self, key: str, data: bytes) -> None:
        """Write an object that must not exist yet (under the writer lock).

        Raises:
            ConflictError: the key exists.
        """
        if self.exists(key):
            raise ConflictError(f"{self.describe(key)}: exists; sealed objects are never replaced")
        self.put(key, data)

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; a missing one is not an error."""

    @abc.abstractmethod
    def open_input(self, key: str, what: str) -> contextlib.AbstractContextManager[Any]:
        """Open an object for random-access reading (Parquet readers need it).

        Raises:
            InputError: missing or not a regular object.
        """

    def sha256(self, key: str, what: str) -> str:
        """Return the hex SHA-256 of an object."""
        digest = hashlib.sha256()
        with self.open_input(key, what) as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
        return digest.hexdigest()

    def write_parquet_new(self, key: str, table: pa.Table) -> str:
        """Write a table as a new zstd Parquet object; return its hex SHA-256.

        Raises:
            ConflictError: the key exists.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd", row_group_size=122_880)
        data = sink.getvalue().to_pybytes()
        self.put_new(key, data)
        return hashlib.sha256(data).hexdigest()

    @abc.abstractmethod
    def lock(self, timeout_s: float) -> contextlib.AbstractContextManager[None]:
        """Hold the store's writer lock for the ``with`` block.

        Raises:
            ConflictError: another writer held it for longer than ``timeout_s``.
        """

    @abc.abstractmethod
    def arrow_files(self, keys: list[str]) -> tuple[pafs.FileSystem, list[str]]:
        """Return a pyarrow file system and the paths of ``keys`` in it (for datasets)."""

    def is_empty(self) -> bool:
        """Whether the store holds no object at all."""
        return not self.keys("")


class LocalBlobs(Blobs):
    """A store in a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def path(self, key: str) -> Path:
        """The file of ``key``."""
        return self.root / key if key else self.root

    def describe(self, key: str) -> str:
        return str(self.path(key))

    def read(self, key: str, cap: int, what: str) -> bytes:
        return read_bounded(self.path(key), cap, what=what)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        path = self.path(key)
        return path.stat().st_size if path.is_file() else -1

    def keys(self, prefix: str) -> list[str]:
        folder = self.path(prefix)
        if not folder.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in folder.rglob("*") if p.is_file())

    def put(self, key: str, data: bytes, *, durable: bool = True) -> None:
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            with open(tmp, "wb") as handle:
                handle.write(data)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise EnvironmentError_(f"cannot write {path}: {exc.strerror}") from None

    def put_new(self, key: str, data: bytes) -> None:
        self._link_new(self.path(key), lambda tmp: tmp.write_bytes(data))

    def _link_new(self, path: Path, write: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            write(tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            # A hard link refuses an existing name: a sealed file is never replaced.
            os.link(tmp, path)
        except FileExistsError:
            raise ConflictError(f"{path}: exists; sealed objects are never replaced") from None
        except OSError as exc:
            raise EnvironmentError_(f"cannot write {path}: {exc.strerror}") from None
        finally:
            tmp.unlink(missing_ok=True)

    def write_parquet_new(self, key: str, table: pa.Table) -> str:
        import pyarrow.parquet as pq

        path = self.path(key)
        self._link_new(
            path,
            lambda tmp: pq.write_table(table, tmp, compression="zstd", row_group_size=122_880),
        )
        return sha256_file(path, what="segment")

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def open_input(self, key: str, what: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        return open_regular(self.path(key), what=what)

    def sha256(self, key: str, what: str) -> str:
        return sha256_file(self.path(key), what=what)

    @contextlib.contextmanager
    def lock(self, timeout_s: float) -> Iterator[None]:
        fd = os.open(self.root / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not flock_within(fd, fcntl.LOCK_EX, timeout_s):
                raise ConflictError(
                    f"{self.root}: another ingest holds the writer lock", hint="retry later"
                )
            yield
        finally:
            os.close(fd)

    def arrow_files(self, keys: list[str]) -> tuple[pafs.FileSystem, list[str]]:
        import pyarrow.fs as pafs

        return pafs.LocalFileSystem(), [str(self.path(k)) for k in keys]

    def is_empty(self) -> bool:
        return not self.root.exists() or (self.root.is_dir() and not any(self.root.iterdir()))


class S3Blobs(Blobs):
    """A store under ``s3://bucket/prefix`` on any S3-compatible service."""

    def __init__(self, bucket: str, prefix: str, options: S3Options) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.options = options
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._fs: pafs.S3FileSystem | None = None

    @property
    def fs(self) -> pafs.S3FileSystem:
        """The pyarrow S3 file system (created on first use)."""
        if self._fs is None:
            import pyarrow.fs as pafs

            endpoint, scheme = self.options.endpoint, "https"
            if endpoint is not None and "://" in endpoint:
                scheme, endpoint = endpoint.split("://", 1)
            self._fs = pafs.S3FileSystem(
                access_key=self.options.access_key,
                secret_key=self.options.secret_key,
                session_token=self.options.session_token,
                region=self.options.region,
                endpoint_override=endpoint,
                scheme=scheme,
                allow_bucket_creation=False,
                allow_bucket_deletion=False,
                connect_timeout=10,
                request_timeout=60,
            )
        return self._fs

    def _path(self, key: str) -> str:
        return "/".join(p for p in (self.bucket, self.prefix, key) if p)

    def describe(self, key: str) -> str:
        return f"s3://{self._path(key)}"

    def _fail(self, key: str, action: str, exc: OSError) -> EnvironmentError_:
        # pyarrow's messages name the operation, bucket and AWS error; never a credential.
        reason = " ".join(str(exc).split())[:300]
        return EnvironmentError_(f"{self.describe(key)}: cannot {action} ({reason})")

    def _info(self, key: str) -> Any:
        try:
            return self.fs.get_file_info(self._path(key))
        except OSError as exc:
            raise self._fail(key, "stat", exc) from None

    def read(self, key: str, cap: int, what: str) -> bytes:
        with self.open_input(key, what) as handle:
            try:
                raw = bytes(handle.read(cap + 1))
            except OSError as exc:
                raise self._fail(key, f"read {what}", exc) from None
        if len(raw) > cap:
            raise InputError(f"{self.describe(key)}: {what} is larger than {cap} bytes")
        return raw

    def exists(self, key: str) -> bool:
        import pyarrow.fs as pafs

        return bool(self._info(key).type == pafs.FileType.File)

    def read_if_exists(self, key: str, cap: int, what: str) -> bytes | None:
        # One GET, no HEAD first: verify reads thousands of tiles.
        try:
            with self.fs.open_input_stream(self._path(key)) as stream:
                return bytes(stream.read(cap + 1))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._fail(key, f"read {what}", exc) from None

    def size(self, key: str) -> int:
        import pyarrow.fs as pafs

        info = self._info(key)
        return int(info.size) if info.type == pafs.FileType.File else -1

    def keys(self, prefix: str) -> list[str]:
        import pyarrow.fs as pafs

        base = self._path("")
        selector = pafs.FileSelector(self._path(prefix), recursive=True, allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except OSError as exc:
            raise self._fail(prefix, "list", exc) from None
        return sorted(
            info.path[len(base) + 1 :] for info in infos if info.type == pafs.FileType.File
        )

    def put(self, key: str, data: bytes, *, durable: bool = True) -> None:
        try:
            with self.fs.open_output_stream(self._path(key)) as stream:
                stream.write(data)
        except OSError as exc:
            raise self._fail(key, "write", exc) from None

    def delete(self, key: str) -> None:
        try:
            self.fs.delete_file(self._path(key))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._fail(key, "delete", exc) from None

    @contextlib.contextmanager
    def open_input(self, key: str, what: str) -> Iterator[Any]:
        import pyarrow.fs as pafs

        info = self._info(key)
        if info.type != pafs.FileType.File:
            raise InputError(f"{self.describe(key)}: {what} not found")
        try:
            handle = self.fs.open_input_file(self._path(key))
        except OSError as exc:
            raise self._fail(key, f"open {what}", exc) from None
        with handle:
            yield handle

    @contextlib.contextmanager
    def lock(self, timeout_s: float) -> Iterator[None]:
        token = secrets.token_hex(16)
        body = json.dumps({"token": token, "pid": os.getpid(), "since": time.time()}).encode()
        deadline = time.monotonic() + timeout_s
        while True:
            if self._create_lock(body):
                break
            if time.monotonic() >= deadline:
                raise ConflictError(
                    f"{self.describe(_LOCK)}: another ingest holds the writer lock",
                    hint="retry later; if no ingest is running (one was killed), delete that "
                    "object",
                )
            time.sleep(0.2)
        try:
            yield
        finally:
            with contextlib.suppress(EnvironmentError_, InputError):
                if self.read(_LOCK, 1 << 12, "lock") == body:
                    self.delete(_LOCK)

    def _create_lock(self, body: bytes) -> bool:
        """Create the lock object if absent; whether this writer now holds it."""
        options = self.options
        if options.access_key and options.secret_key:
            # Atomic: a conditional PUT (If-None-Match: *) creates it for exactly one writer.
            from nexusctl.evidence.s3put import put_if_absent, signed_put

            credentials = (options.access_key, options.secret_key, options.session_token)
            key = "/".join(p for p in (self.prefix, _LOCK) if p)
            request = signed_put(
                options.endpoint,
                options.region,
                credentials,
                self.bucket,
                key,
                body,
            )
            return put_if_absent(request, self.describe(_LOCK))
        # Credentials from pyarrow's own chain (profile, instance role) cannot sign the
        # conditional PUT: create when absent, then read back -- of two writers that both saw
        # no lock, the one whose PUT landed last owns it, the other sees a foreign token.
        if self.exists(_LOCK):
            return False
        self.put(_LOCK, body)
        return self.read(_LOCK, 1 << 12, "lock") == body

    def arrow_files(self, keys: list[str]) -> tuple[pafs.FileSystem, list[str]]:
        return self.fs, [self._path(k) for k in keys]


#: A store: a local directory, or the objects of one (local or S3).
StoreRoot = Path | Blobs


def as_blobs(root: StoreRoot) -> Blobs:
    """Return the objects of a store given as a local directory or as :class:`Blobs`."""
    return LocalBlobs(root) if isinstance(root, Path) else root


def is_url(text: str) -> bool:
    """Whether ``text`` names an object store (``s3://...``) rather than a directory."""
    return text.startswith(_SCHEMES)


def open_location(text: str, options: S3Options) -> StoreRoot:
    """Return the store named by a directory path or an ``s3://bucket/prefix`` URL.

    Raises:
        UsageError: an ``s3://`` URL without a bucket, or with ``..`` in the prefix.
    """
    if not is_url(text):
        return Path(text)
    bucket, _, prefix = text[len("s3://") :].partition("/")
    if not bucket or ".." in prefix.split("/"):
        raise UsageError(f"{text!r} is not s3://BUCKET[/PREFIX]")
    return S3Blobs(bucket, prefix, options)
