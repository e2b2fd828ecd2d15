"""Hostile traffic inputs through every reader's CLI: exit 3 with the reason, never 70.

The named files are in tests/assets/hostile/traffic/ (regenerate them with make_hostile.py
there); the bombs are generated here, at test time, and run in a subprocess whose peak RSS
(psutil, sampled) and wall time are bounded: a bound check that the input is refused before
it is read, not a speed measurement.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app

REPO = Path(__file__).resolve().parents[2]
HOSTILE = REPO / "tests" / "assets" / "hostile" / "traffic"
POLICIES = REPO / "policies" / "nebula"
OUTSIDE = "outside 1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z"
BEFORE = f"time: -62135596800001 ms since 1970 is {OUTSIDE}"
AFTER = f"time: 253402300800000 ms since 1970 is {OUTSIDE}"
TOKENS = "input_tokens: 9223372036854775807 exceeds 4294967296"


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], prog_name="nexusctl")


def simulate_args(traffic: Path) -> list[str | Path]:
    return [
        "simulate",
        "--baseline",
        POLICIES / "retail-chat.yaml",
        "--candidate",
        POLICIES / "retail-chat.candidate.yaml",
        "--traffic",
        traffic,
    ]


IMPORTS = [
    ("canonical", "deep-nesting.jsonl", "row 2 (line 2): record: invalid JSON: nested too deeply"),
    ("canonical", "huge-integer.jsonl", "row 2 (line 2): record: invalid JSON: Exceeds the limit"),
    ("canonical", "time-before-year-1.jsonl", f"row 1 (line 1): {BEFORE}"),
    ("canonical", "time-before-year-1.parquet", f"row 2: {BEFORE}"),
    ("canonical", "time-after-year-9999.parquet", f"row 2: {AFTER}"),
    ("canonical", "tokens-int64-max.parquet", f"row 2: {TOKENS}"),
    ("canonical", "time-float-nan.parquet", "row 1: time: expected a timestamp, got NaN"),
    ("canonical", "time-float-inf.parquet", "row 1: time: expected a timestamp, got Infinity"),
    ("canonical", "time-float-neg-inf.parquet", "row 1: time: expected a timestamp, got -Infinity"),
    ("otel", "deep-nesting-otel.json", "invalid JSON: nested too deeply"),
    ("otel", "huge-integer-otel.json", "input_tokens: not an integer: '99999"),
    ("litellm", "deep-nesting-litellm.json", "invalid JSON: nested too deeply"),
    ("litellm", "deep-nesting-litellm.jsonl", "record: invalid JSON: nested too deeply"),
    ("litellm", "huge-spend-litellm.jsonl", "observed_cost_micro_usd: spend is too large"),
]  # fmt: skip


@pytest.mark.parametrize(("fmt", "name", "message"), IMPORTS)
def test_import_refuses(tmp_path: Path, fmt: str, name: str, message: str) -> None:
    out = tmp_path / "out.parquet"
    result = run("traffic", "import", fmt, HOSTILE / name, "-o", out)
    assert result.exit_code == 3, result.output
    assert message in result.stderr
    assert "internal error" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary left


CANONICAL_FILES = [
    ("time-before-year-1.parquet", f"row 2: {BEFORE}"),
    ("time-after-year-9999.parquet", f"row 2: {AFTER}"),
    ("tokens-int64-max.parquet", f"row 2: {TOKENS}"),
    ("time-float-nan.parquet", "column 'time' has type double, expected timestamp"),
    ("time-float-inf.parquet", "column 'time' has type double, expected timestamp"),
    ("time-float-neg-inf.parquet", "column 'time' has type double, expected timestamp"),
    ("deep-metadata.parquet", "nexusctl.traffic metadata is nested too deeply"),
]


@pytest.mark.parametrize(("name", "message"), CANONICAL_FILES)
def test_inspect_refuses(name: str, message: str) -> None:
    result = run("traffic", "inspect", HOSTILE / name)
    assert result.exit_code == 3, result.output
    assert message in result.stderr
    assert result.stdout == ""  # no summary of an invalid file


@pytest.mark.parametrize(("name", "message"), CANONICAL_FILES)
def test_simulate_refuses(name: str, message: str) -> None:
    # The token case is the issue's: simulate routed it with a negative cost and passed.
    result = run(*simulate_args(HOSTILE / name))
    assert result.exit_code == 3, result.output
    assert message in result.stderr
    assert "PASS" not in result.stdout


def test_inspect_refuses_repeated_request_ids(tmp_path: Path) -> None:
    # A whole-file rule: the importer and inspect check it (the streaming replay does not).
    result = run("traffic", "inspect", HOSTILE / "duplicate-request-id.parquet")
    assert result.exit_code == 3, result.output
    assert "request_id is not unique: 'r-1' 2 times (first at row 1)" in result.stderr
    imported = run(
        "traffic",
        "import",
        "canonical",
        HOSTILE / "duplicate-request-id.parquet",
        "-o",
        "-.parquet",
    )
    assert imported.exit_code == 3
    assert "row 2: request_id: duplicate 'r-1' (first seen at row 1)" in imported.stderr


def test_max_rows_is_a_documented_override(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    assert run("traffic", "synth", "--rows", "50", "-o", good).exit_code == 0
    refused = run("traffic", "inspect", good, "--max-rows", "10")
    assert refused.exit_code == 3
    assert "the footer declares 50 rows, over the cap of 10" in refused.stderr
    assert "--max-rows" in refused.stderr
    copy = tmp_path / "copy.parquet"
    refused = run("traffic", "import", "canonical", good, "-o", copy, "--max-rows", "10")
    assert refused.exit_code == 3
    assert not copy.exists()
    assert run("traffic", "inspect", good, "--max-rows", "50").exit_code == 0
    refused = run(*simulate_args(good), "--max-rows", "10")
    assert refused.exit_code == 3
    assert "the footer declares 50 rows, over the cap of 10" in refused.stderr
    assert run(*simulate_args(good), "--max-rows", "50").exit_code == 0


def _row_bomb(path: Path, rows: int) -> None:
    """A Parquet file declaring ``rows`` rows that compresses to a few MB (constant column)."""
    chunk = pa.table({"time": pa.array([0] * 1_000_000, pa.int64())})
    with pq.ParquetWriter(path, chunk.schema, compression="zstd") as writer:
        for _ in range(rows // 1_000_000):
            writer.write_table(chunk)


def _measured(args: list[str | Path]) -> tuple[int, str, float, float]:
    """Run the CLI in a subprocess: (exit code, stderr, peak RSS in bytes, wall seconds)."""
    command = [sys.executable, "-c", "from nexusctl.cli.entry import main; main()"]
    start = time.monotonic()
    proc = subprocess.Popen(
        [*command, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO
    )
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        if time.monotonic() - start > 60:
            proc.kill()
        time.sleep(0.02)
    _, err = proc.communicate()
    return proc.returncode, err.decode(), peak, time.monotonic() - start


@pytest.fixture(scope="module")
def row_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "forty-million-rows.parquet"
    _row_bomb(path, 40_000_000)
    assert path.stat().st_size < 8 << 20  # the bomb was 2.7 MB
    return path


@pytest.mark.slow
@pytest.mark.parametrize("reader", ["import", "inspect", "simulate"])
def test_row_bomb_is_refused_from_the_footer(row_bomb: Path, tmp_path: Path, reader: str) -> None:
    args: list[str | Path] = {
        "import": ["traffic", "import", "canonical", row_bomb, "-o", tmp_path / "o.parquet"],
        "inspect": ["traffic", "inspect", row_bomb],
        "simulate": simulate_args(row_bomb),
    }[reader]
    code, err, peak, seconds = _measured(args)
    assert code == 3, err
    assert "the footer declares 40,000,000 rows, over the cap of 20,000,000" in err
    assert peak < 1 << 30, f"peak RSS {peak / 2**20:.0f} MiB"
    assert seconds < 10, f"{seconds:.1f} s"


def test_the_max_rows_help_states_the_real_caps() -> None:
    from nexusctl.cli import traffic_cmds
    from nexusctl.traffic.parquet import DEFAULT_MAX_ROWS, DEFAULT_MAX_UNCOMPRESSED

    assert f"default {DEFAULT_MAX_ROWS:,}" in traffic_cmds._MAX_ROWS_HELP
    assert f"({DEFAULT_MAX_UNCOMPRESSED >> 30} GiB)" in traffic_cmds._MAX_ROWS_HELP


def _sparse(path: Path, head: bytes, size: int = 20 << 30) -> Path:
    """``head`` followed by zero bytes up to ``size`` (sparse: no disk space, no newline)."""
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


@pytest.mark.parametrize("fmt", ["canonical", "litellm"])
def test_a_json_lines_line_that_never_ends_is_refused(tmp_path: Path, fmt: str) -> None:
    """20 GiB without a newline: the reader held it all (4 GB and growing before the cap)."""
    src = _sparse(tmp_path / "endless.jsonl", b'{"time"')
    out = tmp_path / "o.parquet"
    code, err, peak, seconds = _measured(["traffic", "import", fmt, src, "-o", out])
    assert code == 3, err
    assert "endless.jsonl:1: line is longer than 64 MiB" in err
    assert not out.exists()
    assert peak < 1 << 30, f"peak RSS {peak / 2**20:.0f} MiB"
    assert seconds < 10, f"{seconds:.1f} s"


def test_an_early_error_does_not_wait_for_the_whole_file_to_be_hashed(tmp_path: Path) -> None:
    """The source's SHA-256 runs beside the import; it used to read all 20 GiB after the
    error on line 2 (~40 s here)."""
    src = _sparse(tmp_path / "bad.csv", b"time,request_id,bogus\n2026-01-01T00:00:00Z,r1,x\n")
    out = tmp_path / "o.parquet"
    code, err, peak, seconds = _measured(["traffic", "import", "canonical", src, "-o", out])
    assert code == 3, err
    assert not out.exists()
    assert peak < 1 << 30, f"peak RSS {peak / 2**20:.0f} MiB"
    assert seconds < 10, f"{seconds:.1f} s"
