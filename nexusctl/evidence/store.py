"""The evidence store: append-only Parquet segments, a tiled Merkle tree and signed checkpoints.

Layout (one log per record kind, ``real`` and ``counterfactual``, kept apart), as keys under the
store's root -- a local directory or ``s3://bucket/prefix`` (:mod:`nexusctl.evidence.objectstore`)::

    evidence.json                       origin and verifier key (written once, by init)
    .lock                               serialises writers (flock; a lock object on S3)
    <kind>/segments/dt=YYYY-MM-DD/seg-<seq>.parquet    sealed segments (zstd), never rewritten
    <kind>/seals/<seq>.json             which leaves a segment holds, its SHA-256
    <kind>/checkpoints/<seq>.txt        the signed checkpoint made when segment <seq> was sealed
    <kind>/log/checkpoint               the latest checkpoint (C2SP tlog-tiles)
    <kind>/log/tile/...                 the tree's hashes (C2SP tlog-tiles)
    <kind>/tombstones/<n>.txt           signed retention tombstones (nexusctl.evidence.retention)

The commit point of an ingest is the checkpoint ``<kind>/checkpoints/<seq>.txt``: a segment,
seal or tile beyond the latest checkpoint is what a killed ingest left behind, invisible to
queries (they read sealed segments only) and removed by the next ingest before it appends.
Every object is written whole (a temporary name and a rename locally, one PUT on S3), so none
is ever half-visible.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nexusctl.clock import Clock, format_rfc3339
from nexusctl.errors import EnvironmentError_, InputError
from nexusctl.evidence.merkle import HASH_SIZE, root_hash
from nexusctl.evidence.note import Checkpoint, NoteSigner, NoteVerifier, open_note, parse_checkpoint
from nexusctl.evidence.objectstore import Blobs, StoreRoot, as_blobs
from nexusctl.evidence.tiles import DirTiles, append_tiles, level_count

if TYPE_CHECKING:
    import pyarrow as pa

Kind = Literal["real", "counterfactual"]
KINDS: tuple[Kind, ...] = ("real", "counterfactual")
FORMAT = "nexusctl-evidence/v1"
_SMALL = 1 << 20
_REQUEST_ID = "nexus.request.id"
_TIME = "nexus.request.time_unix_us"
_TENANT = "nexus.tenant.id"
_CONFIG = "evidence.json"


@dataclass(frozen=True)
class StoreConfig:
    """What ``evidence init`` fixed: the log origin and the key that signs its checkpoints."""

    origin: str
    verifier: NoteVerifier

    def log_origin(self, kind: Kind) -> str:
        """The checkpoint origin of one log (the counterfactual log has its own)."""
        return self.origin if kind == "real" else f"{self.origin}/counterfactual"


@dataclass(frozen=True)
class Seal:
    """A sealed segment: its sequence number, file, leaves and digest."""

    seq: int
    path: str
    first_index: int
    rows: int
    sha256: str
    dt: str
    sealed_at: str

    @property
    def end_index(self) -> int:
        """One past the last leaf index of the segment."""
        return self.first_index + self.rows


def init_store(root: StoreRoot, origin: str, verifier: NoteVerifier) -> None:
    """Create an empty store at ``root`` whose checkpoints ``verifier``'s key signs.

    Raises:
        InputError: ``root`` exists and is not empty, or the key name is not the origin.
        EnvironmentError_: the store could not be written.
    """
    if verifier.name != origin:
        raise InputError(
            f"the key is named {verifier.name!r} but the origin is {origin!r}",
            hint="C2SP tlog-checkpoint: the log's key name should be its origin",
        )
    blobs = as_blobs(root)
    if isinstance(root, Path) and root.exists() and not root.is_dir():
        raise InputError(f"{root}: exists and is not an empty directory")
    if not blobs.is_empty():
        raise InputError(f"{blobs.url}: exists and is not empty")
    config = {"format": FORMAT, "origin": origin, "verifier_key": verifier.text()}
    if isinstance(root, Path):
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EnvironmentError_(f"cannot create {root}: {exc.strerror}") from exc
    blobs.put_new(_CONFIG, json.dumps(config, indent=2).encode() + b"\n")


def load_config(root: StoreRoot) -> StoreConfig:
    """Read ``evidence.json``.

    Raises:
        InputError: not an evidence store, or a malformed configuration.
        EnvironmentError_: the object store could not be reached.
    """
    blobs = as_blobs(root)
    if not blobs.exists(_CONFIG):
        raise InputError(
            f"{blobs.url}: not an evidence store (no evidence.json)",
            hint="create one with `nexusctl evidence init`",
        )
    where = blobs.describe(_CONFIG)
    try:
        data = json.loads(blobs.read(_CONFIG, _SMALL, "store configuration"))
        if data.get("format") != FORMAT:
            raise InputError(f"{where}: unknown format {data.get('format')!r}")
        return StoreConfig(str(data["origin"]), NoteVerifier.parse(str(data["verifier_key"])))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise InputError(f"{where}: malformed store configuration ({exc})") from None


@contextlib.contextmanager
def writer_lock(root: StoreRoot, timeout_s: float = 30.0) -> Iterator[None]:
    """Hold the store's writer lock; another writer waits up to ``timeout_s`` seconds.

    Raises:
        ConflictError: another writer held the lock for longer than the timeout.
    """
    with as_blobs(root).lock(timeout_s):
        yield


class TileObjects:
    """The tiles of a log as objects (what :class:`DirTiles` reads through)."""

    def __init__(self, blobs: Blobs, prefix: str) -> None:
        self.blobs = blobs
        self.prefix = prefix

    def key(self, relative: str) -> str:
        """The store key of a tile path (``tile/0/001``) or of ``checkpoint``."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def read_tile(self, relative: str, cap: int) -> bytes:
        """Return a tile's bytes (at most ``cap + 1``).

        Raises:
            FileNotFoundError: no such tile.
        """
        data = self.blobs.read_if_exists(self.key(relative), cap, "tile")
        if data is None:
            raise FileNotFoundError(self.describe(relative))
        return data

    def describe(self, relative: str) -> str:
        """Where a tile lives, for messages."""
        return self.blobs.describe(self.key(relative))


class Log:
    """One record kind's log inside a store: its seals, checkpoints and tiles."""

    def __init__(self, root: StoreRoot, kind: Kind) -> None:
        self.blobs = as_blobs(root)
        self.kind = kind
        self.prefix: str = kind
        self.tiles = TileObjects(self.blobs, f"{kind}/log")

    @classmethod
    def at(cls, tiles: Path) -> Log:
        """A log whose tiles and checkpoint are in ``tiles`` (a bare tlog-tiles directory)."""
        log = cls(tiles, "real")
        log.prefix = ""
        log.tiles = TileObjects(log.blobs, "")
        return log

    def key(self, relative: str) -> str:
        """The store key of a path relative to this log."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def seals(self) -> list[Seal]:
        """Return the seals in sequence order (only complete seal objects are read)."""
        out = []
        for key in self.blobs.keys(self.key("seals")):
            name = key.rsplit("/", 1)[-1]
            if not (name.endswith(".json") and name[:-5].isdigit()):
                continue
            try:
                data = json.loads(self.blobs.read(key, _SMALL, "seal"))
                out.append(Seal(**data))
            except (ValueError, TypeError, RecursionError) as exc:
                raise InputError(f"{self.blobs.describe(key)}: malformed seal ({exc})") from None
        return sorted(out, key=lambda seal: seal.seq)

    def checkpoint_notes(self) -> list[tuple[int, str]]:
        """Return ``(seal seq, key)`` of every stored checkpoint note, in order."""
        out = []
        for key in self.blobs.keys(self.key("checkpoints")):
            name = key.rsplit("/", 1)[-1]
            if name.endswith(".txt") and name[:-4].isdigit():
                out.append((int(name[:-4]), key))
        return sorted(out)

    def read_note(self, key: str) -> bytes:
        """Read a checkpoint (or tombstone) note object."""
        return self.blobs.read(key, _SMALL, "checkpoint")

    def latest(self, verifier: NoteVerifier) -> Checkpoint | None:
        """Return the latest checkpoint, verified; ``None`` for a log nothing was sealed in."""
        key = self.tiles.key("checkpoint")
        if not self.blobs.exists(key):
            return None
        return parse_checkpoint(open_note(self.read_note(key), [verifier]))

    def segment_key(self, seal: Seal) -> str:
        """The store key of a sealed segment."""
        return self.key(seal.path)

    def describe(self, relative: str) -> str:
        """Where a path relative to this log lives, for messages."""
        return self.blobs.describe(self.key(relative))


def _parquet_error(blobs: Blobs, key: str, exc: Exception) -> InputError:
    return InputError(f"{blobs.describe(key)}: not a readable Parquet segment ({exc})")


def read_segment(blobs: Blobs, key: str, columns: list[str] | None = None) -> pa.Table:
    """Read a segment object (a regular file or object only).

    Raises:
        InputError: missing, unreadable or not Parquet.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with blobs.open_input(key, "segment") as handle:
        try:
            return pq.read_table(handle, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise _parquet_error(blobs, key, exc) from None


def iter_segment(blobs: Blobs, key: str, batch_rows: int = 65_536) -> Iterator[pa.Table]:
    """Yield a segment's records in batches of at most ``batch_rows`` (bounded memory).

    Raises:
        InputError: missing, unreadable or not Parquet.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with blobs.open_input(key, "segment") as handle:
        try:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=batch_rows):
                yield pa.Table.from_batches([batch])
        except (pa.ArrowException, OSError) as exc:
            raise _parquet_error(blobs, key, exc) from None


def read_row(blobs: Blobs, key: str, row: int) -> dict[str, Any]:
    """Read one record of a segment, decoding only the row group that holds it.

    Raises:
        InputError: missing, unreadable, not Parquet, or no such row.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with blobs.open_input(key, "segment") as handle:
        try:
            segment = pq.ParquetFile(handle)
            first = 0
            for group in range(segment.num_row_groups):
                rows = segment.metadata.row_group(group).num_rows
                if row < first + rows:
                    return dict(segment.read_row_group(group).slice(row - first, 1).to_pylist()[0])
                first += rows
        except (pa.ArrowException, OSError) as exc:
            raise _parquet_error(blobs, key, exc) from None
    raise InputError(f"{blobs.describe(key)}: has no row {row}")


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did."""

    kind: Kind
    added: int
    duplicates: int
    segments: tuple[str, ...]
    tree_size: int
    root_hash: bytes


def committed_checkpoint(log: Log, verifier: NoteVerifier) -> Checkpoint | None:
    """Return the committed checkpoint: the last sealed one, which ``log/checkpoint`` names.

    A seal writes ``checkpoints/<seq>.txt`` and then ``log/checkpoint``; a crash between the
    two leaves the pointer one seal behind a complete, signed seal. The pointer is moved on.
    """
    notes = log.checkpoint_notes()
    if not notes:
        return log.latest(verifier)
    note = log.read_note(notes[-1][1])
    newest = parse_checkpoint(open_note(note, [verifier]))
    pointer = log.tiles.key("checkpoint")
    if not log.blobs.exists(pointer) or log.read_note(pointer) != note:
        log.blobs.put(pointer, note)
    return newest


def _recover(log: Log, committed: int) -> None:
    """Remove what an interrupted ingest left beyond the committed tree size."""
    for seal in log.seals():
        if seal.end_index > committed:
            log.blobs.delete(log.segment_key(seal))
            log.blobs.delete(log.key(f"seals/{seal.seq:012d}.json"))
    sealed = {log.segment_key(seal) for seal in log.seals()}
    for key in log.blobs.keys(log.key("segments")):
        if key not in sealed:
            log.blobs.delete(key)
    tile_root = log.tiles.key("tile")
    for key in log.blobs.keys(tile_root):
        if not _tile_within(key[len(tile_root) + 1 :].split("/"), committed):
            log.blobs.delete(key)


def _tile_within(parts: list[str], size: int) -> bool:
    """Whether a tile (path parts ``L/x001/002[.p/W]``) covers only leaves below ``size``."""
    if len(parts) < 2 or parts[-1].startswith(".") or not parts[0].isdigit():
        return False
    level = int(parts[0])
    width = 256
    if len(parts) >= 3 and parts[-2].endswith(".p"):
        width = int(parts[-1]) if parts[-1].isdigit() else 0
        parts = [*parts[:-2], parts[-2][:-2]]
    digits = "".join(p.lstrip("x") for p in parts[1:])
    if not digits.isdigit():
        return False
    index = int(digits)
    return (index * 256 + width) <= level_count(size, level)


def _existing_ids(log: Log, size: int, batch: pa.ChunkedArray) -> dict[str, bytes]:
    """Map every committed request id that also occurs in ``batch`` to its leaf hash.

    Only the request id column of each segment is read, one segment at a time, so memory
    follows the batch, not the store. Segments dropped by retention are not consulted: their
    records are gone (docs/evidence.md#retention).
    """
    import pyarrow.compute as pc

    from nexusctl.evidence.retention import dropped_seqs

    ids: dict[str, bytes] = {}
    if size == 0:
        return ids
    leaves = DirTiles(log.tiles, size)
    wanted = batch.combine_chunks()
    dropped = dropped_seqs(log)
    for seal in log.seals():
        if seal.seq in dropped:
            continue
        column = read_segment(log.blobs, log.segment_key(seal), [_REQUEST_ID]).column(0)
        hits = pc.indices_nonzero(pc.is_in(column, value_set=wanted))
        for row in hits.to_pylist():
            ids[column[row].as_py()] = leaves.entries(0, seal.first_index + row, 1)
    return ids


def _new_rows(table: pa.Table, hashes: bytes, ids: dict[str, bytes], where: str) -> Sequence[int]:
    """Return the rows to append; a seen id with the same hash is skipped, another refused."""
    import pyarrow.compute as pc

    column = table.column(_REQUEST_ID)
    if not ids and pc.count_distinct(column).as_py() == table.num_rows:
        return range(table.num_rows)  # the common case: all new, all distinct
    keep: list[int] = []
    for row, request_id in enumerate(table.column(_REQUEST_ID).to_pylist()):
        digest = hashes[row * HASH_SIZE : (row + 1) * HASH_SIZE]
        seen = ids.get(request_id)
        if seen is None:
            ids[request_id] = digest
            keep.append(row)
        elif seen != digest:
            raise InputError(
                f"{where}: record {row + 1}: request id {request_id!r} is already in the "
                "evidence with different content",
                hint="evidence is append-only: a decision is recorded once, never corrected",
            )
    return keep


def ingest(
    root: StoreRoot, table: pa.Table, signer: NoteSigner, kind: Kind, clock: Clock, where: str
) -> IngestResult:
    """Append validated records (a segment-schema table) to the ``kind`` log of a store.

    Records whose request id is already stored with the same content are skipped (ingest is
    idempotent); one segment is sealed per UTC date, each with a signed checkpoint.

    Raises:
        InputError: a secret-shaped value, a request id stored with other content, or a
            signer key that is not the store's.
        ConflictError: another writer holds the lock.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    config = load_config(root)
    if signer.verifier != config.verifier:
        raise InputError("the signing key is not the key this store was created with")
    # The record model (pydantic) is loaded only by what writes: prove and query never need it.
    from nexusctl.evidence.record import ALIASES, arrow_schema
    from nexusctl.evidence.table import checked_leaf_hashes

    table = table.select(list(ALIASES)).cast(arrow_schema())
    hashes = checked_leaf_hashes(table, where)
    log = Log(root, kind)
    with writer_lock(root):
        current = committed_checkpoint(log, config.verifier)
        size = current.size if current else 0
        _recover(log, size)
        existing = _existing_ids(log, size, table.column(_REQUEST_ID))
        keep = _new_rows(table, hashes, existing, where)
        everything = len(keep) == table.num_rows
        fresh = table if everything else table.take(pa.array(keep, pa.int64()))
        leaves = np.frombuffer(hashes, dtype=np.uint8).reshape(-1, HASH_SIZE)
        if not everything:
            leaves = leaves[np.asarray(keep, dtype=np.int64)]
        days = pc.strftime(pc.cast(fresh.column(_TIME), pa.timestamp("us", tz="UTC")), "%Y-%m-%d")
        seq = max((s.seq for s in log.seals()), default=0)
        written: list[str] = []
        root_value = current.root if current else root_hash(DirTiles(log.tiles, 0), 0)
        # Distinct days only: a Python string per record would cost ~70 MiB at 1M.
        for day in sorted(pc.unique(days).to_pylist()):
            mask = pc.equal(days, day)
            rows = pc.indices_nonzero(mask)
            # Rows grouped by tenant (stable): one-tenant scans skip row groups by statistics.
            tenants = fresh.column(_TENANT).take(rows)
            picked = rows.to_numpy()[pc.sort_indices(tenants).to_numpy()]
            segment = fresh.take(pa.array(picked))  # one copy of the day's rows
            seq += 1
            seal_hashes = leaves[picked].tobytes()
            size, root_value = _seal(
                log, config, signer, segment, seal_hashes, seq, day, size, clock
            )
            written.append(f"{kind}/segments/dt={day}/seg-{seq:012d}.parquet")
    return IngestResult(
        kind, len(keep), table.num_rows - len(keep), tuple(written), size, root_value
    )


def _seal(
    log: Log,
    config: StoreConfig,
    signer: NoteSigner,
    segment: pa.Table,
    hashes: bytes,
    seq: int,
    day: str,
    size: int,
    clock: Clock,
) -> tuple[int, bytes]:
    """Write one segment, its tiles, its seal and its signed checkpoint; return the new tree."""
    relative = f"segments/dt={day}/seg-{seq:012d}.parquet"
    digest = log.blobs.write_parquet_new(log.key(relative), segment)
    for tile in append_tiles(DirTiles(log.tiles, size), hashes):
        # Tiles are derived from the (durable) segments and can be rebuilt from them:
        # thousands of fsyncs would dominate an ingest.
        log.blobs.put(log.tiles.key(tile.path), tile.data, durable=False)
    new_size = size + segment.num_rows
    seal = {
        "seq": seq,
        "path": relative,
        "first_index": size,
        "rows": segment.num_rows,
        "sha256": digest,
        "dt": day,
        "sealed_at": format_rfc3339(clock.now()),
    }
    log.blobs.put(log.key(f"seals/{seq:012d}.json"), json.dumps(seal).encode() + b"\n")
    root_value = root_hash(DirTiles(log.tiles, new_size), new_size)
    note = signer.sign(Checkpoint(config.log_origin(log.kind), new_size, root_value).text())
    # The commit point: a checkpoint object names the new tree; the pointer follows.
    log.blobs.put_new(log.key(f"checkpoints/{seq:012d}.txt"), note.encode())
    log.blobs.put(log.tiles.key("checkpoint"), note.encode())
    return new_size, root_value
