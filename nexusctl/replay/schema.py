"""The decisions table (contract C): one row per request per policy.

Built by a function so importing this module does not import pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

#: (name, arrow type name, nullable), in column order.
DECISION_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("row", "int64", False),
    ("request_id", "string", False),
    ("route_id", "string", False),
    ("outcome", "string", False),
    ("deployment_id", "string", True),
    ("tier", "string", True),
    ("provider", "string", True),
    ("region", "string", True),
    ("draft_tokens", "int32", False),
    ("predicted_ttft_us", "int64", True),
    ("predicted_latency_us", "int64", True),
    ("predicted_cost_pusd", "int64", True),
    ("slo_met", "bool", True),
    ("escalation_rule", "string", True),
    ("escalation_target", "string", True),
    ("reason", "string", True),
    ("load", "int64", False),
)


def decision_schema() -> pa.Schema:
    """Return the Arrow schema of the decisions table."""
    import pyarrow as pa

    types = {"int64": pa.int64(), "int32": pa.int32(), "string": pa.string(), "bool": pa.bool_()}
    return pa.schema(
        [
            pa.field(name, types[kind], nullable=nullable)
            for name, kind, nullable in DECISION_COLUMNS
        ]
    )


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
