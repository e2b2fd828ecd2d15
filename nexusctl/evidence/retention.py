"""Retention: drop sealed segments wholly before a date, leaving a signed tombstone.

Records are dropped, never the tree: the tiles (hashes only) and every checkpoint stay, so every
later checkpoint, every consistency proof and the inclusion proof of every retained record
still verify. The tombstone says, under the log's own key, exactly what was dropped and where
it sat in the signed tree, so ``evidence verify`` can tell a retained drop from a deletion.

A tombstone is a C2SP signed note (Ed25519, the store's checkpoint key) whose text is::

    nexusctl-evidence-tombstone/v1
    <origin>
    <tree size at drop time>
    <base64 root hash at that size>
    before <YYYY-MM-DD>
    segment <seq> <first leaf> <rows> <sha256> <dt> <path>      one per dropped segment
    subtree <start> <end> <base64 hash>                          the perfect subtrees covering
                                                                 each dropped leaf range

The first line makes it unmistakable for a checkpoint signed by the same key (a checkpoint's
second line is a decimal size). ``subtree`` lines are the maximal aligned perfect subtrees of
each dropped range (RFC 9162 §2.1: MTH of a power-of-two aligned range): with the checkpoint
they commit the dropped range's hashes on their own, independently of the tiles.

Checks (:func:`check_tombstones`), in order: the note verifies under the trusted key; its text
parses; its origin is the log's; its (size, root) is a signed checkpoint's; every segment line
is a seal of the log, with the same leaves, digest and day, before the cut-off date and inside
the tree at drop time; the subtree lines are exactly the cover of those ranges and hash to what
the tree holds.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass

from nexusctl.errors import InputError, VerificationError
from nexusctl.evidence.merkle import HashReader, perfect_subtree
from nexusctl.evidence.note import Checkpoint, NoteSigner, NoteVerifier, open_note
from nexusctl.evidence.objectstore import StoreRoot
from nexusctl.evidence.store import (
    KINDS,
    Kind,
    Log,
    Seal,
    committed_checkpoint,
    load_config,
    writer_lock,
)
from nexusctl.evidence.tiles import DirTiles

TOMBSTONE_FORMAT = "nexusctl-evidence-tombstone/v1"
_CAP = 1 << 22


@dataclass(frozen=True)
class DroppedSegment:
    """One segment a tombstone drops."""

    seq: int
    first_index: int
    rows: int
    sha256: str
    dt: str
    path: str


@dataclass(frozen=True)
class Tombstone:
    """A parsed (and, from :func:`check_tombstones`, verified) tombstone."""

    origin: str
    size: int
    root: bytes
    before: str
    segments: tuple[DroppedSegment, ...]
    subtrees: tuple[tuple[int, int, bytes], ...]

    def text(self) -> str:
        """The note text to sign."""
        lines = [
            TOMBSTONE_FORMAT,
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            f"before {self.before}",
        ]
        lines += [
            f"segment {s.seq} {s.first_index} {s.rows} {s.sha256} {s.dt} {s.path}"
            for s in self.segments
        ]
        lines += [
            f"subtree {start} {end} {base64.b64encode(h).decode()}"
            for start, end, h in self.subtrees
        ]
        return "\n".join(lines) + "\n"


def _malformed(where: str, why: str) -> VerificationError:
    return VerificationError(f"{where}: malformed tombstone ({why})", reason="tombstone-malformed")


def parse_tombstone(text: str, where: str) -> Tombstone:
    """Parse verified tombstone text.

    Raises:
        VerificationError: ``tombstone-malformed``.
    """
    lines = text.split("\n")
    if len(lines) < 6 or lines[0] != TOMBSTONE_FORMAT or lines[-1] != "":
        raise _malformed(where, f"not a {TOMBSTONE_FORMAT} text")
    try:
        size = int(lines[2])
        root = base64.b64decode(lines[3], validate=True)
        keyword, before = lines[4].split(" ")
        dt.date.fromisoformat(before)
        if keyword != "before" or len(root) != 32 or size < 0 or not lines[2].isdigit():
            raise ValueError("header")
        segments: list[DroppedSegment] = []
        subtrees: list[tuple[int, int, bytes]] = []
        for line in lines[5:-1]:
            fields = line.split(" ")
            if fields[0] == "segment" and len(fields) == 7:
                seq, first, rows = (int(f) for f in fields[1:4])
                segments.append(DroppedSegment(seq, first, rows, fields[4], fields[5], fields[6]))
            elif fields[0] == "subtree" and len(fields) == 4:
                digest = base64.b64decode(fields[3], validate=True)
                if len(digest) != 32:
                    raise ValueError("subtree hash")
                subtrees.append((int(fields[1]), int(fields[2]), digest))
            else:
                raise ValueError(f"line {line[:40]!r}")
    except (ValueError, binascii.Error) as exc:
        raise _malformed(where, str(exc)) from None
    if not segments:
        raise _malformed(where, "it drops no segment")
    return Tombstone(lines[1], size, root, before, tuple(segments), tuple(subtrees))


def cover(start: int, end: int) -> list[tuple[int, int]]:
    """Return the maximal aligned power-of-two ranges that tile ``[start, end)``, in order."""
    out = []
    while start < end:
        step = start & -start if start else 1 << (end - 1).bit_length()
        while start + step > end:
            step >>= 1
        out.append((start, start + step))
        start += step
    return out


def _subtrees(reader: HashReader, segments: list[Seal]) -> list[tuple[int, int, bytes]]:
    out = []
    for seal in segments:
        for start, end in cover(seal.first_index, seal.end_index):
            height = (end - start).bit_length() - 1
            out.append((start, end, perfect_subtree(reader, start, height)))
    return out


def tombstone_keys(log: Log) -> list[str]:
    """Return the keys of a log's tombstone notes, in order."""
    keys = []
    for key in log.blobs.keys(log.key("tombstones")):
        name = key.rsplit("/", 1)[-1]
        if name.endswith(".txt") and name[:-4].isdigit():
            keys.append(key)
    return sorted(keys)


def dropped_seqs(log: Log) -> set[int]:
    """Return the seal numbers a log's tombstones name (as read, not verified).

    Used by ingest, query and prove to skip segments that are gone on purpose; whether each
    tombstone is genuine is ``evidence verify``'s business (:func:`check_tombstones`).
    """
    out: set[int] = set()
    for key in tombstone_keys(log):
        for line in log.blobs.read(key, _CAP, "tombstone").decode("utf-8", "replace").split("\n"):
            fields = line.split(" ")
            if fields[0] == "segment" and len(fields) == 7 and fields[1].isdigit():
                out.add(int(fields[1]))
    return out


@dataclass(frozen=True)
class TombstoneFinding:
    """A tombstone that does not hold: its stable reason and message."""

    reason: str
    message: str


def check_tombstones(
    log: Log,
    key: NoteVerifier,
    origin: str,
    checkpoints: list[Checkpoint],
    tree: HashReader | None,
) -> tuple[set[int], list[TombstoneFinding]]:
    """Verify every tombstone of a log; return the seal numbers genuinely dropped and findings.

    ``checkpoints`` are the log's verified checkpoints; ``tree`` the verified tree (``None``
    when it did not verify: subtree hashes are then not checked).
    """
    seals = {seal.seq: seal for seal in log.seals()}
    signed = {c.size: c.root for c in checkpoints}
    dropped: set[int] = set()
    findings: list[TombstoneFinding] = []
    for name in tombstone_keys(log):
        where = log.blobs.describe(name)
        try:
            note = log.blobs.read(name, _CAP, "tombstone")
            tombstone = parse_tombstone(open_note(note, [key]), where)
        except VerificationError as exc:
            malformed = exc.reason in ("tombstone-malformed", "note-malformed")
            reason = "tombstone-malformed" if malformed else "tombstone-signature"
            findings.append(TombstoneFinding(reason, f"{where}: {exc}"))
            continue
        problem = _mismatch(tombstone, seals, signed, origin, tree)
        if problem:
            findings.append(TombstoneFinding("tombstone-mismatch", f"{where}: {problem}"))
            continue
        dropped |= {s.seq for s in tombstone.segments}
    return dropped, findings


def _mismatch(
    tombstone: Tombstone,
    seals: dict[int, Seal],
    signed: dict[int, bytes],
    origin: str,
    tree: HashReader | None,
) -> str | None:
    """Return why a verified tombstone does not hold, or ``None``."""
    if tombstone.origin != origin:
        return f"origin {tombstone.origin!r}, expected {origin!r}"
    if signed.get(tombstone.size) != tombstone.root:
        return f"tree size {tombstone.size} and its root are not a signed checkpoint of this log"
    covered: list[Seal] = []
    for claim in tombstone.segments:
        seal = seals.get(claim.seq)
        stated = (claim.first_index, claim.rows, claim.sha256, claim.dt, claim.path)
        if seal is None or stated != (seal.first_index, seal.rows, seal.sha256, seal.dt, seal.path):
            return (
                f"segment {claim.seq} leaves [{claim.first_index}, "
                f"{claim.first_index + claim.rows}) is not a sealed segment of this log"
            )
        if seal.dt >= tombstone.before or seal.end_index > tombstone.size:
            return f"segment {claim.seq} ({seal.dt}) is not before {tombstone.before} in the tree"
        covered.append(seal)
    wanted = [(s, e) for seal in covered for s, e in cover(seal.first_index, seal.end_index)]
    if [(s, e) for s, e, _ in tombstone.subtrees] != wanted:
        return "its subtree ranges are not the cover of the dropped leaf ranges"
    if tree is not None:
        for (start, end, digest), real in zip(
            tombstone.subtrees, _subtrees(tree, covered), strict=True
        ):
            if digest != real[2]:
                return f"subtree [{start}, {end}) does not hash to what the tree holds"
    return None


@dataclass(frozen=True)
class RetainResult:
    """What one log's retention dropped."""

    kind: Kind
    segments: tuple[str, ...]
    records: int
    tombstone: str | None


def retain(root: StoreRoot, before: dt.date, signer: NoteSigner) -> list[RetainResult]:
    """Drop every sealed segment of every log whose day is before ``before``.

    A tombstone is written (and is the commit point) before any segment object is deleted; a
    run interrupted in between is finished by running it again.

    Raises:
        InputError: the signer key is not the store's.
        ConflictError: another writer holds the lock.
    """
    config = load_config(root)
    if signer.verifier != config.verifier:
        raise InputError("the signing key is not the key this store was created with")
    cutoff = before.isoformat()
    results = []
    with writer_lock(root):
        for kind in KINDS:
            log = Log(root, kind)
            checkpoint = committed_checkpoint(log, config.verifier)
            if checkpoint is None:
                continue
            already = dropped_seqs(log)
            seals = [s for s in log.seals() if s.end_index <= checkpoint.size]
            doomed = [s for s in seals if s.dt < cutoff and s.seq not in already]
            name = None
            if doomed:
                tree = DirTiles(log.tiles, checkpoint.size)
                tombstone = Tombstone(
                    config.log_origin(kind),
                    checkpoint.size,
                    checkpoint.root,
                    cutoff,
                    tuple(
                        DroppedSegment(s.seq, s.first_index, s.rows, s.sha256, s.dt, s.path)
                        for s in doomed
                    ),
                    tuple(_subtrees(tree, doomed)),
                )
                number = len(tombstone_keys(log)) + 1
                name = log.key(f"tombstones/{number:012d}.txt")
                log.blobs.put_new(name, signer.sign(tombstone.text()).encode())
            gone = [s for s in seals if s.seq in already or s in doomed]
            for seal in gone:
                log.blobs.delete(log.segment_key(seal))
            results.append(
                RetainResult(
                    kind,
                    tuple(log.key(s.path) for s in doomed),
                    sum(s.rows for s in doomed),
                    name,
                )
            )
    return results
