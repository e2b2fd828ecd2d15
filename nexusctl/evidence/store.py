"""The evidence store: append-only Parquet segments, a tiled Merkle tree and signed checkpoints.

Layout (one log per record kind, ``real`` and ``counterfactual``, kept apart)::

    DIR/evidence.json                     origin and verifier key (written once, by init)
    DIR/.lock                             serialises writers (flock)
    DIR/<kind>/segments/dt=YYYY-MM-DD/seg-<seq>.parquet    sealed segments (zstd), never rewritten
    DIR/<kind>/seals/<seq>.json           which leaves a segment holds, its SHA-256
    DIR/<kind>/checkpoints/<seq>.txt      the signed checkpoint made when segment <seq> was sealed
    DIR/<kind>/log/checkpoint             the latest checkpoint (C2SP tlog-tiles)
    DIR/<kind>/log/tile/...               the tree's hashes (C2SP tlog-tiles)

The commit point of an ingest is the checkpoint: a segment, seal or tile beyond the latest
checkpoint is what a killed ingest left behind, invisible to queries (they read sealed
segments only) and removed by the next ingest before it appends. Every file is written to a
temporary name and renamed into place, so none is ever half-visible.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nexusctl.clock import Clock, format_rfc3339
from nexusctl.errors import ConflictError, EnvironmentError_, InputError
from nexusctl.evidence.merkle import HASH_SIZE, root_hash
from nexusctl.evidence.note import Checkpoint, NoteSigner, NoteVerifier, open_note, parse_checkpoint
from nexusctl.evidence.record import ALIASES, arrow_schema
from nexusctl.evidence.table import checked_leaf_hashes
from nexusctl.evidence.tiles import DirTiles, append_tiles, level_count
from nexusctl.files import open_regular, read_bounded, sha256_file

if TYPE_CHECKING:
    import pyarrow as pa

Kind = Literal["real", "counterfactual"]
KINDS: tuple[Kind, ...] = ("real", "counterfactual")
FORMAT = "nexusctl-evidence/v1"
_SMALL = 1 << 20
_REQUEST_ID = "nexus.request.id"
_TIME = "nexus.request.time_unix_us"


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


def init_store(root: Path, origin: str, verifier: NoteVerifier) -> None:
    """Create an empty store at ``root`` whose checkpoints ``verifier``'s key signs.

    Raises:
        InputError: ``root`` exists and is not empty, or the key name is not the origin.
    """
    if verifier.name != origin:
        raise InputError(
            f"the key is named {verifier.name!r} but the origin is {origin!r}",
            hint="C2SP tlog-checkpoint: the log's key name should be its origin",
        )
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise InputError(f"{root}: exists and is not an empty directory")
    config = {"format": FORMAT, "origin": origin, "verifier_key": verifier.text()}
    try:
        root.mkdir(parents=True, exist_ok=True)
        _write_atomic(root / "evidence.json", json.dumps(config, indent=2).encode() + b"\n")
    except OSError as exc:
        raise EnvironmentError_(f"cannot create {root}: {exc.strerror}") from exc


def load_config(root: Path) -> StoreConfig:
    """Read ``evidence.json``.

    Raises:
        InputError: not an evidence store, or a malformed configuration.
    """
    path = root / "evidence.json"
    if not path.is_file():
        raise InputError(
            f"{root}: not an evidence store (no evidence.json)",
            hint="create one with `nexusctl evidence init`",
        )
    try:
        data = json.loads(read_bounded(path, _SMALL, what="store configuration"))
        if data.get("format") != FORMAT:
            raise InputError(f"{path}: unknown format {data.get('format')!r}")
        return StoreConfig(str(data["origin"]), NoteVerifier.parse(str(data["verifier_key"])))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: malformed store configuration ({exc})") from None


def _write_atomic(
    path: Path, data: bytes, *, exclusive: bool = False, durable: bool = True
) -> None:
    """Write ``data`` to ``path`` through a temporary name; ``exclusive`` refuses to replace.

    ``durable=False`` skips the fsync: for tiles, which are derived from the (fsynced)
    segments and can be rebuilt from them; thousands of fsyncs would dominate an ingest.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    if exclusive:
        try:
            os.link(tmp, path)
        finally:
            tmp.unlink()
    else:
        os.replace(tmp, path)


@contextlib.contextmanager
def writer_lock(root: Path, timeout_s: float = 30.0) -> Iterator[None]:
    """Hold the store's writer lock; another writer waits up to ``timeout_s`` seconds.

    Raises:
        ConflictError: another writer held the lock for longer than the timeout.
    """
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConflictError(
                        f"{root}: another ingest holds the writer lock", hint="retry later"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


class Log:
    """One record kind's log inside a store: its seals, checkpoints and tiles."""

    def __init__(self, root: Path, kind: Kind) -> None:
        self.root = root / kind
        self.kind = kind
        self.tiles = self.root / "log"

    @classmethod
    def at(cls, tiles: Path) -> Log:
        """A log whose tiles and checkpoint are in ``tiles`` (a bare tlog-tiles directory)."""
        log = cls(tiles.parent, "real")
        log.root, log.tiles = tiles, tiles
        return log

    def seals(self) -> list[Seal]:
        """Return the seals in sequence order (only complete seal files are read)."""
        folder = self.root / "seals"
        if not folder.is_dir():
            return []
        out = []
        for path in sorted(folder.glob("[0-9]*.json")):
            try:
                data = json.loads(read_bounded(path, _SMALL, what="seal"))
                out.append(Seal(**data))
            except (ValueError, TypeError) as exc:
                raise InputError(f"{path}: malformed seal ({exc})") from None
        return out

    def checkpoint_notes(self) -> list[tuple[int, Path]]:
        """Return ``(seal seq, path)`` of every stored checkpoint note, in order."""
        folder = self.root / "checkpoints"
        if not folder.is_dir():
            return []
        return sorted((int(p.stem), p) for p in folder.glob("[0-9]*.txt") if p.stem.isdigit())

    def latest(self, verifier: NoteVerifier) -> Checkpoint | None:
        """Return the latest checkpoint, verified; ``None`` for a log nothing was sealed in."""
        path = self.tiles / "checkpoint"
        if not path.is_file():
            return None
        note = read_bounded(path, _SMALL, what="checkpoint")
        return parse_checkpoint(open_note(note, [verifier]))

    def segment_path(self, seal: Seal) -> Path:
        """The file of a sealed segment."""
        return self.root / seal.path


def read_segment(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a segment file (a regular file only).

    Raises:
        InputError: unreadable or not Parquet.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open_regular(path, what="segment") as handle:
        try:
            return pq.read_table(handle, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{path}: not a readable Parquet segment ({exc})") from None


def iter_segment(path: Path, batch_rows: int = 65_536) -> Iterator[pa.Table]:
    """Yield a segment's records in batches of at most ``batch_rows`` (bounded memory).

    Raises:
        InputError: unreadable or not Parquet.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open_regular(path, what="segment") as handle:
        try:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=batch_rows):
                yield pa.Table.from_batches([batch])
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{path}: not a readable Parquet segment ({exc})") from None


def read_row(path: Path, row: int) -> dict[str, Any]:
    """Read one record of a segment, decoding only the row group that holds it.

    Raises:
        InputError: unreadable, not Parquet, or no such row.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open_regular(path, what="segment") as handle:
        try:
            segment = pq.ParquetFile(handle)
            first = 0
            for group in range(segment.num_row_groups):
                rows = segment.metadata.row_group(group).num_rows
                if row < first + rows:
                    return dict(segment.read_row_group(group).slice(row - first, 1).to_pylist()[0])
                first += rows
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{path}: not a readable Parquet segment ({exc})") from None
    raise InputError(f"{path}: has no row {row}")


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did."""

    kind: Kind
    added: int
    duplicates: int
    segments: tuple[str, ...]
    tree_size: int
    root_hash: bytes


def _repair_latest(log: Log, verifier: NoteVerifier) -> Checkpoint | None:
    """Return the committed checkpoint: the last sealed one, which ``log/checkpoint`` names.

    A seal writes ``checkpoints/<seq>.txt`` and then ``log/checkpoint``; a crash between the
    two leaves the pointer one seal behind a complete, signed seal. The pointer is moved on.
    """
    notes = log.checkpoint_notes()
    if not notes:
        return log.latest(verifier)
    note = read_bounded(notes[-1][1], _SMALL, what="checkpoint")
    newest = parse_checkpoint(open_note(note, [verifier]))
    pointer = log.tiles / "checkpoint"
    if not pointer.is_file() or read_bounded(pointer, _SMALL, what="checkpoint") != note:
        _write_atomic(pointer, note)
    return newest


def _recover(log: Log, committed: int) -> None:
    """Remove what an interrupted ingest left beyond the committed tree size."""
    for seal in log.seals():
        if seal.end_index > committed:
            log.segment_path(seal).unlink(missing_ok=True)
            (log.root / "seals" / f"{seal.seq:012d}.json").unlink(missing_ok=True)
    sealed = {seal.path for seal in log.seals()}
    segments = log.root / "segments"
    if segments.is_dir():
        for path in segments.rglob("*"):
            if path.is_file() and str(path.relative_to(log.root)) not in sealed:
                path.unlink()
    tile_root = log.tiles / "tile"
    if tile_root.is_dir():
        for path in tile_root.rglob("*"):
            if path.is_file() and not _tile_within(path.relative_to(tile_root), committed):
                path.unlink()


def _tile_within(relative: Path, size: int) -> bool:
    """Whether a tile file (``L/x001/002[.p/W]``) covers only leaves below ``size``."""
    parts = relative.parts
    if len(parts) < 2 or parts[-1].startswith(".") or not parts[0].isdigit():
        return False
    level = int(parts[0])
    width = 256
    if len(parts) >= 3 and parts[-2].endswith(".p"):
        width = int(parts[-1]) if parts[-1].isdigit() else 0
        parts = (*parts[:-2], parts[-2][:-2])
    digits = "".join(p.lstrip("x") for p in parts[1:])
    if not digits.isdigit():
        return False
    index = int(digits)
    return (index * 256 + width) <= level_count(size, level)


def _existing_ids(log: Log, size: int, batch: pa.ChunkedArray) -> dict[str, bytes]:
    """Map every committed request id that also occurs in ``batch`` to its leaf hash.

    Only the request id column of each segment is read, one segment at a time, so memory
    follows the batch, not the store.
    """
    import pyarrow.compute as pc

    ids: dict[str, bytes] = {}
    if size == 0:
        return ids
    leaves = DirTiles(log.tiles, size)
    wanted = batch.combine_chunks()
    for seal in log.seals():
        column = read_segment(log.segment_path(seal), [_REQUEST_ID]).column(0)
        hits = pc.indices_nonzero(pc.is_in(column, value_set=wanted))
        for row in hits.to_pylist():
            ids[column[row].as_py()] = leaves.entries(0, seal.first_index + row, 1)
    return ids


def _new_rows(table: pa.Table, hashes: bytes, ids: dict[str, bytes], where: str) -> list[int]:
    """Return the rows to append; a seen id with the same hash is skipped, another refused."""
    import pyarrow.compute as pc

    column = table.column(_REQUEST_ID)
    if not ids and pc.count_distinct(column).as_py() == table.num_rows:
        return list(range(table.num_rows))  # the common case: all new, all distinct
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
    root: Path, table: pa.Table, signer: NoteSigner, kind: Kind, clock: Clock, where: str
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
    table = table.select(list(ALIASES)).cast(arrow_schema())
    hashes = checked_leaf_hashes(table, where)
    log = Log(root, kind)
    with writer_lock(root):
        current = _repair_latest(log, config.verifier)
        size = current.size if current else 0
        _recover(log, size)
        existing = _existing_ids(log, size, table.column(_REQUEST_ID))
        keep = _new_rows(table, hashes, existing, where)
        everything = len(keep) == table.num_rows
        fresh = table if everything else table.take(pa.array(keep, pa.int64()))
        leaves = np.frombuffer(hashes, dtype=np.uint8).reshape(-1, HASH_SIZE)[
            np.asarray(keep, dtype=np.int64)
        ]
        days = pc.strftime(pc.cast(fresh.column(_TIME), pa.timestamp("us", tz="UTC")), "%Y-%m-%d")
        seq = max((s.seq for s in log.seals()), default=0)
        written: list[str] = []
        root_value = current.root if current else root_hash(DirTiles(log.tiles, 0), 0)
        for day in sorted(set(days.to_pylist())):
            mask = pc.equal(days, day)
            rows = pc.indices_nonzero(mask)
            segment = fresh.filter(mask)
            seq += 1
            seal_hashes = leaves[rows.to_numpy()].tobytes()
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
    import pyarrow.parquet as pq

    relative = f"segments/dt={day}/seg-{seq:012d}.parquet"
    path = log.root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(segment, tmp, compression="zstd", row_group_size=122_880)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.link(tmp, path)
    tmp.unlink()
    for tile in append_tiles(DirTiles(log.tiles, size), hashes):
        _write_atomic(log.tiles / tile.path, tile.data, durable=False)
    new_size = size + segment.num_rows
    seal = {
        "seq": seq,
        "path": relative,
        "first_index": size,
        "rows": segment.num_rows,
        "sha256": sha256_file(path),
        "dt": day,
        "sealed_at": format_rfc3339(clock.now()),
    }
    _write_atomic(log.root / "seals" / f"{seq:012d}.json", json.dumps(seal).encode() + b"\n")
    root_value = root_hash(DirTiles(log.tiles, new_size), new_size)
    note = signer.sign(Checkpoint(config.log_origin(log.kind), new_size, root_value).text())
    _write_atomic(log.root / "checkpoints" / f"{seq:012d}.txt", note.encode())
    _write_atomic(log.tiles / "checkpoint", note.encode())
    return new_size, root_value
