"""Read one row of a ``simulate --decisions`` file back as the request and load it was decided at.

Every row of the decisions file carries the request's routing attributes (capabilities
included) and, per side, the load the replay decided at and the decision itself, so
``policy explain --decisions FILE --row N`` routes exactly what the replay routed and can
show that its decision equals the recorded one. Reading is bounded: the row is found from
the Parquet footer (row-group sizes) and only its row group is read; a request id is found
by scanning the ``request_id`` column one row group at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from nexusctl.errors import InputError
from nexusctl.policy.request import RoutingRequest, request_from_mapping
from nexusctl.simulate._pairs import REQUEST_COLUMNS

Side = Literal["baseline", "candidate"]

#: Request attributes in the file: the pairs file's request columns that are RoutingRequest
#: fields (same names), in the file's order.
REQUEST_FIELDS: tuple[str, ...] = tuple(
    c for c in REQUEST_COLUMNS if c in RoutingRequest.model_fields
)
#: Decision columns compared with a fresh decision (each prefixed by the side in the file).
DECISION_FIELDS: tuple[str, ...] = (
    "route_id",
    "outcome",
    "deployment_id",
    "tier",
    "provider",
    "region",
    "draft_tokens",
    "predicted_ttft_us",
    "predicted_latency_us",
    "predicted_cost_pusd",
    "slo_met",
    "escalation_rule",
    "escalation_target",
    "reason",
)

_HINT = "write one with `nexusctl simulate ... --decisions FILE`"


@dataclass(frozen=True)
class DecisionRow:
    """One replayed request: what was routed, at which load, and what the replay decided."""

    row: int
    side: Side
    request: RoutingRequest
    load: int
    #: The side's recorded decision columns (``DECISION_FIELDS``), unprefixed.
    recorded: dict[str, Any]


def read_decision_row(
    path: Path, *, side: Side, row: int | None = None, request_id: str | None = None
) -> DecisionRow:
    """Return row ``row`` (0-based, the file's ``row`` column) or the row of ``request_id``.

    Raises:
        InputError: not a readable Parquet decisions file (or one written before it carried
            capabilities), a row out of range, a request id absent or on several rows.
    """
    if (row is None) == (request_id is None):
        raise InputError("give exactly one of a row number and a request id")
    parquet = _open(path)
    names = set(parquet.schema_arrow.names)
    wanted = [*REQUEST_FIELDS, f"{side}_load", *(f"{side}_{f}" for f in DECISION_FIELDS)]
    missing = [name for name in ("row", *wanted) if name not in names]
    if missing:
        raise InputError(
            f"{path}: not a decisions file this explain can read: missing column(s) "
            + ", ".join(missing),
            hint=_HINT,
        )
    index = _find_request(parquet, path, request_id) if request_id is not None else row
    assert index is not None
    total = parquet.metadata.num_rows
    if not 0 <= index < total:
        raise InputError(f"{path}: row {index} is out of range (the file has {total} rows)")
    record = _read_one(parquet, index, ["row", *wanted])
    shown = f"{path} row {record['row']}"
    request = request_from_mapping({f: record[f] for f in REQUEST_FIELDS}, shown)
    return DecisionRow(
        row=int(record["row"]),
        side=side,
        request=request,
        load=int(record[f"{side}_load"]),
        recorded={f: record[f"{side}_{f}"] for f in DECISION_FIELDS},
    )


def iter_decision_rows(path: Path, side: Side, limit: int) -> list[DecisionRow]:
    """Return the first ``limit`` rows of a decisions file (for checks over many rows).

    Raises:
        InputError: as ``read_decision_row``.
    """
    total = _open(path).metadata.num_rows
    return [read_decision_row(path, side=side, row=i) for i in range(min(limit, total))]


def _open(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise InputError(f"{path}: no such decisions file", hint=_HINT)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a Parquet decisions file ({exc})", hint=_HINT) from None


def _find_request(parquet: Any, path: Path, request_id: str) -> int:
    import pyarrow.compute as pc

    found: list[int] = []
    offset = 0
    for group in range(parquet.num_row_groups):
        ids = parquet.read_row_group(group, columns=["request_id"]).column("request_id")
        hits = pc.indices_nonzero(pc.equal(ids, request_id)).to_pylist()
        found += [offset + int(i) for i in hits[:2]]
        offset += parquet.metadata.row_group(group).num_rows
        if len(found) > 1:
            break
    if not found:
        raise InputError(f"{path}: no row has request id {request_id!r}")
    if len(found) > 1:
        raise InputError(
            f"{path}: request id {request_id!r} is on several rows ({found[0]}, {found[1]}, ...)",
            hint="pick one with --row N",
        )
    return found[0]


def _read_one(parquet: Any, index: int, columns: list[str]) -> dict[str, Any]:
    offset = 0
    for group in range(parquet.num_row_groups):
        size = parquet.metadata.row_group(group).num_rows
        if index < offset + size:
            table = parquet.read_row_group(group, columns=columns).slice(index - offset, 1)
            table = table.cast(_plain(table.schema))
            record: dict[str, Any] = table.to_pylist()[0]
            return record
        offset += size
    raise AssertionError("row index checked against num_rows")


def _plain(schema: Any) -> Any:
    """``schema`` with dictionary columns as their value types (labels read as strings)."""
    import pyarrow as pa

    return pa.schema(
        [f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema]
    )


def differences(row: DecisionRow, fresh: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Return ``{column: (recorded, fresh)}`` for every decision column that differs.

    ``fresh`` is ``Decision.decision_row()`` of the same request routed again at the row's
    load; an empty result means the explanation is of exactly the recorded decision.
    """
    out = {
        name: (row.recorded[name], fresh[name])
        for name in DECISION_FIELDS
        if row.recorded[name] != fresh[name]
    }
    if fresh["load"] != row.load:
        out["load"] = (row.load, fresh["load"])
    return out
