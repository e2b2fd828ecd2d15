"""Property: any valid canonical record survives JSONL and CSV import unchanged."""

from __future__ import annotations

import csv
import datetime as dt
import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nexusctl.traffic.importers import ImportOptions, build_traffic
from nexusctl.traffic.schema import (
    CAPABILITIES,
    COLUMN_NAMES,
    DATA_CLASSES,
    LATER_COLUMNS,
    RISK_CLASSES,
)

identifier = st.from_regex(r"[a-z0-9]([a-z0-9._-]{0,10}[a-z0-9])?", fullmatch=True)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def records(draw: st.DrawFn) -> dict[str, object]:
    tokens = draw(st.integers(min_value=0, max_value=10**9))
    millis = draw(st.integers(min_value=0, max_value=4_102_444_800_000))
    return {
        "time": millis,
        "tenant": draw(identifier),
        "app": draw(identifier),
        "use_case": draw(identifier),
        "data_class": draw(st.sampled_from(DATA_CLASSES)),
        "residency_class": draw(identifier),
        "risk_class": draw(st.sampled_from(RISK_CLASSES)),
        "input_tokens": tokens,
        "cached_input_tokens": draw(st.integers(min_value=0, max_value=tokens)),
        "output_tokens": draw(st.integers(min_value=0, max_value=10**7)),
        "reasoning_tokens": draw(st.integers(min_value=0, max_value=10**7)),
        "capabilities": draw(st.lists(st.sampled_from(CAPABILITIES), unique=True)),
        "complexity": draw(unit),
        "confidence": draw(st.none() | unit),
        "observed_model": draw(st.none() | identifier),
        "observed_latency_ms": draw(st.none() | st.integers(min_value=0, max_value=10**9)),
        "observed_cost_micro_usd": draw(st.none() | st.integers(min_value=0, max_value=10**12)),
        "small_model_correct": draw(st.none() | st.booleans()),
        "large_model_correct": draw(st.none() | st.booleans()),
    }


def _expected(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    out = []
    for i, row in enumerate(rows):
        moment = dt.datetime.fromtimestamp(int(row["time"]) / 1000, tz=dt.UTC)
        later = dict.fromkeys(LATER_COLUMNS)
        out.append({**later, **row, "time": moment, "request_id": f"r-{i}"})
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(records(), min_size=1, max_size=8))
def test_jsonl_round_trip(rows: list[dict[str, object]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        src = Path(folder) / "t.jsonl"
        lines = [json.dumps({**r, "request_id": f"r-{i}"}) for i, r in enumerate(rows)]
        src.write_text("\n".join(lines) + "\n", encoding="utf-8")
        table, _, problems = build_traffic("canonical", src, ImportOptions())
    assert problems.items == []
    got = [{k: v for k, v in r.items() if k in COLUMN_NAMES} for r in table.to_pylist()]
    assert [dict(sorted(r.items())) for r in got] == [
        dict(sorted(r.items())) for r in _expected(rows)
    ]


@settings(max_examples=40, deadline=None)
@given(st.lists(records(), min_size=1, max_size=8))
def test_csv_round_trip(rows: list[dict[str, object]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        src = Path(folder) / "t.csv"
        with src.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, ["request_id", *rows[0]], lineterminator="\n")
            writer.writeheader()
            for i, row in enumerate(rows):
                text = {
                    k: (
                        ""
                        if v is None
                        else ";".join(v)
                        if isinstance(v, list)
                        else str(v).lower()
                        if isinstance(v, bool)
                        else repr(v)
                        if isinstance(v, float)
                        else str(v)
                    )
                    for k, v in row.items()
                }
                writer.writerow({**text, "request_id": f"r-{i}"})
        table, _, problems = build_traffic("canonical", src, ImportOptions())
    assert problems.items == []
    got = [{k: v for k, v in r.items() if k in COLUMN_NAMES} for r in table.to_pylist()]
    assert [dict(sorted(r.items())) for r in got] == [
        dict(sorted(r.items())) for r in _expected(rows)
    ]
