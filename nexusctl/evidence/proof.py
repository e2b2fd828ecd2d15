"""Inclusion proofs an auditor can hand to someone else, and their offline verification.

``PROOF.json`` holds the record, its leaf index, the inclusion path and the signed checkpoint
note, plus the same proof as a C2SP ``tlog-proof@v1`` text. Verification needs only the file
and the log's verifier key; it runs in this order:

1. the checkpoint note verifies under the key (nothing else is read before that);
2. the checkpoint's size is the proof's tree size;
3. the record is a valid DecisionRecord; its RFC 8785 bytes give the leaf hash;
4. the inclusion path leads from that leaf to the checkpoint's root (RFC 9162 §2.1.3.2).
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexusctl.errors import InputError, VerificationError
from nexusctl.evidence.merkle import inclusion_proof, leaf_hash, verify_inclusion
from nexusctl.evidence.note import Checkpoint, NoteVerifier, open_note, parse_checkpoint
from nexusctl.evidence.objectstore import Blobs, StoreRoot
from nexusctl.evidence.retention import dropped_seqs
from nexusctl.evidence.store import KINDS, Kind, Log, load_config
from nexusctl.evidence.tiles import DirTiles
from nexusctl.files import read_bounded

if TYPE_CHECKING:
    import pyarrow as pa

PROOF_FORMAT = "nexusctl-evidence-proof/v1"
_REQUEST_ID = "nexus.request.id"
MAX_PROOF_BYTES = 1 << 20


def _locate(log: Log, request_id: str, size: int) -> tuple[int, dict[str, Any]] | None:
    dropped = dropped_seqs(log)
    for seal in log.seals():
        if seal.end_index > size or seal.seq in dropped:
            continue
        found = _find(log.blobs, log.segment_key(seal), request_id)
        if found is not None:
            return seal.first_index + found[0], found[1]
    return None


def _find(blobs: Blobs, key: str, request_id: str) -> tuple[int, dict[str, Any]] | None:
    """Return (row, record) of ``request_id`` in one segment, or ``None``.

    Row groups whose Parquet min/max statistics of the request id exclude it are skipped
    (time-ordered ids such as UUIDv7 or ULIDs then cost one footer read per segment); the
    others have only their id column decoded, and the one holding it its row.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with blobs.open_input(key, "segment") as handle:
        try:
            segment = pq.ParquetFile(handle)
            meta = segment.metadata
            position = segment.schema_arrow.get_field_index(_REQUEST_ID)
            first = 0
            for group in range(meta.num_row_groups):
                rows = meta.row_group(group).num_rows
                stats = meta.row_group(group).column(position).statistics
                if stats is None or not stats.has_min_max or stats.min <= request_id <= stats.max:
                    ids = segment.read_row_group(group, columns=[_REQUEST_ID]).column(0)
                    row = _row_of(ids, request_id)
                    if row is not None:
                        record = segment.read_row_group(group).slice(row, 1).to_pylist()[0]
                        return first + row, dict(record)
                first += rows
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InputError(
                f"{blobs.describe(key)}: not a readable Parquet segment ({exc})"
            ) from None
    return None


def _row_of(ids: pa.ChunkedArray, wanted: str) -> int | None:
    """Return the first row holding ``wanted``, searching the id bytes directly.

    A substring search in the column's value buffer and a binary search in its offsets: no
    kernel (importing pyarrow.compute alone costs 0.15 s, a large share of a proof).
    """
    import numpy as np
    import pyarrow as pa

    needle = wanted.encode()
    base = 0
    for chunk in ids.chunks:
        buffers = chunk.buffers()
        if not needle or not pa.types.is_string(chunk.type) or buffers[2] is None:
            base += len(chunk)
            continue
        offsets = np.frombuffer(buffers[1], np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
        data = memoryview(buffers[2]).tobytes()
        position = data.find(needle, int(offsets[0]))
        while 0 <= position < offsets[-1]:
            row = int(np.searchsorted(offsets, position, side="right")) - 1
            exact = offsets[row] == position and offsets[row + 1] - position == len(needle)
            if exact and _valid(buffers[0], chunk.offset + row):
                return base + row
            position = data.find(needle, position + 1)
        base += len(chunk)
    return None


def _valid(bitmap: Any, index: int) -> bool:
    """Whether slot ``index`` is not null (Arrow validity bitmap, least significant bit first)."""
    return bitmap is None or bool(memoryview(bitmap)[index >> 3] >> (index & 7) & 1)


def prove(root: StoreRoot, request_id: str) -> dict[str, Any]:
    """Return the proof document for the record with ``request_id`` (real log first).

    Raises:
        InputError: no sealed record has that request id (the message says when retention
            dropped segments it may have been in).
        VerificationError: the store's checkpoint or tiles do not verify.
    """
    config = load_config(root)
    dropped = 0
    for kind in KINDS:
        log = Log(root, kind)
        checkpoint = log.latest(config.verifier)
        if checkpoint is None:
            continue
        found = _locate(log, request_id, checkpoint.size)
        if found is None:
            dropped += len(dropped_seqs(log))
            continue
        index, record = found
        path = inclusion_proof(DirTiles(log.tiles, checkpoint.size), index, checkpoint.size)
        note = log.read_note(log.tiles.key("checkpoint"))
        return _document(kind, record, index, checkpoint, path, note.decode())
    if dropped:
        raise InputError(
            f"no retained record has request id {request_id!r}; {dropped} segment(s) were "
            "dropped by retention (tombstones under <kind>/tombstones/), it may have been in one",
            hint="a dropped record cannot be proven: its content is gone, only its hash remains",
        )
    raise InputError(f"no sealed record has request id {request_id!r}")


def _document(
    kind: Kind,
    record: dict[str, Any],
    index: int,
    checkpoint: Checkpoint,
    path: list[bytes],
    note: str,
) -> dict[str, Any]:
    hashes = [base64.b64encode(h).decode() for h in path]
    tlog_proof = "c2sp.org/tlog-proof@v1\n" + f"index {index}\n" + "".join(h + "\n" for h in hashes)
    return {
        "format": PROOF_FORMAT,
        "log": kind,
        "record": record,
        "leaf_index": index,
        "tree_size": checkpoint.size,
        "inclusion_path": hashes,
        "checkpoint": note,
        "tlog_proof": tlog_proof + "\n" + note,
    }


def verify_proof(path: Path, verifier: NoteVerifier) -> dict[str, Any]:
    """Verify a proof file offline against ``verifier``; return what it proves.

    Raises:
        InputError: the file is not a proof document.
        VerificationError: ``note-*`` (checkpoint signature), ``proof-mismatch`` (sizes
            disagree, or the record is not valid), ``inclusion-proof-invalid``.
    """
    from pydantic import ValidationError

    from nexusctl.evidence.record import DecisionRecord, record_bytes

    try:
        document = json.loads(read_bounded(path, MAX_PROOF_BYTES, what="proof"))
        if not isinstance(document, dict) or document.get("format") != PROOF_FORMAT:
            raise InputError(f"{path}: not a {PROOF_FORMAT} document")
        note = str(document["checkpoint"])
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise InputError(f"{path}: not a proof document ({exc})") from None
    checkpoint = parse_checkpoint(open_note(note, [verifier]))
    try:
        index = int(document["leaf_index"])
        size = int(document["tree_size"])
        hashes = [base64.b64decode(h, validate=True) for h in document["inclusion_path"]]
        record = DecisionRecord.model_validate(document["record"])
    except (KeyError, TypeError, ValueError, binascii.Error, ValidationError) as exc:
        raise VerificationError(
            f"{path}: malformed proof ({exc})", reason="proof-mismatch"
        ) from None
    if size != checkpoint.size:
        raise VerificationError(
            f"{path}: proof is for a tree of {size} leaves, the checkpoint has {checkpoint.size}",
            reason="proof-mismatch",
        )
    leaf = leaf_hash(record_bytes(record.model_dump(by_alias=True)))
    verify_inclusion(index, size, leaf, hashes, checkpoint.root)
    return {
        "request_id": record.request_id,
        "leaf_index": index,
        "tree_size": size,
        "origin": checkpoint.origin,
        "root_hash": base64.b64encode(checkpoint.root).decode(),
    }
