"""Re-hash every record of a log's sealed segments: the bulk of ``evidence verify``.

Each segment object is read once: its bytes give both its SHA-256 (compared with the seal) and
the Parquet decoded from memory, so a store is read from disk (or S3) once, not twice. Request
ids stay Arrow arrays; they become Python strings only when a record has to be named.
Segments dropped by a verified retention tombstone contribute the committed leaves themselves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nexusctl.errors import InputError
from nexusctl.evidence.merkle import HASH_SIZE
from nexusctl.evidence.record import ALIASES
from nexusctl.evidence.store import Log, Seal
from nexusctl.evidence.table import leaf_hashes

if TYPE_CHECKING:
    import pyarrow as pa

_REQUEST_ID = "nexus.request.id"
#: Segments larger than this are streamed from the object twice (hash, then decode) instead
#: of being held in memory once.
_IN_MEMORY = 256 << 20


@dataclass
class ObservedLeaves:
    """What the segments hold: leaf hashes in tree order, ids per segment, problems found."""

    hashes: bytes = b""
    segments: list[tuple[Seal, list[str | None]]] = field(default_factory=list)
    records: int = 0
    problems: list[tuple[str, str, str | None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Ids:
    """A segment's request ids, materialised as Python strings only when asked."""

    def __init__(self, column: pa.ChunkedArray | None, rows: int) -> None:
        self.column = column
        self.rows = rows

    def to_list(self) -> list[str | None]:
        if self.column is None:
            return [None] * self.rows
        return list(self.column.to_pylist())


def hash_segments(
    log: Log, seals: list[Seal], dropped: set[int], committed: bytes | None
) -> ObservedLeaves:
    """Hash every record of every sealed segment of ``log`` in seal order.

    A segment in ``dropped`` (a verified tombstone's) is not read: its committed leaves stand
    in for it when ``committed`` is known.
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
        try:
            leaves, column, digest = _hash_segment(log, key)
        except (InputError, KeyError) as exc:
            out.problems.append(("segment-unreadable", str(exc), seal.path))
            continue
        if digest != seal.sha256:
            out.warnings.append(f"{seal.path} was rewritten since it was sealed")
        hashes += leaves
        out.records += len(leaves) // HASH_SIZE
        ids.append((seal, _Ids(column, len(leaves) // HASH_SIZE)))
    out.hashes = bytes(hashes)
    if committed is None or out.hashes != committed:
        out.segments = [(seal, segment_ids.to_list()) for seal, segment_ids in ids]
    return out


def _hash_segment(log: Log, key: str) -> tuple[bytes, Any, str]:
    """Return one segment's leaf hashes, its request-id column and the object's SHA-256."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if log.blobs.size(key) > _IN_MEMORY:
        return _hash_streamed(log, key)
    with log.blobs.open_input(key, "segment") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    try:
        segment = pq.ParquetFile(pa.BufferReader(data))
        leaves = bytearray()
        columns = []
        for batch in segment.iter_batches(batch_size=65_536):
            table = pa.Table.from_batches([batch])
            leaves += leaf_hashes(table.select(list(ALIASES)))
            columns.append(table.column(_REQUEST_ID))
    except (pa.ArrowException, OSError) as exc:
        raise InputError(
            f"{log.blobs.describe(key)}: not a readable Parquet segment ({exc})"
        ) from None
    column = pa.chunked_array([c for part in columns for c in part.chunks], pa.string())
    return bytes(leaves), column, digest


def _hash_streamed(log: Log, key: str) -> tuple[bytes, Any, str]:
    import pyarrow as pa

    from nexusctl.evidence.store import iter_segment

    leaves = bytearray()
    columns = []
    for table in iter_segment(log.blobs, key):
        leaves += leaf_hashes(table.select(list(ALIASES)))
        columns.append(table.column(_REQUEST_ID))
    column = pa.chunked_array([c for part in columns for c in part.chunks], pa.string())
    return bytes(leaves), column, log.blobs.sha256(key, "segment")
