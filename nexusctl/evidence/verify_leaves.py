"""Re-hash every record of a log's sealed segments: the bulk of ``evidence verify``.

Each segment object is read once: its bytes give both its SHA-256 (compared with the seal) and
the Parquet decoded from memory, so a store is read from disk (or S3) once, not twice. Request
ids stay Arrow arrays; they become Python strings only when a record has to be named.
Segments dropped by a verified retention tombstone contribute the committed leaves themselves.

On a local store of at least :data:`PARALLEL_MIN_ROWS` records the segments are hashed by
worker processes (one per available core) while the caller checks the stored tree: each
segment's leaves depend on that segment alone, and the results are taken back in seal order.
The workers are forked, so they start with the caller's imports and cost no start-up; to be
fork-safe that happens only from a single-threaded process (the CLI's case; a process with
native threads, a test runner's after DuckDB ran, hashes in-process). A fork server or spawned
workers would re-import ``__main__`` and pay the pydantic and pyarrow imports (0.8 s of CPU).
Every leaf is still computed from the record; the workers return only leaf hashes and the
object's digest, and request ids are read back only when a record has to be named.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexusctl.errors import InputError
from nexusctl.evidence.merkle import HASH_SIZE
from nexusctl.evidence.objectstore import LocalBlobs
from nexusctl.evidence.record import ALIASES
from nexusctl.evidence.store import Log, Seal, read_segment
from nexusctl.evidence.table import leaf_hashes
from nexusctl.files import open_regular

if TYPE_CHECKING:
    import pyarrow as pa

_REQUEST_ID = "nexus.request.id"
#: Segments larger than this are streamed from the object twice (hash, then decode) instead
#: of being held in memory once.
_IN_MEMORY = 256 << 20
#: Stores with fewer records are hashed in the calling process: starting workers costs more.
PARALLEL_MIN_ROWS = 200_000


@dataclass
class ObservedLeaves:
    """What the segments hold: leaf hashes in tree order, ids per segment, problems found."""

    hashes: bytes = b""
    segments: list[tuple[Seal, list[str | None]]] = field(default_factory=list)
    records: int = 0
    problems: list[tuple[str, str, str | None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Ids:
    """A segment's request ids, materialised as Python strings only when asked.

    ``source`` (a log and segment key) is read for them when no column was kept.
    """

    def __init__(
        self, column: pa.ChunkedArray | None, rows: int, source: tuple[Log, str] | None = None
    ) -> None:
        self.column = column
        self.rows = rows
        self.source = source

    def to_list(self) -> list[str | None]:
        if self.column is None and self.source is not None:
            log, key = self.source
            with contextlib.suppress(InputError):
                self.column = read_segment(log.blobs, key, [_REQUEST_ID]).column(0)
        if self.column is None or len(self.column) != self.rows:
            return [None] * self.rows
        return list(self.column.to_pylist())


class LeafJobs:
    """Segments of a local store being hashed by worker processes while the caller goes on.

    Empty (everything hashed in the calling process) for an S3 store, a store smaller than
    ``min_rows`` records, or a machine with one core.
    """

    def __init__(self, log: Log, seals: list[Seal], min_rows: int | None = None) -> None:
        self.futures: dict[int, Future[tuple[bytes, str, str | None]]] = {}
        self._pool: ProcessPoolExecutor | None = None
        workers = min(_cores(), len(seals))
        if not isinstance(log.blobs, LocalBlobs) or workers < 2:
            return
        least = PARALLEL_MIN_ROWS if min_rows is None else min_rows
        if sum(seal.rows for seal in seals) < least or not _single_threaded():
            return
        import multiprocessing

        # Python 3.11 forks every worker at the first submit, before the pool's own threads.
        context = multiprocessing.get_context("fork")
        self._pool = ProcessPoolExecutor(workers, mp_context=context)
        for seal in seals:
            path = log.blobs.path(log.segment_key(seal))
            self.futures[seal.seq] = self._pool.submit(_hash_file, str(path))

    def close(self) -> None:
        """Stop the workers (jobs not started are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@contextlib.contextmanager
def leaf_jobs(log: Log, seals: list[Seal], min_rows: int | None = None) -> Iterator[LeafJobs]:
    """Start hashing ``seals``' segments in worker processes; stop the workers on exit."""
    jobs = LeafJobs(log, seals, min_rows)
    try:
        yield jobs
    finally:
        jobs.close()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _single_threaded() -> bool:
    """Whether this process runs one OS thread (native threads included), so fork is safe."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            counts = [line.split()[1] for line in status if line.startswith("Threads:")]
    except OSError:
        return False
    return counts == ["1"]


def _hash_file(path: str) -> tuple[bytes, str, str | None]:
    """Worker: a segment file's leaf hashes and SHA-256, or an error message."""
    import pyarrow as pa

    try:
        # A regular file only, checked on the open descriptor (a planted FIFO would block).
        with open_regular(Path(path), what="segment") as handle:
            big = os.fstat(handle.fileno()).st_size > _IN_MEMORY
            data = b"" if big else handle.read()
        if big:
            blobs = LocalBlobs(Path(path).parent)
            leaves, _, digest = _hash_streamed_blobs(blobs, Path(path).name)
            return leaves, digest, None
        leaves, _ = _leaves_of(pa.BufferReader(data), keep_ids=False)
        return leaves, hashlib.sha256(data).hexdigest(), None
    except (pa.ArrowException, OSError) as exc:
        return b"", "", f"{path}: not a readable Parquet segment ({exc})"
    except (InputError, KeyError) as exc:
        return b"", "", str(exc)


def hash_segments(
    log: Log,
    seals: list[Seal],
    dropped: set[int],
    committed: bytes | None,
    jobs: LeafJobs | None = None,
) -> ObservedLeaves:
    """Hash every record of every sealed segment of ``log`` in seal order.

    A segment in ``dropped`` (a verified tombstone's) is not read: its committed leaves stand
    in for it when ``committed`` is known. A segment ``jobs`` is hashing is taken from there.
    """
    out = ObservedLeaves()
    hashes = bytearray()
    ids: list[tuple[Seal, _Ids]] = []
    for seal in seals:
        key = log.segment_key(seal)
        if seal.seq in dropped:
            if committed is not None:
                start, end = seal.first_index * HASH_SIZE, seal.end_index * HASH_SIZE
                hashes += committed[start:end]
                ids.append((seal, _Ids(None, seal.rows)))
            if log.blobs.exists(key):
                out.warnings.append(
                    f"{seal.path} was dropped by a retention tombstone but is still present; "
                    "`evidence retain` again removes it"
                )
            continue
        if not log.blobs.exists(key):
            message = f"{seal.path}: segment is missing ({seal.rows} records) and no retention "
            message += "tombstone drops it"
            out.problems.append(("segment-missing", message, seal.path))
            continue
        job = jobs.futures.get(seal.seq) if jobs is not None else None
        if job is not None:
            leaves, digest, error = job.result()
            column = None
            if error is not None:
                out.problems.append(("segment-unreadable", error, seal.path))
                continue
        else:
            try:
                leaves, column, digest = _hash_segment(log, key)
            except (InputError, KeyError) as exc:
                out.problems.append(("segment-unreadable", str(exc), seal.path))
                continue
        if digest != seal.sha256:
            out.warnings.append(f"{seal.path} was rewritten since it was sealed")
        hashes += leaves
        out.records += len(leaves) // HASH_SIZE
        ids.append((seal, _Ids(column, len(leaves) // HASH_SIZE, (log, key))))
    out.hashes = bytes(hashes)
    if committed is None or out.hashes != committed:
        out.segments = [(seal, segment_ids.to_list()) for seal, segment_ids in ids]
    return out


def _hash_segment(log: Log, key: str) -> tuple[bytes, Any, str]:
    """Return one segment's leaf hashes, its request-id column and the object's SHA-256."""
    import pyarrow as pa

    if log.blobs.size(key) > _IN_MEMORY:
        return _hash_streamed(log, key)
    with log.blobs.open_input(key, "segment") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    try:
        leaves, column = _leaves_of(pa.BufferReader(data), keep_ids=True)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(
            f"{log.blobs.describe(key)}: not a readable Parquet segment ({exc})"
        ) from None
    return leaves, column, digest


def _leaves_of(source: Any, keep_ids: bool) -> tuple[bytes, Any]:
    """Leaf hashes of a Parquet segment (and its request-id column if ``keep_ids``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    segment = pq.ParquetFile(source)
    leaves = bytearray()
    columns = []
    # A worker (``keep_ids`` off) decodes on its own thread: the workers already fill the cores.
    for batch in segment.iter_batches(batch_size=65_536, use_threads=keep_ids):
        table = pa.Table.from_batches([batch])
        leaves += leaf_hashes(table.select(list(ALIASES)))
        if keep_ids:
            columns.append(table.column(_REQUEST_ID))
    if not keep_ids:
        return bytes(leaves), None
    column = pa.chunked_array([c for part in columns for c in part.chunks], pa.string())
    return bytes(leaves), column


def _hash_streamed(log: Log, key: str) -> tuple[bytes, Any, str]:
    return _hash_streamed_blobs(log.blobs, key)


def _hash_streamed_blobs(blobs: Any, key: str) -> tuple[bytes, Any, str]:
    import pyarrow as pa

    from nexusctl.evidence.store import iter_segment

    leaves = bytearray()
    columns = []
    for table in iter_segment(blobs, key):
        leaves += leaf_hashes(table.select(list(ALIASES)))
        columns.append(table.column(_REQUEST_ID))
    column = pa.chunked_array([c for part in columns for c in part.chunks], pa.string())
    return bytes(leaves), column, blobs.sha256(key, "segment")
