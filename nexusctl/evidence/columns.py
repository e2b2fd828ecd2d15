"""Validate whole Arrow columns against DecisionRecord's JSON Schema (no Python per record).

The constraints are read from the JSON Schema pydantic generates for the model (the one
declaration; ``schemas/DecisionRecord.json``): required non-null, ``type``, ``pattern``,
``enum``/``const``, ``minimum``/``maximum`` and, for lists, ``maxItems`` and the items'
constraints. Patterns run in RE2 here and in Rust's regex crate inside pydantic; both anchor
``$`` at the very end of the text. A keyword this module does not know fails loudly at import
(a model change cannot silently weaken ingest), and ``test_evidence_columns`` holds the
verdicts to pydantic's, record by record, on generated good and bad values.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from nexusctl.evidence.record import DecisionRecord

if TYPE_CHECKING:
    import pyarrow as pa

_KNOWN = {"type", "pattern", "enum", "const", "minimum", "maximum", "maxItems", "items"}
_IGNORED = {"title", "description", "default", "anyOf"}


@cache
def _properties() -> dict[str, tuple[bool, dict[str, Any]]]:
    """Return ``{alias: (nullable, constraints)}`` from the model's JSON Schema."""
    schema = DecisionRecord.model_json_schema(by_alias=True)
    out: dict[str, tuple[bool, dict[str, Any]]] = {}
    for alias, prop in schema["properties"].items():
        branches = prop.get("anyOf", [prop])
        nullable = any(b.get("type") == "null" for b in branches)
        typed = [b for b in branches if b.get("type") != "null"]
        if len(typed) != 1:
            raise RuntimeError(f"{alias}: unsupported schema shape {prop}")
        spec = {k: v for k, v in typed[0].items() if k not in _IGNORED}
        if "items" in spec:
            spec["items"] = {k: v for k, v in spec["items"].items() if k not in _IGNORED}
        for part in (spec, spec.get("items", {})):
            unknown = set(part) - _KNOWN
            if unknown:
                raise RuntimeError(f"{alias}: schema keywords {sorted(unknown)} not enforced")
        out[alias] = (nullable, spec)
    return out


def _violations(values: Any, spec: dict[str, Any]) -> Any:
    """Return a boolean array: True where a non-null value breaks ``spec`` (nulls False)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    bad = pa.array([False] * len(values), pa.bool_())
    if "pattern" in spec:
        bad = pc.or_(bad, pc.invert(pc.match_substring_regex(values, spec["pattern"])))
    if "enum" in spec:
        bad = pc.or_(bad, pc.invert(pc.is_in(values, pa.array(spec["enum"]))))
    if "const" in spec:
        bad = pc.or_(bad, pc.not_equal(values, spec["const"]))
    if "minimum" in spec:
        bad = pc.or_(bad, pc.less(values, spec["minimum"]))
    if "maximum" in spec:
        bad = pc.or_(bad, pc.greater(values, spec["maximum"]))
    if "maxItems" in spec:
        bad = pc.or_(bad, pc.greater(pc.list_value_length(values), spec["maxItems"]))
    return pc.fill_null(bad, False)


def invalid_rows(table: pa.Table) -> Any:
    """Return a boolean array marking every row of a segment-schema table that is invalid."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    bad = np.zeros(table.num_rows, dtype=bool)
    for alias, (nullable, spec) in _properties().items():
        column = table.column(alias).combine_chunks()
        if not nullable:
            bad |= column.is_null().to_numpy(zero_copy_only=False)
        bad |= _violations(column, spec).to_numpy(zero_copy_only=False)
        if "items" in spec:
            items = pc.list_flatten(column)
            broken = _violations(items, spec["items"])
            broken = pc.or_(broken, items.is_null())
            parents = pc.list_parent_indices(column).to_numpy(zero_copy_only=False)
            bad[parents[broken.to_numpy(zero_copy_only=False)]] = True
    return pa.array(bad)
