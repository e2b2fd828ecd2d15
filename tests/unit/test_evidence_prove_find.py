"""prove finds a request id by searching the id bytes: exact rows only, nulls never match."""

from __future__ import annotations

import pyarrow as pa

from nexusctl.evidence.proof import _row_of


def test_only_an_exact_non_null_id_is_found_across_chunks_and_slices() -> None:
    ids = pa.chunked_array([["req-1", "req-10", None, "req-100"], ["req-10x", "xreq-10", "req-10"]])
    assert _row_of(ids, "req-10") == 1
    assert _row_of(ids, "req-100") == 3
    assert _row_of(ids, "req-10x") == 4
    assert _row_of(ids.slice(2), "req-10") == 4
    assert _row_of(ids, "req-2") is None
    assert _row_of(ids, "") is None


def test_a_null_slot_whose_bytes_spell_the_id_is_not_a_match() -> None:
    clean = pa.array(["a", "req-7", "b"])
    buffers = clean.buffers()
    masked = pa.StringArray.from_buffers(3, buffers[1], buffers[2], pa.py_buffer(b"\x05"), 1)
    assert _row_of(pa.chunked_array([masked]), "req-7") is None
    assert _row_of(pa.chunked_array([clean]), "req-7") == 1
