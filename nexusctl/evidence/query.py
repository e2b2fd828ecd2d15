"""DuckDB over the store: one view per record kind, read-only, parameterised.

Views (columns are DecisionRecord's snake_case field names, plus ``time`` as a UTC TIMESTAMP
and ``dt`` as the DATE partition)::

    decisions                  real decisions, from sealed segments only
    counterfactual_decisions   simulated decisions, kept apart

Only sealed segments are read, so a segment an interrupted ingest left is never visible. The
connection is locked down before the user's SQL runs: file system access is disabled outside
the store, the configuration is frozen, and exactly one SELECT statement is accepted. A query
is bounded (``QueryLimits``): it is stopped after a time limit and refused when it returns more
rows than a cap, read as a stream so the cap also bounds memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nexusctl.errors import InputError, UsageError
from nexusctl.evidence.objectstore import LocalBlobs, StoreRoot, as_blobs
from nexusctl.evidence.record import COLUMNS, arrow_schema
from nexusctl.evidence.retention import dropped_seqs
from nexusctl.evidence.store import KINDS, Log, load_config

if TYPE_CHECKING:
    import duckdb

    from nexusctl.evidence.note import NoteVerifier
    from nexusctl.evidence.store import Kind

VIEWS = {"real": "decisions", "counterfactual": "counterfactual_decisions"}
_VIEW = "CREATE VIEW {view} AS SELECT *, {extra} FROM (SELECT {select} FROM {source})"
_INTEGER = re.compile(r"-?\d{1,18}")


@dataclass(frozen=True)
class QueryLimits:
    """How long a query may run (seconds; 0: no limit) and how many rows it may return."""

    timeout_s: float = 900.0
    max_rows: int = 1_000_000


@dataclass(frozen=True)
class QueryResult:
    """Column names and rows of a query."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _empty_source() -> str:
    """An empty relation in the segment schema, in SQL: registering an Arrow table instead
    makes DuckDB import pandas (about a second of start-up)."""
    import pyarrow as pa

    types = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.list_(pa.string()): "VARCHAR[]"}
    columns = ", ".join(f'CAST(NULL AS {types[f.type]}) AS "{f.name}"' for f in arrow_schema())
    return f"(SELECT {columns} WHERE FALSE)"


def visible_segments(root: StoreRoot, kind: Kind, verifier: NoteVerifier) -> list[str]:
    """The store keys of ``kind``'s segments that queries see: sealed under the latest
    verified checkpoint, and not dropped by retention (a tombstone).

    Raises:
        InputError: a malformed seal.
        VerificationError: the checkpoint does not verify.
    """
    log = Log(as_blobs(root), kind)
    checkpoint = log.latest(verifier)
    size = checkpoint.size if checkpoint else 0
    dropped = dropped_seqs(log) if checkpoint else set()
    return [log.segment_key(s) for s in log.seals() if s.end_index <= size and s.seq not in dropped]


def open_store(root: StoreRoot) -> duckdb.DuckDBPyConnection:
    """Return a read-only, locked-down DuckDB connection with the store's views.

    A local store's segments are read by DuckDB's own Parquet reader; an object store's
    through a pyarrow dataset over the same S3 file system the store uses (DuckDB scans it
    with projection and filter pushdown), so no credential is handed to DuckDB.

    Raises:
        InputError: not an evidence store.
    """
    import duckdb

    config = load_config(root)
    blobs = as_blobs(root)
    con = duckdb.connect(":memory:", config={"temp_directory": _spill_directory()})
    empty = _empty_source()
    select = ", ".join(f'"{alias}" AS {name}' for name, alias in COLUMNS)
    extra = "make_timestamp(time_unix_us) AS time, CAST(make_timestamp(time_unix_us) AS DATE) AS dt"
    for kind in KINDS:
        keys = visible_segments(root, kind, config.verifier)
        filesystem, files = blobs.arrow_files(keys)
        if files and isinstance(blobs, LocalBlobs):
            source = f"read_parquet([{', '.join(_quote(f) for f in files)}])"
        elif files:
            import pyarrow.dataset as pads

            dataset = pads.dataset(
                files, schema=arrow_schema(), format="parquet", filesystem=filesystem
            )
            con.register(f"_segments_{kind}", dataset)
            source = f"_segments_{kind}"
        else:
            source = empty
        # Names and paths come from the schema and the seals, quoted; no user text here.
        con.execute(_VIEW.format(view=VIEWS[kind], extra=extra, select=select, source=source))
    allowed = str(blobs.root.resolve()) + "/" if isinstance(blobs, LocalBlobs) else "/nonexistent/"
    con.execute("SET enable_progress_bar=false")  # stdout carries the result
    con.execute(f"SET allowed_directories=[{_quote(allowed)}]")
    con.execute("SET enable_external_access=false")
    con.execute("SET lock_configuration=true")
    return con


def _spill_directory() -> str:
    """A private folder for what DuckDB spills to disk, removed when the process exits.

    An in-memory connection otherwise spills into ``.tmp`` under the working directory: a
    large sort would leave gigabytes in the auditor's checkout.
    """
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="nexusctl-duckdb-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """Turn ``name=value`` pairs into DuckDB named parameters (integers stay integers).

    Raises:
        UsageError: a pair without ``=``.
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--param {pair!r} is not NAME=VALUE")
        params[name] = int(value) if _INTEGER.fullmatch(value) else value
    return params


def run_query(
    root: StoreRoot, sql: str, params: dict[str, Any], limits: QueryLimits | None = None
) -> QueryResult:
    """Run one SELECT over the store's views, within ``limits``.

    Raises:
        InputError: not one SELECT statement, DuckDB refused it (message kept), it ran past
            the time limit (stopped) or returned more rows than the cap.
    """
    import threading

    import duckdb

    limits = limits or QueryLimits()
    con = open_store(root)
    timer = threading.Timer(limits.timeout_s, con.interrupt) if limits.timeout_s > 0 else None
    try:
        statements = con.extract_statements(sql)
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise InputError("evidence query runs exactly one SELECT statement (read-only)")
        if timer is not None:
            timer.daemon = True
            timer.start()
        cursor = con.execute(sql, params or None)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchmany(limits.max_rows + 1)
        check_row_count(len(rows), limits)
        return QueryResult(columns, rows)
    except duckdb.InterruptException:
        raise InputError(
            f"query stopped after {limits.timeout_s:g} s (--timeout)",
            hint="narrow it, or give it longer with --timeout SECONDS (0: no limit)",
        ) from None
    except duckdb.Error as exc:
        raise InputError(f"query failed: {str(exc).splitlines()[0]}") from None
    finally:
        if timer is not None:
            timer.cancel()
        con.close()


def check_row_count(rows: int, limits: QueryLimits) -> None:
    """Refuse a result of more than ``limits.max_rows`` rows (fetch one more to know).

    Raises:
        InputError: the result is over the cap.
    """
    if rows > limits.max_rows:
        raise InputError(
            f"the query returns more than {limits.max_rows:,} rows (--max-rows)",
            hint="aggregate, add a LIMIT, or raise --max-rows",
        )
