"""The decision-record table is a declared Arrow table, derived from the DecisionRecord model."""

from __future__ import annotations

import pyarrow as pa

from nexusctl.evidence.record import ALIASES, DecisionRecord, arrow_schema
from nexusctl.evidence.table import RECORDS
from nexusctl.tables import TableSpec


def test_records_is_a_declared_table_with_one_column_per_alias() -> None:
    assert isinstance(RECORDS, TableSpec)
    assert RECORDS.names == ALIASES
    assert arrow_schema() is RECORDS.arrow_schema()


def test_kinds_and_nullability_follow_the_model() -> None:
    schema = RECORDS.arrow_schema()
    assert schema.field("nexus.record.version").type == pa.int64()
    assert schema.field("nexus.decision.reasons").type == pa.list_(pa.string())
    assert schema.field("nexus.cost.pusd").type == pa.int64()
    assert schema.field("nexus.tenant.id").type == pa.string()
    for name, info in DecisionRecord.model_fields.items():
        field = schema.field(info.alias or name)
        optional = not info.is_required() and info.default is None
        assert field.nullable == optional, info.alias
    assert "nexus.record.kind" in RECORDS.required
    assert "nexus.route.id" not in RECORDS.required
