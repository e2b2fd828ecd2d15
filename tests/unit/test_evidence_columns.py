"""Column-wise validation agrees with pydantic, record by record, on good and bad values."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from nexusctl.evidence.columns import invalid_rows
from nexusctl.evidence.record import ALIASES, DecisionRecord, arrow_schema
from tests.unit.test_evidence_record import record

_STRINGS = st.sampled_from(
    [
        "ok",
        "gpt-4o-mini",
        "a" * 200,
        "a" * 201,
        "",
        "two words",
        "tab\there",
        "line\n",
        "é",
        "-lead",
        "sha256:" + "0" * 64,
        "hmac-sha256:" + "a" * 64,
        "real",
        "routed",
        None,
    ]
)
_INTS = st.sampled_from([0, 1, 2**53 - 1, 2**53, -1, None])
_REASONS = st.sampled_from([[], ["A"], ["A", "bad reason"], ["x"] * 64, ["x"] * 65, [""]])
_FIELDS = [
    "nexus.record.kind",
    "nexus.request.id",
    "nexus.app.id",
    "nexus.user.hash",
    "nexus.policy.bundle_digest",
    "nexus.decision.outcome",
    "nexus.status",
    "nexus.tenant.id",
]
_NUMBERS = ["nexus.record.version", "nexus.cost.pusd", "nexus.request.time_unix_us"]


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    row = {alias: None for alias in ALIASES}
    row.update(record())
    for alias in draw(st.lists(st.sampled_from(_FIELDS), max_size=3, unique=True)):
        row[alias] = draw(_STRINGS)
    for alias in draw(st.lists(st.sampled_from(_NUMBERS), max_size=2, unique=True)):
        row[alias] = draw(_INTS)
    if draw(st.booleans()):
        row["nexus.decision.reasons"] = draw(_REASONS)
    return row


def _pydantic_rejects(row: dict[str, Any]) -> bool:
    try:
        DecisionRecord.model_validate(row)
    except ValidationError:
        return True
    return False


@settings(max_examples=150, deadline=None)
@given(st.lists(rows(), min_size=1, max_size=8))
def test_column_checks_agree_with_pydantic(batch: list[dict[str, Any]]) -> None:
    # Every column nullable, so a null in a required field reaches the check under test.
    nullable = pa.schema([f.with_nullable(True) for f in arrow_schema()])
    table = pa.Table.from_pylist(batch, schema=nullable)
    verdicts = invalid_rows(table).to_pylist()
    assert verdicts == [_pydantic_rejects(row) for row in batch]
