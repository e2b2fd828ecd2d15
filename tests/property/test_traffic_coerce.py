"""Property: converting arbitrary source values never crashes; a bad value is always reported."""

from __future__ import annotations

import json

import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nexusctl.traffic._coerce import coerce_column, python_array
from nexusctl.traffic.schema import MAX_TIME_MS, TRAFFIC, Problems

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)
columns = st.sampled_from(sorted(TRAFFIC.names))


@settings(max_examples=300, deadline=None)
@given(columns, st.lists(json_values, min_size=1, max_size=12))
# Issue 14: before year 1 (the case CI found), its neighbours at both ends of the accepted
# range, far past and far future, and the float times NaN and +-inf.
@example(column="time", values=[-62_135_596_800_001])
@example(column="time", values=[-62_135_596_800_000, -1, 0, MAX_TIME_MS, MAX_TIME_MS + 1])
@example(column="time", values=[-(2**63), 2**63 - 1, 2**63, 2**64 - 1, 2**70])
@example(column="time", values=[float("nan"), float("inf"), float("-inf"), 1.5e12])
@example(column="time", values=["0001-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z"])
@example(column="time", values=["9999-12-31T23:59:59.999Z", "3000-01-01 00:00:00", 1_700_000_000])
@example(column="input_tokens", values=[2**63 - 1, 2**64 - 1, -(2**63)])
def test_any_json_values_convert_or_are_reported(column: str, values: list[object]) -> None:
    problems = Problems(len(values))
    array = python_array(values, TRAFFIC.kind(column))
    out = coerce_column(column, array, problems, None)
    assert len(out) == len(values)
    reported = {p.row - 1 for p in problems.items}
    for row, (given_value, converted) in enumerate(zip(values, out.to_pylist(), strict=True)):
        if converted is None and row not in reported:
            # Only a missing or blank source value may become null without a problem.
            assert given_value is None or (isinstance(given_value, str) and not given_value.strip())


@settings(max_examples=300, deadline=None)
@given(columns, st.lists(st.text(max_size=30), min_size=1, max_size=12))
def test_any_csv_text_converts_or_is_reported(column: str, cells: list[str]) -> None:
    problems = Problems(len(cells))
    out = coerce_column(column, pa.array(cells, pa.string()), problems, list(range(2, 14)))
    assert len(out) == len(cells)
    assert all(p.line == p.row + 1 for p in problems.items)
    json.dumps([str(p) for p in problems.items])  # every message is plain text
