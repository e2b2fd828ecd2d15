"""A large JSON Lines import parsed by worker processes: the same file, the same errors.

Blocks are cut at ``CHUNK_ROWS`` lines; the tests lower it (in this process, where the file
is cut) so that small files span several blocks, and force two workers whatever the machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from nexusctl.errors import EnvironmentError_, TrafficError
from nexusctl.traffic.importers import (
    ImportOptions,
    _raw,
    _split,
    _splitwork,
    canonical,
    import_traffic,
)

BLOCK = 40  # lines per block in these tests
ROW = {
    "time": "2026-01-05T09:00:00Z",
    "tenant": "t",
    "app": "a",
    "data_class": "public",
    "residency_class": "eu",
    "risk_class": "low",
    "output_tokens": 1,
    "complexity": 0.5,
}


def _lines(rows: int) -> list[str]:
    out = []
    for i in range(rows):
        row = dict(ROW, request_id=f"r-{i}", input_tokens=100 + i % 7)
        if i % 3 == 0:
            row["capabilities"] = ["json"]
        out.append(json.dumps(row, separators=(",", ":")))
    return out


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_raw, "CHUNK_ROWS", BLOCK)


@pytest.fixture
def split(monkeypatch: pytest.MonkeyPatch, small_blocks: None) -> None:
    """Every canonical JSON Lines file is parsed by two workers."""
    monkeypatch.setattr(canonical, "split_workers", lambda size: 2)
    _split.WORKER_PEAKS_KIB.clear()


@pytest.fixture(params=["workers", "workers-and-here"])
def split_or_here(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, split: None
) -> None:
    """As ``split``; in the second case every answer counts as late, so this process parses
    every block it may (for the tests whose files outlast the blocks handed out at start).
    """
    if request.param == "workers-and-here":
        monkeypatch.setattr(_split, "_BEHIND_S", -1.0)


#: Children of this process that were running before the test (a session's Spark JVM, a fake
#: server another test left up for the session): not the split import's workers.
_PRESENT: set[int] = set()


@pytest.fixture(autouse=True)
def _others() -> None:
    _PRESENT.clear()
    _PRESENT.update(p.pid for p in psutil.Process().children())


def _children() -> list[psutil.Process]:
    """The processes this test started (workers are direct children of the importer)."""
    return [p for p in psutil.Process().children() if p.pid not in _PRESENT]


@pytest.mark.parametrize(
    ("workers", "behind_s", "here"),
    [
        (2, _split._BEHIND_S, None),  # as it runs: blocks parsed here when a worker lags
        # One worker whose every answer is late: blocks are parsed here whenever the thread
        # is free, each after one of the worker's at least (at most 15 of the 31 blocks).
        (1, -1.0, range(1, 16)),
        (1, 3600.0, range(0, 1)),  # never late: the worker parses every block
    ],
)
def test_the_split_import_writes_the_same_file_byte_for_byte(
    tmp_path: Path,
    small_blocks: None,
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
    behind_s: float,
    here: range | None,
) -> None:
    src = _write(tmp_path / "t.jsonl", _lines(30 * BLOCK + 5))
    one = tmp_path / "one.parquet"
    import_traffic("canonical", src, one, ImportOptions())
    monkeypatch.setattr(canonical, "split_workers", lambda size: workers)
    monkeypatch.setattr(_split, "_BEHIND_S", behind_s)
    _split.WORKER_PEAKS_KIB.clear()
    split = tmp_path / "split.parquet"
    result = import_traffic("canonical", src, split, ImportOptions())
    assert len(_split.WORKER_PEAKS_KIB) == workers  # every worker ran and reported
    assert all(kib > 0 for kib in _split.WORKER_PEAKS_KIB)
    assert here is None or _split.LOCAL_BLOCKS[0] in here
    assert result.rows == 30 * BLOCK + 5
    assert split.read_bytes() == one.read_bytes()
    assert _children() == []


def test_an_error_in_a_block_parsed_here_keeps_its_place_in_the_file(
    tmp_path: Path, small_blocks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One worker, every answer late: blocks 0-2 go to the worker before any answer, and
    # after the first (late) answer the next block, 3, is parsed here; later blocks may be
    # too, as the thread frees up.
    monkeypatch.setattr(canonical, "split_workers", lambda size: 1)
    monkeypatch.setattr(_split, "_BEHIND_S", -1.0)
    lines = _lines(12 * BLOCK)
    lines[3 * BLOCK + 4] = lines[3 * BLOCK + 4][:-1] + ',"here":1}'
    lines[5 * BLOCK + 1] = lines[5 * BLOCK + 1][:-1] + ',"later":1}'
    src = tmp_path / "t.jsonl"

    def refused() -> str:
        _write(src, lines)
        with pytest.raises(TrafficError) as info:
            import_traffic("canonical", src, tmp_path / "o.parquet", ImportOptions())
        assert list(tmp_path.iterdir()) == [src]
        assert _children() == []
        return str(info.value)

    assert refused() == f"{src}:{3 * BLOCK + 5}: unknown column(s) 'here'"
    assert _split.LOCAL_BLOCKS[0] >= 1
    lines[2 * BLOCK] = lines[2 * BLOCK][:-1] + ',"first":1}'  # the worker's, earlier in the file
    assert refused() == f"{src}:{2 * BLOCK + 1}: unknown column(s) 'first'"


def test_problems_name_the_same_lines_as_a_local_parse(
    tmp_path: Path, small_blocks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _lines(5 * BLOCK)
    lines.insert(BLOCK + 3, "")  # a blank line shifts every later line number
    lines[2 * BLOCK + 7] = lines[2 * BLOCK + 7].replace('"input_tokens":', '"input_tokens":-')
    lines[4 * BLOCK + 1] = lines[4 * BLOCK + 1].replace('"risk_class":"low"', '"risk_class":"x"')
    src = _write(tmp_path / "t.jsonl", lines)
    with pytest.raises(TrafficError) as local:
        import_traffic("canonical", src, tmp_path / "o.parquet", ImportOptions())
    monkeypatch.setattr(canonical, "split_workers", lambda size: 2)
    with pytest.raises(TrafficError) as split:
        import_traffic("canonical", src, tmp_path / "o.parquet", ImportOptions())
    assert str(split.value) == str(local.value)
    assert f"(line {2 * BLOCK + 8}): input_tokens:" in str(split.value)
    assert f"(line {4 * BLOCK + 2}): risk_class:" in str(split.value)
    assert list(tmp_path.iterdir()) == [src]  # nothing written, no staging file left


def test_the_first_error_in_the_file_wins_whichever_process_finds_it(
    tmp_path: Path, split_or_here: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read in pieces of 4 KiB (about 20 lines): the file is cut into blocks as it is read, so
    # a bad byte far down is found after the blocks before it went to the workers.
    monkeypatch.setattr(_raw, "_CHUNK", 4096)
    lines = _lines(8 * BLOCK)
    # Two blocks (on different workers) each hold an unknown key, and a later line a byte
    # that is not UTF-8, which this process finds while it cuts the file.
    lines[BLOCK + 5] = lines[BLOCK + 5][:-1] + ',"tenantt":"x"}'
    lines[4 * BLOCK + 2] = lines[4 * BLOCK + 2][:-1] + ',"bogus":1}'
    lines[6 * BLOCK] = '{"tenant":"\udcff"}'
    src = tmp_path / "t.jsonl"

    def refused() -> str:
        src.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
        with pytest.raises(TrafficError) as info:
            import_traffic("canonical", src, tmp_path / "o.parquet", ImportOptions())
        assert list(tmp_path.iterdir()) == [src]
        assert _children() == []
        return str(info.value)

    expected = f"{src}:{BLOCK + 6}: unknown column(s) 'tenantt' (did you mean 'tenant'?)"
    assert refused() == expected
    lines[BLOCK + 5] = lines[BLOCK + 5].replace(',"tenantt":"x"', "")
    assert refused() == f"{src}:{4 * BLOCK + 3}: unknown column(s) 'bogus'"
    lines[4 * BLOCK + 2] = lines[4 * BLOCK + 2].replace(',"bogus":1', "")
    assert refused().startswith(f"{src}:{6 * BLOCK + 1}:12: not valid UTF-8 (byte 0xff)")


def test_a_worker_that_dies_ends_the_import_with_a_reason_not_a_hang(
    tmp_path: Path, split_or_here: None
) -> None:
    src = _write(tmp_path / "t.jsonl", _lines(30 * BLOCK))
    blocks = _raw.iter_line_spans(src, keep_data=False)
    chunks = _split.parse_in_workers(src, blocks, canonical.parse_jsonl_block, 2)
    assert next(chunks).n_rows == BLOCK
    workers = _children()
    assert len(workers) == 2
    for worker in workers:
        worker.send_signal(signal.SIGKILL)
    with pytest.raises(EnvironmentError_, match=r"worker process .* ended unexpectedly"):
        for _ in chunks:
            pass
    assert _children() == []


def test_leaving_early_stops_the_workers(tmp_path: Path, split: None) -> None:
    src = _write(tmp_path / "t.jsonl", _lines(30 * BLOCK))
    blocks = _raw.iter_line_spans(src, keep_data=False)
    chunks = _split.parse_in_workers(src, blocks, canonical.parse_jsonl_block, 2)
    assert next(chunks).lines[0] == 1
    assert len(_children()) == 2
    chunks.close()  # what an error further down the pipeline, or Ctrl-C, does
    assert _children() == []


def test_a_block_that_changed_after_it_was_cut_is_refused(tmp_path: Path, split: None) -> None:
    lines = _lines(3 * BLOCK)
    src = _write(tmp_path / "t.jsonl", lines)
    blocks = list(_raw.iter_line_spans(src, keep_data=False))
    src.write_text("\n".join(lines[: BLOCK + 3]) + "\n")  # truncated meanwhile
    chunks = _split.parse_in_workers(src, iter(blocks), canonical.parse_jsonl_block, 2)
    assert next(chunks).n_rows == BLOCK
    with pytest.raises(TrafficError, match=rf"t\.jsonl:{BLOCK + 1}: the file changed"):
        next(chunks)
    assert _children() == []


def _cli_import(src: Path, out: Path) -> subprocess.Popen[str]:
    # A fresh process, as a user runs it: the size threshold is lowered through a small
    # wrapper, the rest is the real CLI.
    code = (
        "from nexusctl.traffic.importers import _raw, canonical; "
        f"_raw.CHUNK_ROWS = {BLOCK}; canonical.split_workers = lambda size: 2; "
        "from nexusctl.cli.entry import main; "
        f"main(['traffic', 'import', 'canonical', {str(src)!r}, '-o', {str(out)!r}])"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_the_cli_names_a_worker_s_error_without_a_traceback(tmp_path: Path) -> None:
    lines = _lines(6 * BLOCK)
    lines[3] = lines[3][:-1] + ',"bogus":1}'  # the first block: its worker errs at once
    src = _write(tmp_path / "t.jsonl", lines)
    process = _cli_import(src, tmp_path / "o.parquet")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 3, stderr
    assert stderr.startswith(f"error: {src}:4: unknown column(s) 'bogus'")
    assert "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]


def test_ctrl_c_stops_the_import_and_its_workers_and_leaves_nothing(tmp_path: Path) -> None:
    src = _write(tmp_path / "t.jsonl", _lines(3000 * BLOCK))
    process = _cli_import(src, tmp_path / "o.parquet")
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + 60
    while len(parent.children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = parent.children()
    assert len(workers) == 2
    os.kill(process.pid, signal.SIGINT)  # workers run in their own group: the parent stops them
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "Traceback" not in stderr
    assert not any(worker.is_running() and worker.status() != "zombie" for worker in workers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]


@pytest.mark.parametrize("seed", range(40))
def test_blocks_tile_the_file_at_line_ends_whatever_the_piece_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    import random

    rng = random.Random(seed)
    monkeypatch.setattr(_raw, "_CHUNK", rng.choice([7, 64, 300]))
    monkeypatch.setattr(_raw, "CHUNK_ROWS", rng.choice([1, 3, 50]))
    lines = [rng.choice(["", " ", "{}", "x" * rng.randrange(1, 900), "é" * 5]) for _ in range(60)]
    text = ("\ufeff" if seed % 3 == 0 else "") + "\n".join(lines) + ("\n" if seed % 2 else "")
    src = tmp_path / "t.jsonl"
    src.write_bytes(text.encode())
    raw = src.read_bytes()
    kept = list(_raw.iter_line_spans(src))
    bare = list(_raw.iter_line_spans(src, keep_data=False))
    assert [(b.offset, b.size, b.first_line, b.lines) for b in kept] == [
        (b.offset, b.size, b.first_line, b.lines) for b in bare
    ]
    start = 3 if seed % 3 == 0 else 0
    line = 1
    for block in kept:
        assert block.data is not None
        assert block.offset == start
        assert block.data == raw[start : start + block.size]
        assert block.first_line == line
        assert block.lines == block.data.count(b"\n") + (not block.data.endswith(b"\n"))
        assert block.lines <= _raw.CHUNK_ROWS or block.data.count(b"\n") < 2
        start += block.size
        line += block.lines
    assert raw[start:].strip() == b""  # only blank trailing bytes are left out


def test_a_bug_in_a_worker_is_an_internal_error_not_a_lost_worker(
    tmp_path: Path, split: None
) -> None:
    src = _write(tmp_path / "t.jsonl", _lines(3 * BLOCK))
    blocks = _raw.iter_line_spans(src, keep_data=False)
    # split_lines takes two arguments, not four: a TypeError inside the worker.
    chunks = _split.parse_in_workers(src, blocks, _raw.split_lines, 2)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="in the parse worker: TypeError"):
        next(chunks)
    assert _children() == []


def test_the_workers_start_with_the_reader_before_any_chunk_is_asked_for(
    tmp_path: Path, split: None
) -> None:
    # They boot (an interpreter importing pyarrow) while the importer opens its output.
    src = _write(tmp_path / "t.jsonl", _lines(5 * BLOCK))
    chunks = canonical.read_canonical(src)
    assert len(_children()) == 2
    assert [chunk.n_rows for chunk in chunks] == [BLOCK] * 5
    assert len(_split.WORKER_PEAKS_KIB) == 2  # read to the end: each reported its peak
    assert _children() == []


def test_a_reader_closed_or_dropped_unread_stops_its_workers(tmp_path: Path, split: None) -> None:
    import gc

    src = _write(tmp_path / "t.jsonl", _lines(30 * BLOCK))
    chunks = canonical.read_canonical(src)
    assert len(_children()) == 2
    close = getattr(chunks, "close")  # noqa: B009 (the Iterator type has no close)
    close()
    close()  # twice is harmless
    assert _children() == []
    assert list(chunks) == []
    chunks = canonical.read_canonical(src)
    assert len(_children()) == 2
    del chunks
    gc.collect()
    assert _children() == []


def test_an_output_that_cannot_be_opened_stops_the_started_workers(
    tmp_path: Path, split: None
) -> None:
    src = _write(tmp_path / "t.jsonl", _lines(5 * BLOCK))
    with pytest.raises(EnvironmentError_, match="does not exist"):
        import_traffic("canonical", src, tmp_path / "missing" / "o.parquet", ImportOptions())
    assert _children() == []
    assert list(tmp_path.iterdir()) == [src]


def test_a_garbled_answer_from_a_worker_is_refused_not_a_hang(tmp_path: Path, split: None) -> None:
    src = _write(tmp_path / "t.jsonl", _lines(6 * BLOCK))
    chunks = canonical.read_canonical(src)
    assert isinstance(chunks, _split.SplitChunks)
    assert next(chunks).n_rows == BLOCK
    # The second worker's answer stream loses its first bytes (as a stray write would shift
    # it): read as lengths, they would wait forever for bytes that never come.
    stream = chunks._pool[1]._process.stdout
    assert stream is not None
    assert len(stream.read(10)) == 10
    with pytest.raises(EnvironmentError_, match="sent an answer that cannot be read") as info:
        list(chunks)
    assert info.value.exit_code == 4
    assert _children() == []


def test_answers_carry_arrow_and_numpy_buffers_out_of_band() -> None:
    import io

    import numpy as np
    import pyarrow as pa

    value = {
        "strings": pa.array(["a", None, "ccc"] * 1000),
        "lists": pa.array([["x"], [], None] * 1000, pa.list_(pa.string())),
        "lines": np.arange(5, 3005, dtype=np.int64),
        "n": 3,
    }
    stream = io.BytesIO()
    _splitwork.write_answer(stream, value)
    _splitwork.write_answer(stream, 7)
    raw = stream.getvalue()
    assert raw.startswith(b"nxsplit1")
    stream.seek(0)
    back = _splitwork.read_answer(stream)
    assert back["strings"].equals(value["strings"])
    assert back["lists"].equals(value["lists"])
    assert np.array_equal(back["lines"], value["lines"])
    assert back["n"] == 3
    assert _splitwork.read_answer(stream) == 7
    with pytest.raises(EOFError):
        _splitwork.read_answer(stream)
    for cut in (5, 30, len(raw) // 2):  # a worker that died mid-answer
        with pytest.raises(EOFError):
            _splitwork.read_answer(io.BytesIO(raw[:cut]))
    with pytest.raises(ValueError, match="not a worker's answer"):
        _splitwork.read_answer(io.BytesIO(raw[1:]))


def unpicklable_parse(path: Path, block: bytes, first_line: int, rows: int) -> object:
    """A parser whose chunk cannot be sent back (run in the worker, found by name)."""
    import threading

    return threading.Lock()


def test_an_answer_the_worker_cannot_send_ends_the_import_not_a_hang(
    tmp_path: Path, split: None
) -> None:
    src = _write(tmp_path / "t.jsonl", _lines(6 * BLOCK))
    blocks = _raw.iter_line_spans(src, keep_data=False)
    chunks = _split.parse_in_workers(src, blocks, unpicklable_parse, 2)  # type: ignore[arg-type]
    with pytest.raises(EnvironmentError_, match="ended unexpectedly"):
        next(chunks)
    assert _children() == []
