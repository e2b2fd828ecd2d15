"""Leaf hashes hashed straight from Arrow buffers are exactly SHA-256(0x00 || RFC 8785 bytes)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexusctl.canonical import canonical_bytes
from nexusctl.evidence.merkle import leaf_hash
from nexusctl.evidence.record import ALIASES, arrow_schema
from nexusctl.evidence.table import leaf_hashes
from tests.unit.test_evidence_record import record

_text = st.text(min_size=0, max_size=12)
_int = st.none() | st.integers(min_value=0, max_value=2**53 - 1)


def _row(**values: object) -> dict[str, object]:
    row: dict[str, object] = {alias: None for alias in ALIASES}
    row.update(record())
    row.update(values)
    return row


@settings(deadline=None, max_examples=60)
@given(app=st.none() | _text, reasons=st.lists(_text, max_size=3), cost=_int, first=st.booleans())
def test_buffer_hashing_matches_rfc8785_for_any_string(
    app: str | None, reasons: list[str], cost: int | None, first: bool
) -> None:
    # One hostile row (quotes, backslashes, control characters, non-ASCII) among clean ones,
    # hashed from a slice so the Arrow offsets do not start at zero.
    clean = _row(**{"nexus.request.id": "req-clean"})
    hostile = _row(
        **{"nexus.app.id": app, "nexus.decision.reasons": reasons, "nexus.cost.pusd": cost}
    )
    rows = [clean, hostile, clean] if first else [clean, clean, hostile]
    table = pa.Table.from_pylist([clean, *rows], schema=arrow_schema()).slice(1)
    expected = b"".join(leaf_hash(canonical_bytes(r)) for r in rows)
    assert leaf_hashes(table) == expected


def test_a_column_without_nulls_and_one_with_some_hash_alike() -> None:
    rows = [_row(**{"nexus.app.id": "chat"}), _row(**{"nexus.app.id": None})]
    table = pa.Table.from_pylist(rows, schema=arrow_schema())
    assert leaf_hashes(table) == b"".join(leaf_hash(canonical_bytes(r)) for r in rows)
    assert leaf_hashes(table.slice(0, 1)) == leaf_hash(canonical_bytes(rows[0]))
    assert leaf_hashes(table.slice(0, 0)) == b""


def test_a_segment_too_big_for_memory_is_streamed_and_hashed_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nexusctl.evidence import verify_leaves
    from nexusctl.evidence.verify import verify_store
    from tests.cli.evidence_helpers import make_store

    store, _, _ = make_store(tmp_path, 12)
    monkeypatch.setattr(verify_leaves, "_IN_MEMORY", 0)
    streamed = verify_store(store)
    assert streamed.ok, streamed.findings
    assert streamed.records["real"] == 12
    assert not streamed.warnings


_PARALLEL = """
import json, sys
from pathlib import Path
from nexusctl.evidence import verify_leaves
from nexusctl.evidence.verify import verify_store

verify_leaves.PARALLEL_MIN_ROWS = 0
started = []
original = verify_leaves.LeafJobs.close
def close(self):
    started.append(self._pool is not None and bool(self.futures))
    original(self)
verify_leaves.LeafJobs.close = close
report = verify_store(Path(sys.argv[1]))
found = [[f.reason, f.segment, f.row, f.request_id] for f in report.findings]
print(json.dumps({"workers": started, "findings": found, "records": report.records}))
"""


def test_worker_processes_name_the_same_records_as_the_caller(tmp_path: Path) -> None:
    # A fresh (single-threaded) interpreter takes the worker path; this test process,
    # which has run DuckDB and pyarrow threads, hashes in-process. Both must agree.
    import json
    import subprocess
    import sys

    from nexusctl.evidence.verify import verify_store
    from tests.cli.evidence_helpers import make_store, rewrite, segments

    store, _, _ = make_store(tmp_path, 12)
    assert len(segments(store)) == 3

    def edit(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        rows[1]["nexus.cost.pusd"] = 1
        return rows

    rewrite(segments(store)[1], edit)
    done = subprocess.run(
        [sys.executable, "-c", _PARALLEL, str(store)], capture_output=True, text=True, check=True
    )
    parallel = json.loads(done.stdout)
    assert parallel["workers"][0] is True  # the real log was hashed by workers
    in_process = verify_store(store)
    expected = [[f.reason, f.segment, f.row, f.request_id] for f in in_process.findings]
    assert [f[0] for f in expected] == ["record-modified"]
    assert parallel["findings"] == expected
    assert parallel["records"] == in_process.records


def test_a_fifo_planted_as_a_segment_does_not_block_the_workers(tmp_path: Path) -> None:
    # The worker is handed the path before the caller looks at it: it must refuse a
    # non-regular file, not block opening it (the pool would then never shut down).
    import json
    import os
    import subprocess
    import sys

    from tests.cli.evidence_helpers import make_store, segments

    store, _, _ = make_store(tmp_path, 12)
    planted = segments(store)[2]
    planted.unlink()
    os.mkfifo(planted)
    done = subprocess.run(
        [sys.executable, "-c", _PARALLEL, str(store)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    parallel = json.loads(done.stdout)
    assert parallel["workers"][0] is True
    named = {(f[0], f[1]) for f in parallel["findings"]}
    assert ("segment-missing", f"segments/{planted.parent.name}/{planted.name}") in named
