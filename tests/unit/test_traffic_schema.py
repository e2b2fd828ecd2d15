"""The canonical traffic schema (contract A) and its validator."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from nexusctl.traffic.schema import METADATA_KEY, traffic_schema, validate_table
from nexusctl.traffic.synth import synth_table

CONTRACT_A = [
    ("time", pa.timestamp("ms", tz="UTC"), False),
    ("request_id", pa.string(), False),
    ("tenant", pa.string(), False),
    ("app", pa.string(), False),
    ("use_case", pa.string(), False),
    ("data_class", pa.string(), False),
    ("residency_class", pa.string(), False),
    ("risk_class", pa.string(), False),
    ("input_tokens", pa.int64(), False),
    ("cached_input_tokens", pa.int64(), False),
    ("output_tokens", pa.int64(), False),
    ("reasoning_tokens", pa.int64(), False),
    ("capabilities", pa.list_(pa.string()), False),
    ("complexity", pa.float64(), False),
    ("confidence", pa.float64(), True),
    ("observed_model", pa.string(), True),
    ("observed_latency_ms", pa.int64(), True),
    ("observed_cost_micro_usd", pa.int64(), True),
    ("small_model_correct", pa.bool_(), True),
    ("large_model_correct", pa.bool_(), True),
    ("unreported_tokens", pa.list_(pa.string()), True),
    ("observed_provider", pa.string(), True),
    ("observed_model_group", pa.string(), True),
    ("observed_deployment_id", pa.string(), True),
    ("observed_api_base", pa.string(), True),
    ("observed_status", pa.string(), True),
    ("observed_cache_hit", pa.bool_(), True),
    ("observed_response_id", pa.string(), True),
    ("observed_finish_reasons", pa.list_(pa.string()), True),
    ("service_name", pa.string(), True),
    ("session_id", pa.string(), True),
    ("end_user_hmac", pa.string(), True),
    ("user_hmac", pa.string(), True),
]


def test_schema_is_exactly_contract_a() -> None:
    schema = traffic_schema()
    assert [(f.name, f.type, f.nullable) for f in schema] == CONTRACT_A
    assert METADATA_KEY == b"nexusctl.traffic"


def _row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "time": dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
        "request_id": "r-1",
        "tenant": "retail-banking",
        "app": "mobile-chat",
        "use_case": "faq",
        "data_class": "public",
        "residency_class": "eu",
        "risk_class": "low",
        "input_tokens": 100,
        "cached_input_tokens": 10,
        "output_tokens": 20,
        "reasoning_tokens": 0,
        "capabilities": ["streaming"],
        "complexity": 0.2,
        "confidence": None,
        "observed_model": None,
        "observed_latency_ms": None,
        "observed_cost_micro_usd": None,
        "small_model_correct": None,
        "large_model_correct": None,
    }
    row.update(changes)
    return row


def _table(*rows: dict[str, object]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=traffic_schema())


def test_valid_rows_have_no_problems() -> None:
    problems = validate_table(_table(_row(), _row(request_id="r-2", capabilities=[])))
    assert problems.bad_rows == 0
    assert problems.items == []


@pytest.mark.parametrize(
    ("changes", "column", "fragment"),
    [
        ({"input_tokens": -1, "cached_input_tokens": 0}, "input_tokens", "-1 is negative"),
        ({"output_tokens": -3}, "output_tokens", "-3 is negative"),
        ({"cached_input_tokens": 101}, "cached_input_tokens", "101 exceeds input_tokens 100"),
        ({"data_class": "secret"}, "data_class", "unknown value 'secret'"),
        ({"risk_class": "extreme"}, "risk_class", "unknown value 'extreme'"),
        ({"capabilities": ["tools", "telepathy"]}, "capabilities", "unknown capability"),
        ({"complexity": 1.5}, "complexity", "1.5 is not in [0, 1]"),
        ({"complexity": float("nan")}, "complexity", "nan is not in [0, 1]"),
        ({"confidence": -0.1}, "confidence", "-0.1 is not in [0, 1]"),
        ({"tenant": "Retail Banking"}, "tenant", "is not an identifier"),
        ({"observed_latency_ms": -5}, "observed_latency_ms", "-5 is negative"),
        ({"request_id": "x" * 201}, "request_id", "longer than 200"),
    ],
)
def test_each_rule_reports_the_row(changes: dict[str, object], column: str, fragment: str) -> None:
    table = _table(_row(), _row(**{"request_id": "r-2", **changes}))
    problems = validate_table(table, lines=[7, 9])
    assert problems.bad_rows == 1
    assert problems.bad.tolist() == [False, True]
    (problem,) = problems.items
    assert (problem.row, problem.line, problem.column) == (2, 9, column)
    assert fragment in problem.message
    assert str(problem).startswith("row 2 (line 9): " + column)


def test_null_in_required_column_is_missing_value() -> None:
    table = pa.Table.from_pylist(
        [_row(), _row(request_id="r-2", tenant=None)],
        schema=traffic_schema().set(2, pa.field("tenant", pa.string(), nullable=True)),
    )
    problems = validate_table(table)
    assert [(p.row, p.column, p.message) for p in problems.items] == [
        (2, "tenant", "missing value")
    ]


def test_duplicates_report_later_rows_with_the_first() -> None:
    table = _table(_row(), _row(request_id="r-2"), _row(), _row(request_id="r-2"), _row())
    problems = validate_table(table)
    found = [(p.row, p.message) for p in problems.sorted()]
    assert found == [
        (3, "duplicate 'r-1' (first seen at row 1)"),
        (4, "duplicate 'r-2' (first seen at row 2)"),
        (5, "duplicate 'r-1' (first seen at row 1)"),
    ]


def test_summary_lists_first_problems_and_counts_the_rest() -> None:
    rows = [_row(request_id=f"r-{i}", input_tokens=-1, cached_input_tokens=0) for i in range(30)]
    problems = validate_table(_table(*rows))
    text = problems.summary("src.csv", limit=5)
    assert text.splitlines()[0] == "src.csv: 30 invalid row(s) of 30:"
    assert "row 5: input_tokens" in text
    assert "row 6:" not in text
    assert text.endswith("... and 25 more problem(s)")


def test_synth_output_is_valid() -> None:
    assert validate_table(synth_table(5000, 3)).bad_rows == 0


def test_traffic_schema_constant_is_lazy_alias() -> None:
    from nexusctl.traffic import schema

    assert schema.TRAFFIC_SCHEMA is traffic_schema()
