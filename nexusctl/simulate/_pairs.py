"""Stream recorded traffic through two replays and write the per-request decision pairs.

The traffic Parquet is read once, in bounded batches (``ParquetFile.iter_batches``), and
handed to the engine's ``replay_pair``, which yields aligned (traffic, baseline, candidate)
row ranges; a worker thread runs it ahead of the fold. Each range is checked against the
running row index, folded into the running aggregates and, when asked, written as one
Parquet row group: memory is bounded by the batch size and the replays' own look-behind,
never by the row count.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexusctl.errors import TrafficError
from nexusctl.replay.schema import DECISIONS
from nexusctl.simulate._streams import in_thread
from nexusctl.tables import arrow_type
from nexusctl.traffic.schema import REQUEST_ATTRIBUTES, TOKEN_COLUMNS, TRAFFIC

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nexusctl.policy.catalog import ModelCatalog
    from nexusctl.policy.loader import LoadedPolicy
    from nexusctl.replay import ReplayEngine
    from nexusctl.simulate._accumulate import Accumulator

BATCH_ROWS = 65_536

#: Request attributes copied into the pairs file (besides ``row``); their types are the
#: traffic table's (``nexusctl.traffic.schema.TRAFFIC``). With the per-side ``load`` they are
#: everything the router reads, so any row can be explained again (``decision_rows``).
REQUEST_COLUMNS: tuple[str, ...] = (
    "time",
    "request_id",
    *REQUEST_ATTRIBUTES,
    *TOKEN_COLUMNS,
    "capabilities",
    "complexity",
    "confidence",
    "small_model_correct",
    "large_model_correct",
)
#: Columns the replay reads that are not copied.
REPLAY_ONLY_COLUMNS: tuple[str, ...] = ()
#: Columns that may be absent (quality labels: then no request is labelled).
OPTIONAL_COLUMNS = frozenset({"small_model_correct", "large_model_correct"})
#: Decision columns of the decisions table (``nexusctl.replay.schema.DECISIONS``), copied per
#: side (``row`` and ``request_id`` are the pair's own).
DECISION_COLUMNS: tuple[str, ...] = tuple(
    name for name in DECISIONS.names if name not in ("row", "request_id")
)
SIDES = ("baseline", "candidate")
#: Request label columns read dictionary-encoded when the engine replays both policies.
LABEL_COLUMNS = ("tenant", "app", "use_case", "data_class", "residency_class", "risk_class")


def pair_schema(traffic: pa.Schema) -> pa.Schema:
    """The schema of the decision-pairs Parquet file for a traffic file of this schema."""
    import pyarrow as pa

    fields = [pa.field("row", pa.int64(), nullable=False)]
    for name in REQUEST_COLUMNS:
        if name in traffic.names:
            fields.append(traffic.field(name))
        else:
            fields.append(pa.field(name, arrow_type(TRAFFIC.kind(name))))
    for side in SIDES:
        for name in DECISION_COLUMNS:
            fields.append(pa.field(f"{side}_{name}", arrow_type(DECISIONS.kind(name))))
    fields.append(pa.field("baseline_repriced_cost_pusd", pa.int64()))
    return pa.schema(fields)


def pair_table(
    req: pa.Table, base: pa.Table, cand: pa.Table, repriced: Any, schema: pa.Schema
) -> pa.Table:
    """One aligned batch's decision pairs as rows of the pairs file (``pair_schema``)."""
    import pyarrow as pa

    arrays: list[Any] = [base.column("row")]
    for name in REQUEST_COLUMNS:
        if name in req.column_names:
            arrays.append(_as_type(req.column(name), schema.field(name).type))
        else:
            arrays.append(pa.nulls(req.num_rows, schema.field(name).type))
    for side in (base, cand):
        for name in DECISION_COLUMNS:
            arrays.append(_column(side, name, schema))
    arrays.append(repriced)
    return pa.Table.from_arrays(arrays, schema=schema)


def pairs_writer(out: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A Parquet writer for the pairs file (every engine writes it with these settings)."""
    import pyarrow.parquet as pq

    # request_id is unique per row: a dictionary would only cost time.
    plain = {"request_id", "time", "row"}
    return pq.ParquetWriter(
        out, schema, compression="lz4", use_dictionary=[n for n in schema.names if n not in plain]
    )


def check_traffic_schema(schema: pa.Schema, shown: str) -> list[str]:
    """Return the traffic columns to read; refuse a file that lacks or mistypes one.

    Raises:
        TrafficError: a required column is missing or has the wrong type (the traffic table's
            declared type families).
    """
    wanted = (*REQUEST_COLUMNS, *REPLAY_ONLY_COLUMNS)
    missing = [n for n in wanted if n not in schema.names and n not in OPTIONAL_COLUMNS]
    if missing:
        raise TrafficError(
            f"{shown}: not a nexusctl traffic file: missing column(s) {', '.join(missing)}",
            hint="import it first with `nexusctl traffic import`",
        )
    errors = TRAFFIC.schema_errors(schema, need=())
    if errors:
        raise TrafficError(f"{shown}: {errors[0]}")
    extra = [n for n in schema.names if n not in wanted]
    return [n for n in wanted if n in schema.names] + extra


def stream_pairs(
    traffic: pq.ParquetFile | None,
    shown: Path,
    baseline: LoadedPolicy,
    candidate: LoadedPolicy,
    engine: ReplayEngine,
    reprice_catalog: ModelCatalog | None,
    accumulator: Accumulator,
    out: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Replay every batch under both policies, fold it into ``accumulator``; return rows.

    ``reprice_catalog`` is the candidate catalog when it differs from the baseline's (then the
    baseline decisions are repriced with ``engine.reprice``); None means same prices. With
    ``out``, every decision pair is also written there (Parquet, one row group per batch).
    ``traffic`` None stands for an empty traffic file.

    Raises:
        TrafficError: a batch breaks the traffic contract.
    """
    import pyarrow as pa

    schema = pair_schema(traffic.schema_arrow if traffic is not None else pa.schema([]))
    writer = None if out is None else pairs_writer(out, schema)
    try:
        if traffic is None:
            return 0
        return _stream(
            traffic,
            shown,
            baseline,
            candidate,
            engine,
            reprice_catalog,
            accumulator,
            schema,
            writer,
            progress,
        )
    finally:
        if writer is not None:
            writer.close()


def _stream(
    traffic: pq.ParquetFile,
    shown: Path,
    baseline: LoadedPolicy,
    candidate: LoadedPolicy,
    engine: ReplayEngine,
    reprice_catalog: ModelCatalog | None,
    accumulator: Accumulator,
    schema: pa.Schema,
    writer: pq.ParquetWriter | None,
    progress: Callable[[int], None] | None,
) -> int:
    columns = check_traffic_schema(traffic.schema_arrow, str(shown))
    # One read of each batch feeds both policies; a worker thread replays the next batch
    # while this one is folded. Only the columns the replay and the diff read (extra columns
    # are not copied), label columns as dictionaries.
    wanted = [n for n in columns if n in REQUEST_COLUMNS or n in REPLAY_ONLY_COLUMNS]
    from nexusctl.traffic.parquet import traffic_batches

    source = traffic_batches(_dictionary_reader(traffic, shown), str(shown), wanted, BATCH_ROWS)
    streams = in_thread(engine.replay_pair(baseline, candidate, source))
    done = 0
    for req, base, cand in streams:
        n = req.num_rows
        _check_rows(base, done, n, "baseline")
        _check_rows(cand, done, n, "candidate")
        if reprice_catalog is None:
            repriced: Any = base.column("predicted_cost_pusd")
        else:
            repriced = engine.reprice(base, req, reprice_catalog)
        accumulator.add(req, base, cand, repriced)
        if writer is not None:
            writer.write_table(pair_table(req, base, cand, repriced, schema), row_group_size=n)
        done += n
        if progress is not None:
            progress(done)
    return done


def _dictionary_reader(traffic: pq.ParquetFile, shown: Path) -> pq.ParquetFile:
    """The traffic file again, its label columns read as dictionaries (no string decoding)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = traffic.schema_arrow.names
    labels = [n for n in LABEL_COLUMNS if n in names]
    try:
        return pq.ParquetFile(shown, pre_buffer=False, read_dictionary=labels)
    except (pa.ArrowException, OSError):
        return traffic


def _as_type(column: Any, want: Any) -> Any:
    return column if column.type == want else column.cast(want)


def _column(table: pa.Table, name: str, schema: pa.Schema) -> Any:
    import pyarrow as pa

    want = schema.field(f"baseline_{name}").type
    if name not in table.column_names:
        return pa.nulls(table.num_rows, want)
    col = table.column(name)
    return col if col.type == want else col.cast(want)


def _check_rows(table: pa.Table | pa.RecordBatch, start: int, n: int, side: str) -> None:
    import pyarrow.compute as pc

    rows = table.column("row")
    if n and (rows[0].as_py() != start or rows[n - 1].as_py() != start + n - 1):
        raise RuntimeError(
            f"{side} replay returned rows {rows[0].as_py()}..{rows[n - 1].as_py()}, "
            f"expected {start}..{start + n - 1} (replay must keep traffic order)"
        )
    if n and pc.any(pc.not_equal(pc.subtract(rows, start), _arange(n))).as_py():
        raise RuntimeError(f"{side} replay returned rows out of order near row {start}")


def _arange(n: int) -> Any:
    import numpy as np
    import pyarrow as pa

    return pa.array(np.arange(n, dtype=np.int64))
