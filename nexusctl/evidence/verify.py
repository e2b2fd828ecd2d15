"""Verify an evidence store end to end and name every record that changed.

Checks, per log, in the order they run:

1. every stored checkpoint note is signed by the trusted key, names the log's origin, and
   sizes never shrink; ``log/checkpoint`` is the last of them;
2. the stored tiles are complete (``tile-truncated``, ``tile-missing``), the upper levels are
   the hashes of the level below (``tile-mismatch``) and every checkpoint's root is the root of
   the stored tree at its size (``checkpoint-root-mismatch``): the stored leaf hashes are then
   exactly what the signed checkpoints committed to;
3. successive checkpoints are consistent (RFC 9162 consistency proofs), and so is a
   checkpoint the auditor kept from earlier (``--from``);
4. every retention tombstone is signed by the trusted key and covers exactly what it claims
   (``tombstone-signature``, ``tombstone-malformed``, ``tombstone-mismatch``;
   :mod:`nexusctl.evidence.retention`); a segment it drops may be absent;
5. every record of every other sealed segment is hashed again (RFC 8785 bytes, SHA-256 leaf)
   and compared with the committed leaves: a missing segment is ``segment-missing``, a record
   that differs ``record-modified``, one the tree lacks ``record-inserted``, a committed leaf
   no record matches ``record-deleted``, a record found at another position
   ``record-reordered`` -- each with segment, row, request id.

Nothing here trusts a file before checking it against what the checkpoints signed.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from nexusctl.errors import VerificationError
from nexusctl.evidence.merkle import HASH_SIZE, consistency_proof, root_hash, verify_consistency
from nexusctl.evidence.note import Checkpoint, NoteVerifier, open_note, parse_checkpoint
from nexusctl.evidence.objectstore import StoreRoot
from nexusctl.evidence.retention import check_tombstones
from nexusctl.evidence.store import KINDS, Log, Seal, load_config
from nexusctl.evidence.tiles import DirTiles, MemoryTiles
from nexusctl.evidence.verify_leaves import hash_segments, leaf_jobs
from nexusctl.files import read_bounded

_NOTE_CAP = 1 << 20


@dataclass(frozen=True)
class Finding:
    """One problem verification found; ``reason`` is its stable code."""

    reason: str
    log: str
    message: str
    segment: str | None = None
    row: int | None = None
    request_id: str | None = None


@dataclass
class VerifyReport:
    """What verification checked and found."""

    records: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    checkpoints: dict[str, int] = field(default_factory=dict)
    tree_size: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing was found."""
        return not self.findings


@dataclass(frozen=True)
class _Observed:
    seal: Seal
    row: int
    request_id: str | None


def verify_store(
    root: StoreRoot, verifier: NoteVerifier | None = None, trusted: bytes | None = None
) -> VerifyReport:
    """Verify every log of the store at ``root``; return what was found.

    ``verifier`` defaults to the key recorded in the store (pass the key you trust: a store
    rewritten by someone holding its files could name another key). ``trusted`` is a
    checkpoint note saved earlier; the store must still be consistent with it.

    Raises:
        InputError: not an evidence store.
        VerificationError: ``trusted`` does not verify under the key.
    """
    config = load_config(root)
    key = verifier or config.verifier
    earlier = parse_checkpoint(open_note(trusted, [key])) if trusted is not None else None
    report = VerifyReport()
    for kind in KINDS:
        log = Log(root, kind)
        expected = config.log_origin(kind)
        pinned = earlier if earlier is not None and earlier.origin == expected else None
        _verify_log(log, key, expected, pinned, report)
    if earlier is not None and earlier.origin not in {config.log_origin(k) for k in KINDS}:
        report.findings.append(
            Finding("checkpoint-origin", "-", f"--from checkpoint is for {earlier.origin!r}")
        )
    return report


def _checkpoints(
    log: Log, key: NoteVerifier, origin: str, report: VerifyReport
) -> list[tuple[int, Checkpoint]]:
    out: list[tuple[int, Checkpoint]] = []
    last_note = b""
    for seq, key_name in log.checkpoint_notes():
        name = key_name.rsplit("/", 1)[-1]
        last_note = log.read_note(key_name)
        try:
            checkpoint = parse_checkpoint(open_note(last_note, [key]))
        except VerificationError as exc:
            report.findings.append(Finding(exc.reason, log.kind, f"{name}: {exc}"))
            continue
        if checkpoint.origin != origin:
            message = f"{name}: origin {checkpoint.origin!r}, expected {origin!r}"
            report.findings.append(Finding("checkpoint-origin", log.kind, message))
            continue
        if out and checkpoint.size < out[-1][1].size:
            message = f"{name}: tree shrank from {out[-1][1].size} to {checkpoint.size}"
            report.findings.append(Finding("checkpoint-inconsistent", log.kind, message))
            continue
        out.append((seq, checkpoint))
    latest = log.tiles.key("checkpoint")
    if log.blobs.exists(latest) and log.read_note(latest) != last_note:
        pointer = log.read_note(latest)
        previous = [p for _, p in log.checkpoint_notes()[-2:-1]]
        if previous and log.read_note(previous[0]) == pointer:
            # A seal interrupted between its checkpoint and the pointer: both signed, consistent.
            report.warnings.append(
                f"{log.kind}: log/checkpoint is one seal behind (interrupted ingest); "
                "the next ingest moves it on"
            )
        else:
            message = "log/checkpoint is not the last sealed checkpoint"
            report.findings.append(Finding("checkpoint-latest-mismatch", log.kind, message))
    return out


def _committed_tree(
    log: Log, size: int, checkpoints: list[tuple[int, Checkpoint]], report: VerifyReport
) -> MemoryTiles | None:
    """Load the stored tree and check it against the signed checkpoints; None if broken."""
    tree = MemoryTiles()
    stored = DirTiles(log.tiles, size)
    try:
        tree.append(stored.entries(0, 0, size) if size else b"")
        for tile in tree.tiles(size):
            if (
                tile.level
                and stored.entries(tile.level, tile.number * 256, tile.width) != tile.data
            ):
                message = f"{tile.path} does not hash the level below it"
                report.findings.append(Finding("tile-mismatch", log.kind, message))
                return None
    except VerificationError as exc:
        report.findings.append(Finding(exc.reason, log.kind, str(exc)))
        return None
    broken = False
    for seq, checkpoint in checkpoints:
        if root_hash(tree, checkpoint.size) != checkpoint.root:
            message = f"checkpoint {seq}: the stored tiles do not hash to its signed root"
            report.findings.append(Finding("checkpoint-root-mismatch", log.kind, message))
            broken = True
    for (_, old), (seq, new) in itertools.pairwise(checkpoints):
        if old.size == 0:
            continue
        try:
            proof = consistency_proof(tree, old.size, new.size)
            verify_consistency(old.size, new.size, old.root, new.root, proof)
        except VerificationError as exc:
            message = f"checkpoint {seq} is not consistent with its predecessor: {exc}"
            report.findings.append(Finding("checkpoint-inconsistent", log.kind, message))
            broken = True
    return None if broken else tree


def _verify_log(
    log: Log, key: NoteVerifier, origin: str, trusted: Checkpoint | None, report: VerifyReport
) -> None:
    checkpoints = _checkpoints(log, key, origin, report)
    size = checkpoints[-1][1].size if checkpoints else 0
    report.checkpoints[log.kind] = len(checkpoints)
    report.tree_size[log.kind] = size
    all_seals = log.seals()
    seals = [s for s in all_seals if s.end_index <= size]
    if len(seals) != len(all_seals):
        report.warnings.append(
            f"{log.kind}: a seal beyond the last checkpoint (interrupted ingest)"
        )
    # The segments are re-hashed by workers (large local stores) while the tree is checked.
    with leaf_jobs(log, seals) as jobs:
        tree = _committed_tree(log, size, checkpoints, report)
        if tree is not None and trusted is not None:
            _check_trusted(log, tree, size, trusted, report)
        dropped, problems = check_tombstones(log, key, origin, [c for _, c in checkpoints], tree)
        report.findings += [Finding(p.reason, log.kind, p.message) for p in problems]
        _warn_orphans(log, seals, report)
        committed = bytes(tree.levels[0][: size * HASH_SIZE]) if tree is not None else None
        observed = hash_segments(log, seals, dropped, committed, jobs)
    report.findings += [
        Finding(reason, log.kind, message, segment)
        for reason, message, segment in observed.problems
    ]
    report.warnings += [f"{log.kind}: {w}" for w in observed.warnings]
    report.records[log.kind] = observed.records
    report.dropped[log.kind] = sum(s.rows for s in seals if s.seq in dropped)
    if committed is None:
        return
    if committed != observed.hashes:
        entries = [
            _Observed(seal, row, request_id)
            for seal, ids in observed.segments
            for row, request_id in enumerate(ids)
        ]
        _diff(log, seals, entries, observed.hashes, committed, report)


def _check_trusted(
    log: Log, tree: MemoryTiles, size: int, trusted: Checkpoint, report: VerifyReport
) -> None:
    if trusted.size > size or (trusted.size and root_hash(tree, trusted.size) != trusted.root):
        message = (
            f"the store is not an extension of the trusted checkpoint (size {trusted.size}): "
            "history was rewritten"
        )
        report.findings.append(Finding("checkpoint-inconsistent", log.kind, message))


def _warn_orphans(log: Log, seals: list[Seal], report: VerifyReport) -> None:
    sealed = {log.segment_key(seal) for seal in seals}
    for key in log.blobs.keys(log.key("segments")):
        if key.endswith(".parquet") and key not in sealed:
            report.warnings.append(
                f"{log.kind}: {key[len(log.key('')) :]} is not sealed (an interrupted "
                "ingest or a planted file); queries never read it, the next ingest removes it"
            )


def _at(entry: _Observed, reason: str, kind: str, message: str) -> Finding:
    return Finding(reason, kind, message, entry.seal.path, entry.row, entry.request_id)


def _diff(
    log: Log,
    seals: list[Seal],
    observed: list[_Observed],
    observed_hashes: bytes,
    committed: bytes,
    report: VerifyReport,
) -> None:
    """Name every record that is not where the signed tree says, and every missing leaf."""
    count = len(committed) // HASH_SIZE
    position = {committed[i * HASH_SIZE : (i + 1) * HASH_SIZE]: i for i in range(count)}
    matched = [
        position.get(observed_hashes[i * HASH_SIZE : (i + 1) * HASH_SIZE])
        for i in range(len(observed))
    ]
    used = {j for j in matched if j is not None}
    free = sorted(set(range(count)) - used)
    paired: set[int] = set()
    following: list[int] = [count] * (len(observed) + 1)
    for i in range(len(observed) - 1, -1, -1):
        j = matched[i]
        following[i] = j if j is not None else following[i + 1]
    highest = -1
    for i, entry in enumerate(observed):
        j = matched[i]
        place = f"{entry.seal.path} row {entry.row} (request id {entry.request_id})"
        if j is not None:
            if j < highest:
                message = f"{place} is out of order: it was committed at leaf {j}"
                report.findings.append(_at(entry, "record-reordered", log.kind, message))
            highest = max(highest, j)
            continue
        slot = bisect.bisect_right(free, highest)
        while slot < len(free) and free[slot] in paired:
            slot += 1
        if slot < len(free) and free[slot] < following[i + 1]:
            paired.add(free[slot])
            highest = max(highest, free[slot])
            message = f"{place} was modified (committed leaf {free[slot]} differs)"
            report.findings.append(_at(entry, "record-modified", log.kind, message))
        else:
            message = f"{place} was inserted: no signed checkpoint commits to it"
            report.findings.append(_at(entry, "record-inserted", log.kind, message))
    firsts = [s.first_index for s in seals]
    for j in free:
        if j in paired:
            continue
        seal = seals[bisect.bisect_right(firsts, j) - 1]
        row = j - seal.first_index
        message = f"{seal.path} row {row} (leaf {j}) was deleted: no record hashes to it"
        report.findings.append(
            Finding("record-deleted", log.kind, message, segment=seal.path, row=row)
        )


def verify_tiles_log(log_dir: Path, verifier: NoteVerifier) -> Checkpoint:
    """Verify any C2SP tlog-tiles log: its checkpoint's signature, then every tile.

    Level-0 tiles are taken as the leaf hashes; every upper tile must hash the level below and
    the tree must hash to the signed root. Returns the verified checkpoint.

    Raises:
        InputError: no ``checkpoint`` file.
        VerificationError: ``note-*``, ``tile-missing``, ``tile-truncated``, ``tile-mismatch``
            or ``checkpoint-root-mismatch``.
    """
    note = read_bounded(log_dir / "checkpoint", _NOTE_CAP, what="checkpoint")
    checkpoint = parse_checkpoint(open_note(note, [verifier]))
    report = VerifyReport()
    pinned = [(0, checkpoint)]
    if _committed_tree(Log.at(log_dir), checkpoint.size, pinned, report) is None:
        first = report.findings[0]
        raise VerificationError(first.message, reason=first.reason)
    return checkpoint
