"""Mooncake traces: the format's shape, and cached tokens from an LRU prefix cache.

Expected values are worked out by hand in the comments (block = 512 tokens).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.traffic.importers import ImportOptions, build_traffic
from nexusctl.traffic.importers.mooncake import PrefixCache

REPO = Path(__file__).resolve().parents[2]
SHAPE = REPO / "tests" / "assets" / "traffic" / "mooncake_shape.jsonl"
ENRICH = REPO / "policies" / "nebula" / "enrichment" / "azure-code.yaml"


def _trace(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "hand_trace.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


HAND = [
    {"timestamp": 0, "input_length": 1200, "output_length": 10, "hash_ids": [1, 2, 3]},
    {"timestamp": 10, "input_length": 1500, "output_length": 10, "hash_ids": [1, 2, 4]},
    {"timestamp": 20, "input_length": 1300, "output_length": 10, "hash_ids": [1, 2, 3]},
    {"timestamp": 30, "input_length": 900, "output_length": 10, "hash_ids": [5, 6]},
    {"timestamp": 40, "input_length": 1000, "output_length": 10, "hash_ids": [1, 2]},
    {"timestamp": 40, "input_length": 700, "output_length": 10, "hash_ids": [1, 2]},
]
# Capacity 3 blocks, LRU order oldest first after each request:
#  r1 [1,2,3] miss            -> 0             cache 1 2 3
#  r2 [1,2,4] hits 1,2        -> 2*512 = 1024  cache 1 2 4 (3 evicted)
#  r3 [1,2,3] hits 1,2        -> 1024          cache 1 2 3 (4 evicted)
#  r4 [5,6]   miss            -> 0             cache 3 5 6 (1, 2 evicted)
#  r5 [1,2]   miss            -> 0             cache 6 1 2
#  r6 [1,2]   hits 1,2        -> min(1024, 700) = 700 (the last block is partial)
HAND_CACHED = [0, 1024, 1024, 0, 0, 700]


def test_prefix_cache_by_hand() -> None:
    cache = PrefixCache(capacity=3)
    got = [cache.admit(r["hash_ids"], r["input_length"]) for r in HAND]
    assert got == HAND_CACHED
    assert (cache.hits, cache.lookups) == (6, 15)


def test_import_derives_cached_tokens_from_the_cache(tmp_path: Path) -> None:
    options = ImportOptions(enrich=ENRICH, prefix_cache_blocks=3, start_ms=1_000_000)
    table, meta, _ = build_traffic("mooncake", _trace(tmp_path, HAND), options)
    assert table.column("cached_input_tokens").to_pylist() == HAND_CACHED
    assert table.column("input_tokens").to_pylist() == [r["input_length"] for r in HAND]
    assert table.column("output_tokens").to_pylist() == [10] * 6
    times = table.column("time").cast("int64").to_pylist()
    assert times == [1_000_000 + r["timestamp"] for r in HAND]
    assert table.column("request_id").to_pylist()[:2] == ["mooncake-hand-1", "mooncake-hand-2"]
    cache = meta["import"]["prefix_cache"]
    assert cache == {"capacity_blocks": 3, "block_tokens": 512, "block_hit_ratio": 0.4}
    assert "cached_input_tokens" not in (meta["not_reported"] or {})


def test_a_larger_cache_keeps_more() -> None:
    big = PrefixCache(capacity=100)
    assert [big.admit(r["hash_ids"], r["input_length"]) for r in HAND] == [
        0, 1024, 1300, 0, 1000, 700,  # r3: 1,2,3 -> min(1536, 1300); r5: 1,2 -> min(1024, 1000)
    ]  # fmt: skip


def test_the_published_shape(tmp_path: Path) -> None:
    """Lines shaped like the FAST'25 release (shared system-prompt block 0, 512-token blocks)."""
    options = ImportOptions(enrich=ENRICH, prefix_cache_blocks=64)
    table, meta, _ = build_traffic("mooncake", SHAPE, options)
    assert table.num_rows == 5
    # Row 3 shares 12 leading blocks with row 1; row 4 only block 0; row 5 four with row 2.
    assert table.column("cached_input_tokens").to_pylist() == [0, 512, 6144, 512, 2048]
    assert meta["importer"] == "mooncake"
    assert meta["import"]["format"] == "mooncake-trace"
    assert set(table.column("tenant").to_pylist()) == {"engineering"}  # from the spec


def test_without_a_cache_the_spec_declares_cached_tokens(tmp_path: Path) -> None:
    table, _, _ = build_traffic("mooncake", SHAPE, ImportOptions(enrich=ENRICH))
    cached = table.column("cached_input_tokens").to_pylist()
    assert all(
        0 <= c <= i for c, i in zip(cached, table.column("input_tokens").to_pylist(), strict=True)
    )


def _cli(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], prog_name="nexusctl")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"timestamp": 5, "input_length": true, "output_length": 1, "hash_ids": [1]}',
         "input_length must be a non-negative integer, got True"),
        ('{"timestamp": 5, "input_length": "600", "output_length": 1, "hash_ids": [1]}',
         "input_length must be a non-negative integer, got '600'"),
        ('{"timestamp": 5, "input_length": 6, "output_length": 1}', "missing field(s) hash_ids"),
        ('{"timestamp": 5, "input_length": 6, "output_length": 1, "hash_ids": [-1]}',
         "hash_ids must be a list of non-negative integers"),
        ('{"timestamp": 5, "input_length": 6, "output_length": 1, "hash_ids": [], "hash_ids": []}',
         "duplicate"),
        ("[" * 100_000, "nested deeper than 4 levels"),
    ],
)  # fmt: skip
def test_bad_lines_are_refused_with_their_line(tmp_path: Path, line: str, reason: str) -> None:
    good = json.dumps(HAND[0])
    src = tmp_path / "bad.jsonl"
    src.write_text(f"{good}\n{line}\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    result = _cli("traffic", "import", "mooncake", src, "-o", out, "--enrich", ENRICH,
                  "--prefix-cache-blocks", "8")  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "(line 2)" in result.stderr or ":2" in result.stderr
    assert reason in result.stderr
    assert not out.exists()


def test_out_of_order_timestamps_are_refused_with_a_cache(tmp_path: Path) -> None:
    src = _trace(tmp_path, [HAND[1], HAND[0]])
    out = tmp_path / "out.parquet"
    result = _cli("traffic", "import", "mooncake", src, "-o", out, "--enrich", ENRICH,
                  "--prefix-cache-blocks", "8")  # fmt: skip
    assert result.exit_code == 3
    assert "hand_trace.jsonl:2: timestamp 0 is before the previous request's 10" in result.stderr
    assert not out.exists()


def test_cli_import_and_the_options_it_needs(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    no_spec = _cli("traffic", "import", "mooncake", SHAPE, "-o", out)
    assert no_spec.exit_code == 3
    assert "enrichment spec" in no_spec.stderr
    wrong = _cli("traffic", "import", "azure", SHAPE, "-o", out, "--prefix-cache-blocks", "4")
    assert wrong.exit_code == 2
    assert "mooncake format only" in wrong.stderr
    ok = _cli("traffic", "import", "mooncake", SHAPE, "-o", out, "--enrich", ENRICH,
              "--prefix-cache-blocks", "64", "--start", "2026-03-01T00:00:00Z")  # fmt: skip
    assert ok.exit_code == 0, ok.stderr
    first = pq.read_table(out).column("time")[0].as_py()
    assert first.isoformat() == "2026-03-01T00:00:00+00:00"
