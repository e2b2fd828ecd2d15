"""DecisionRecord v1: what it refuses, and leaf bytes that are exactly RFC 8785."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from nexusctl.canonical import canonical_bytes
from nexusctl.errors import InputError
from nexusctl.evidence.record import ALIASES, DecisionRecord, arrow_schema, record_bytes
from nexusctl.evidence.table import canonical_json, check_no_secrets, records_table


def record(**overrides: Any) -> dict[str, Any]:
    """A valid record as ``{alias: value}``; overrides by alias."""
    base: dict[str, Any] = {
        "nexus.record.version": 1,
        "nexus.record.kind": "real",
        "nexus.record.source": "gateway",
        "nexus.request.id": "req-1",
        "nexus.request.time_unix_us": 1_767_225_600_000_000,
        "nexus.tenant.id": "retail",
        "nexus.app.id": "chat",
        "nexus.decision.outcome": "routed",
        "nexus.decision.reasons": ["NOT_CHEAPEST"],
        "nexus.deployment.id": "gpt-4o-mini-eu",
        "nexus.deployment.region": "eu-west-1",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 120,
        "nexus.cost.pusd": 18_000_000,
        "nexus.status": "ok",
    }
    base.update(overrides)
    return base


def test_a_valid_record_round_trips_by_alias() -> None:
    parsed = DecisionRecord.model_validate(record())
    dumped = parsed.model_dump(by_alias=True)
    assert set(dumped) == set(ALIASES)
    assert dumped["nexus.cost.pusd"] == 18_000_000
    assert DecisionRecord.model_validate(dumped) == parsed


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gen_ai.input.messages", "[{'role':'user'}]"),
        ("prompt", "hello"),
        ("gen_ai.output.messages", "..."),
        ("api_key", "x"),
        ("nexus.user.id", "alice@example.com"),
    ],
)
def test_content_and_credential_fields_are_refused_by_name(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match="never stores prompt/completion text or secrets"):
        DecisionRecord.model_validate(record(**{field: value}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nexus.app.id", "Please summarise this customer's complaint"),
        ("nexus.user.hash", "alice@example.com"),
        ("nexus.cost.pusd", 1.5),
        ("nexus.cost.pusd", 2**53),
        ("nexus.decision.outcome", "maybe"),
        ("nexus.policy.bundle_digest", "md5:abc"),
    ],
)
def test_free_text_raw_identities_and_bad_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        DecisionRecord.model_validate(record(**{field: value}))


@pytest.mark.parametrize(
    "value",
    [
        "sk-proj-abcdefghijklmnopqrstuvwxyz123456",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    ],
)
def test_secret_shaped_values_are_refused(value: str) -> None:
    table = records_table([DecisionRecord.model_validate(record(**{"nexus.app.id": value}))])
    with pytest.raises(InputError, match=r"record 1: field 'nexus.app.id' looks like a secret"):
        check_no_secrets(table, "in.jsonl")


def test_a_task_named_deployment_is_not_a_secret() -> None:
    clean = record(**{"nexus.deployment.id": "task-classifier-abcdefghijklmnopqrstu"})
    check_no_secrets(records_table([DecisionRecord.model_validate(clean)]), "in.jsonl")


_text = st.text(min_size=0, max_size=12)
_int = st.none() | st.integers(min_value=0, max_value=2**53 - 1)


@given(
    app=st.none() | _text,
    reasons=st.lists(_text, max_size=3),
    cost=_int,
    tokens=_int,
)
def test_vectorised_bytes_are_rfc8785_even_for_hostile_strings(
    app: str | None, reasons: list[str], cost: int | None, tokens: int | None
) -> None:
    # Strings here are anything (quotes, backslashes, control characters, non-ASCII): what a
    # tampered segment could hold. The leaf bytes must still be exactly RFC 8785.
    row = {alias: None for alias in ALIASES}
    row.update(record())
    row.update(
        {
            "nexus.app.id": app,
            "nexus.decision.reasons": reasons,
            "nexus.cost.pusd": cost,
            "gen_ai.usage.input_tokens": tokens,
        }
    )
    table = pa.Table.from_pylist([row, row], schema=arrow_schema())
    expected = canonical_bytes(row)
    assert canonical_json(table) == [expected, expected]
    assert record_bytes(row) == expected
