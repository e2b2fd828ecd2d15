"""Read decision records from what producers write: canonical JSONL or Parquet, and the
decision pairs Parquet of ``nexusctl simulate --decisions`` (counterfactual records).

Every record passes :class:`DecisionRecord` validation before it reaches the store; the first
invalid one rejects the whole input (exit 3, nothing written), named by line or row.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from nexusctl.errors import InputError
from nexusctl.evidence.record import ALIASES, DecisionRecord, arrow_schema
from nexusctl.evidence.table import records_table
from nexusctl.files import open_regular

if TYPE_CHECKING:
    import pyarrow as pa

#: A JSONL line longer than this is not a decision record.
MAX_LINE = 64 * 1024
_BATCH = 65_536
_MANY = TypeAdapter(list[DecisionRecord])
_REASONS = "nexus.decision.reasons"


def _explain(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    return f"{where}: {first['msg']}"


def _validate(rows: list[dict[str, Any]], where: str, first_row: int) -> list[DecisionRecord]:
    try:
        return _MANY.validate_python(rows)
    except ValidationError as exc:
        index = exc.errors()[0]["loc"][0]
        offset = index if isinstance(index, int) else 0
        try:
            DecisionRecord.model_validate(rows[offset])
        except ValidationError as single:
            raise InputError(f"{where}: record {first_row + offset}: {_explain(single)}") from None
        raise InputError(f"{where}: {_explain(exc)}") from None


def read_jsonl(path: Path) -> pa.Table:
    """Read canonical JSONL (one DecisionRecord per line, dotted keys).

    Raises:
        InputError: a line that is too long, not JSON, or not a valid record.
    """
    from nexusctl.document.strict_json import JsonLimitError, loads_strict

    rows: list[dict[str, Any]] = []
    with open_regular(path, what="records file") as handle:
        number = 0
        # At most MAX_LINE + 1 bytes a read: a line that never ends is refused, not held.
        while raw := handle.readline(MAX_LINE + 1):
            number += 1
            if len(raw) > MAX_LINE:
                raise InputError(f"{path}:{number}: line longer than {MAX_LINE} bytes")
            if not raw.strip():
                continue
            try:
                row = loads_strict(raw)  # bounded depth, unique keys, I-JSON numbers
                DecisionRecord.model_validate(row)
            except JsonLimitError as exc:
                raise InputError(f"{path}:{number}: not JSON ({exc})") from None
            except ValidationError as exc:
                raise InputError(f"{path}:{number}: {_explain(exc)}") from None
            rows.append(row)
    return _rows_table(rows)


def _rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Validated rows as a segment table. Validation is strict (no coercion), so the rows hold
    exactly the validated values; only the one defaulted non-null field is filled in."""
    import pyarrow as pa

    for row in rows:
        row.setdefault(_REASONS, [])
    return pa.Table.from_pylist(rows, schema=arrow_schema())


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open_regular(path, what="Parquet file") as handle:
        try:
            return pq.read_table(handle)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{path}: not a readable Parquet file ({exc})") from None


def read_parquet(path: Path) -> pa.Table:
    """Read canonical Parquet (one column per DecisionRecord alias).

    Columns are cast to the record schema and checked whole against the model's JSON Schema
    (:mod:`nexusctl.evidence.columns`); the first invalid record is then explained by pydantic.

    Raises:
        InputError: unreadable, unknown or mistyped columns, or an invalid record.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from nexusctl.evidence.columns import invalid_rows

    table = _read_parquet(path)
    unknown = [n for n in table.column_names if n not in ALIASES]
    if unknown:
        _validate([dict.fromkeys(unknown, None)], str(path), 1)
    schema = arrow_schema()
    columns = [
        table.column(f.name) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    if _REASONS not in table.column_names:
        empty = pa.array([[]] * table.num_rows, pa.list_(pa.string()))
        columns[schema.get_field_index(_REASONS)] = empty
    try:
        typed = pa.Table.from_arrays(columns, names=schema.names).cast(schema)
    except (pa.ArrowException, ValueError) as exc:
        raise InputError(f"{path}: columns do not match the record schema ({exc})") from None
    bad = invalid_rows(typed)
    if pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        _validate(typed.slice(row, 1).to_pylist(), str(path), row + 1)
        raise InputError(f"{path}: record {row + 1} does not satisfy the DecisionRecord schema")
    return typed


#: Decision pair columns (``<side>_<name>``) -> record alias.
_SIDE_COLUMNS = {
    "route_id": "nexus.route.id",
    "outcome": "nexus.decision.outcome",
    "deployment_id": "nexus.deployment.id",
    "tier": "nexus.route.tier",
    "provider": "gen_ai.provider.name",
    "region": "nexus.deployment.region",
    "draft_tokens": "nexus.decode.gamma",
    "predicted_latency_us": "nexus.latency_us",
    "predicted_cost_pusd": "nexus.cost.pusd",
    "escalation_rule": "nexus.escalation.rule",
    "escalation_target": "nexus.escalation.target",
}
_STATUS = {"routed": "ok", "escalated": "escalated", "refused": "refused"}
#: Request columns of the pairs file -> record alias.
_REQUEST_COLUMNS = {
    "request_id": "nexus.request.id",
    "tenant": "nexus.tenant.id",
    "app": "nexus.app.id",
    "use_case": "nexus.use_case",
    "data_class": "nexus.data.class",
    "residency_class": "nexus.residency.class",
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cached_input_tokens": "gen_ai.usage.cache_read.input_tokens",
    "reasoning_tokens": "gen_ai.usage.reasoning.output_tokens",
}


def read_simulate(path: Path, side: str, environment: str | None) -> pa.Table:
    """Read ``simulate --decisions`` pairs as counterfactual records of one side's policy.

    Raises:
        InputError: not a decisions pairs file, or a row that is not a valid record.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _read_parquet(path)
    wanted = ["time", *_REQUEST_COLUMNS, *(f"{side}_{c}" for c in _SIDE_COLUMNS), f"{side}_reason"]
    missing = [c for c in wanted if c not in table.column_names]
    if missing:
        raise InputError(
            f"{path}: not a `simulate --decisions` file (missing {', '.join(missing[:5])})"
        )
    micros = pc.cast(pc.cast(table.column("time"), pa.timestamp("us", tz="UTC")), pa.int64())
    records: list[DecisionRecord] = []
    for start in range(0, table.num_rows, _BATCH):
        chunk = table.slice(start, _BATCH)
        times = micros.slice(start, _BATCH).to_pylist()
        columns = {name: chunk.column(name).to_pylist() for name in wanted[1:]}
        rows = []
        for i, when in enumerate(times):
            row: dict[str, Any] = {
                "nexus.record.version": 1,
                "nexus.record.kind": "counterfactual",
                "nexus.record.source": "simulate",
                "nexus.request.time_unix_us": when,
                "nexus.environment": environment,
                "nexus.status": _STATUS.get(columns[f"{side}_outcome"][i], "error"),
            }
            row.update({alias: columns[name][i] for name, alias in _REQUEST_COLUMNS.items()})
            row.update({a: columns[f"{side}_{n}"][i] for n, a in _SIDE_COLUMNS.items()})
            reason = columns[f"{side}_reason"][i]
            row["nexus.decision.reasons"] = [reason] if reason else []
            rows.append(row)
        records += _validate(rows, str(path), start + 1)
    return records_table(records)


#: Canonical traffic columns -> record alias, for gateway logs read by the traffic importers.
#: (The pairs file carries the same request columns as canonical traffic.)
_TRAFFIC_COLUMNS = {**_REQUEST_COLUMNS, "observed_model": "gen_ai.response.model"}
#: 1 micro-USD = 10**6 pico-USD; 1 ms = 1000 us.
_PUSD_PER_MICRO_USD = 10**6


def read_gateway_log(fmt: str, path: Path, enrich: Path | None = None) -> pa.Table:
    """Read a LiteLLM spend log or OpenTelemetry GenAI spans as real decision records.

    Parsing is the traffic importers' (``nexusctl traffic import``), so the same hostile-input
    checks apply. The served model becomes ``gen_ai.response.model`` and
    ``nexus.deployment.id``; observed cost (micro-USD) becomes pico-USD, latency (ms) us.
    Attributes a log lacks (tenant, data class...) come from an enrichment spec, as for traffic.

    Raises:
        TrafficError: the importer refused the file (rows named).
        InputError: a row that is not a valid record.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from nexusctl.traffic.importers import ImportOptions, build_traffic

    traffic, _, _ = build_traffic(fmt, path, ImportOptions(enrich=enrich))
    times = pc.cast(pc.cast(traffic.column("time"), pa.timestamp("us", tz="UTC")), pa.int64())
    columns = {name: traffic.column(name).to_pylist() for name in _TRAFFIC_COLUMNS}
    cost = traffic.column("observed_cost_micro_usd").to_pylist()
    latency = traffic.column("observed_latency_ms").to_pylist()
    rows: list[dict[str, Any]] = []
    for i, when in enumerate(times.to_pylist()):
        row: dict[str, Any] = {alias: columns[name][i] for name, alias in _TRAFFIC_COLUMNS.items()}
        row.update(
            {
                "nexus.record.version": 1,
                "nexus.record.kind": "real",
                "nexus.record.source": fmt,
                "nexus.request.time_unix_us": when,
                "nexus.decision.outcome": "routed",
                "nexus.status": "ok",
                "nexus.deployment.id": row["gen_ai.response.model"],
                "nexus.cost.pusd": None if cost[i] is None else cost[i] * _PUSD_PER_MICRO_USD,
                "nexus.latency_us": None if latency[i] is None else latency[i] * 1000,
            }
        )
        rows.append(row)
    for start in range(0, len(rows), _BATCH):
        _validate(rows[start : start + _BATCH], str(path), start + 1)
    return _rows_table(rows)
