"""The decisions table (contract C): one row per request per policy, declared once.

``DECISIONS`` is the one declaration (``nexusctl.tables``); the Arrow schema and column lists
are derived from it. Building the schema imports pyarrow; importing this module does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nexusctl.tables import Column, TableSpec

if TYPE_CHECKING:
    import pyarrow as pa

#: Contract C, in column order.
DECISIONS = TableSpec(
    "decisions",
    (
        Column("row", "int64"),
        Column("request_id", "string"),
        Column("route_id", "string"),
        Column("outcome", "string"),
        Column("deployment_id", "string", nullable=True),
        Column("tier", "string", nullable=True),
        Column("provider", "string", nullable=True),
        Column("region", "string", nullable=True),
        Column("draft_tokens", "int32"),
        Column("predicted_ttft_us", "int64", nullable=True),
        Column("predicted_latency_us", "int64", nullable=True),
        Column("predicted_cost_pusd", "int64", nullable=True),
        Column("slo_met", "bool", nullable=True),
        Column("escalation_rule", "string", nullable=True),
        Column("escalation_target", "string", nullable=True),
        Column("reason", "string", nullable=True),
        Column("load", "int64"),
    ),
)


def decision_schema() -> pa.Schema:
    """Return the Arrow schema of the decisions table."""
    schema: pa.Schema = DECISIONS.arrow_schema()
    return schema


def dictionary_decision_schema() -> pa.Schema:
    """The decisions schema with every string column except ``request_id`` dictionary-typed.

    Same columns and values as :func:`decision_schema`; the labels are int32 indices into a
    dictionary of distinct strings (``replay(..., dictionary=True)``), which a consumer can
    aggregate on without hashing strings. ``cast(decision_schema())`` gives the plain form.
    """
    import pyarrow as pa

    labels = pa.dictionary(pa.int32(), pa.string())
    return pa.schema(
        [
            field.with_type(labels)
            if field.type == pa.string() and field.name != "request_id"
            else field
            for field in decision_schema()
        ]
    )
