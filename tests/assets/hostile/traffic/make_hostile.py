"""Regenerate the hostile traffic inputs beside this script (run it by hand; they are committed).

python tests/assets/hostile/traffic/make_hostile.py

One file per attack; the big bombs (a 40M-row Parquet, 1M-row imports) are generated at test
time instead (tests/cli/test_traffic_hostile.py). What each file must do is in that test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DEPTH = 100_000
BEFORE_YEAR_1_MS = -62_135_596_800_001


def row(**changes: object) -> dict[str, object]:
    """One valid canonical row (JSON-ready), with ``changes``."""
    values: dict[str, object] = {
        "time": "2026-01-05T09:00:00Z",
        "request_id": "r-1",
        "tenant": "retail-banking",
        "app": "mobile-chat",
        "use_case": "faq",
        "data_class": "public",
        "residency_class": "eu",
        "risk_class": "low",
        "input_tokens": 100,
        "cached_input_tokens": 0,
        "output_tokens": 20,
        "reasoning_tokens": 0,
        "capabilities": [],
        "complexity": 0.2,
    }
    values.update(changes)
    return values


def canonical_parquet(path: Path, rows: list[dict[str, object]], metadata: bytes | None) -> None:
    """Write canonical-schema rows by hand (no importer, no checks), as an attacker would."""
    from nexusctl.traffic.schema import traffic_schema

    schema = traffic_schema()
    millis = [r.pop("time_ms") for r in rows]
    table = pa.Table.from_pylist(rows, schema=schema.remove(0).remove_metadata())
    times = pa.array(millis, pa.int64()).cast(schema.field("time").type)
    table = table.add_column(0, schema.field("time"), times)
    if metadata is not None:
        table = table.replace_schema_metadata({b"nexusctl.traffic": metadata})
    pq.write_table(table, path)


def main() -> None:
    """Write every hostile input."""
    deep = "[" * DEPTH + "]" * DEPTH
    lines = [json.dumps(row()), json.dumps(row(request_id="r-2"))[:-1] + ', "x": ' + deep + "}"]
    (HERE / "deep-nesting.jsonl").write_text("\n".join(lines) + "\n")
    huge = json.dumps(row(request_id="r-2")).replace('"input_tokens": 100', '"input_tokens": 9')
    (HERE / "huge-integer.jsonl").write_text(
        json.dumps(row())
        + "\n"
        + huge.replace('"input_tokens": 9', '"input_tokens": ' + "9" * 5000)
        + "\n"
    )
    (HERE / "time-before-year-1.jsonl").write_text(
        json.dumps(row(time=BEFORE_YEAR_1_MS)) + "\n" + json.dumps(row(request_id="r-2")) + "\n"
    )
    (HERE / "deep-nesting-otel.json").write_text('{"resourceSpans": ' + deep + "}")
    span = {
        "traceId": "t",
        "spanId": "s",
        "startTimeUnixNano": "9" * 5000,
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "9" * 5000}},
        ],
    }
    otel = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    (HERE / "huge-integer-otel.json").write_text(json.dumps(otel))
    (HERE / "deep-nesting-litellm.json").write_text(deep)
    (HERE / "deep-nesting-litellm.jsonl").write_text(
        '{"request_id": "a", "metadata": ' + deep + "}\n"
    )
    (HERE / "huge-spend-litellm.jsonl").write_text(
        json.dumps({"request_id": "a", "startTime": "2026-01-05T09:00:00Z", "spend": "1e999999999"})
        + "\n"
    )
    base = row()
    base.pop("time")

    def parquet_rows(**changes: object) -> list[dict[str, object]]:
        second = {**base, "request_id": "r-2", "time_ms": 1_767_600_000_001, **changes}
        return [{**base, "time_ms": 1_767_600_000_000}, second]

    canonical_parquet(
        HERE / "time-before-year-1.parquet", parquet_rows(time_ms=BEFORE_YEAR_1_MS), None
    )
    canonical_parquet(
        HERE / "time-after-year-9999.parquet", parquet_rows(time_ms=253_402_300_800_000), None
    )
    canonical_parquet(HERE / "tokens-int64-max.parquet", parquet_rows(input_tokens=2**63 - 1), None)
    canonical_parquet(HERE / "deep-metadata.parquet", parquet_rows(), deep.encode())
    canonical_parquet(HERE / "duplicate-request-id.parquet", parquet_rows(request_id="r-1"), None)
    floats = pq.read_table(HERE / "tokens-int64-max.parquet").slice(0, 1)
    index = floats.schema.get_field_index("time")
    for name, value in (("nan", float("nan")), ("inf", float("inf")), ("neg-inf", -float("inf"))):
        table = floats.set_column(index, "time", pa.array([value], pa.float64()))
        table = table.set_column(
            floats.schema.get_field_index("input_tokens"), "input_tokens", pa.array([1])
        )
        pq.write_table(table, HERE / f"time-float-{name}.parquet")


if __name__ == "__main__":
    main()
