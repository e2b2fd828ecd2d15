"""``evidence query`` and ``evidence report`` on Spark SQL, over the same Parquet store.

The views are DuckDB's (``nexusctl.evidence.query``), registered as Spark temporary views:
``decisions`` and ``counterfactual_decisions``, each over the sealed segments only (the files
the seals list up to the latest verified checkpoint), the columns DecisionRecord's snake_case
names plus ``time`` (TIMESTAMP_NTZ, UTC) and ``dt`` (DATE). Parquet is read by Spark itself,
so the store may be as large as the cluster allows.

The user's SQL is Spark SQL. It is checked read-only the portable way: it must parse as the
body of ``SELECT * FROM (...)``, which no DDL, DML or second statement does; reading a file
path inside a query (``parquet.`/x```) is off (``spark.sql.runSQLOnFiles=false``, forced);
built-ins that reach the JVM, a process or files are refused in the analyzed plan
(``sandbox.py``) before anything runs. Parameters
bind ``:NAME`` (DuckDB's ``$NAME``). The dialects differ in a few names, listed in
docs/scale.md; the report's queries are DuckDB's, translated by ``spark_sql``.

Integers that Spark sums as 64-bit (and would overflow) are summed as DECIMAL(38, 0) in the
report and returned as Python ints, so the report equals DuckDB's (whose sums are 128-bit)
row for row; tests/spark/test_spark_evidence.py holds them equal.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexusctl.errors import InputError, UsageError
from nexusctl.evidence.conformance import PolicySelection
from nexusctl.evidence.objectstore import as_blobs
from nexusctl.evidence.query import (
    VIEWS,
    QueryLimits,
    QueryResult,
    check_row_count,
    visible_segments,
)
from nexusctl.evidence.record import COLUMNS, arrow_schema
from nexusctl.evidence.report import SECTIONS, ReportFilter
from nexusctl.evidence.report_model import EvidenceReport, Section, Totals
from nexusctl.evidence.store import KINDS, load_config
from nexusctl.spark.errors import translated
from nexusctl.spark.sandbox import check_plan
from nexusctl.spark.session import SparkSettings, start_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_SUM = re.compile(r"\bsum\((\w+)\)")
_TOTALS = (
    "SELECT count(*), sum(CAST(cost_pusd AS DECIMAL(38, 0))), CAST(min(time) AS STRING), "
    "CAST(max(time) AS STRING) FROM decisions {where}"
)


def spark_sql(duckdb_sql: str) -> str:
    """Translate one of nexusctl's own DuckDB queries to Spark SQL.

    Only what those queries use: ``$name`` parameters become ``:name``,
    ``array_to_string`` becomes ``array_join``, and ``sum(column)`` sums as DECIMAL(38, 0)
    (DuckDB's integer sums are 128-bit; Spark's 64-bit sums would overflow).
    """
    text = _PARAM.sub(r":\1", duckdb_sql).replace("array_to_string(", "array_join(")
    return _SUM.sub(r"sum(CAST(\1 AS DECIMAL(38, 0)))", text)


def register_views(spark: SparkSession, root: Path) -> None:
    """Register the store's views in ``spark`` (temporary views, this session only).

    Raises:
        InputError: not an evidence store.
        VerificationError: a stored checkpoint does not verify.
    """
    if not isinstance(root, Path):
        raise UsageError(
            "--engine spark reads a store in a local (or mounted) directory",
            hint="an s3:// store is queried with the DuckDB engine; docs/scale.md",
        )
    config = load_config(root)
    for kind in KINDS:
        keys = visible_segments(root, kind, config.verifier)
        files = [str(Path(f).resolve()) for f in as_blobs(root).arrow_files(keys)[1]]
        _view(spark, files).createOrReplaceTempView(VIEWS[kind])


def _view(spark: SparkSession, files: list[str]) -> DataFrame:
    from pyspark.sql import functions as F

    if files:
        source = spark.read.schema(_spark_schema(spark)).parquet(*files)
    else:
        source = spark.createDataFrame(arrow_schema().empty_table())
    micros = next(name for name, alias in COLUMNS if alias == "nexus.request.time_unix_us")
    # DuckDB's make_timestamp(us): a UTC wall-clock time without a zone (the session is UTC).
    time = F.timestamp_micros(F.col(micros)).cast("timestamp_ntz")
    columns = [F.col(f"`{alias}`").alias(name) for name, alias in COLUMNS]
    return source.select(*columns).select("*", time.alias("time"), time.cast("date").alias("dt"))


def _spark_schema(spark: SparkSession) -> Any:
    """The segments' schema as Spark's (read with it: no file footer is sampled)."""
    return spark.createDataFrame(arrow_schema().empty_table()).schema


def run_query(
    root: Path,
    sql: str,
    params: dict[str, Any],
    settings: SparkSettings,
    limits: QueryLimits | None = None,
) -> QueryResult:
    """Run one Spark SQL query over the store's views; rows as DuckDB's cursor gives them.

    Within ``limits``: the query's jobs are cancelled at the time limit, and at most one row
    over the cap is collected to the driver.

    Raises:
        InputError: not one query, Spark refused it (its first line kept), it ran past the
            time limit or returned more rows than the cap.
        EnvironmentError_: Spark could not run.
    """
    import threading

    limits = limits or QueryLimits()
    spark = start_session(settings, "nexusctl evidence query")
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        spark.sparkContext.cancelAllJobs()

    timer = threading.Timer(limits.timeout_s, stop) if limits.timeout_s > 0 else None
    # After --conf: a query never reads a file path, whatever the settings say.
    spark.conf.set("spark.sql.runSQLOnFiles", "false")
    register_views(spark, root)
    body = sql.strip().rstrip(";")
    # On its own lines: a trailing `-- comment` in the user's SQL cannot swallow the bracket.
    # The user's SQL is the point of the command; it can only be a query inside a subquery.
    wrapped = f"SELECT * FROM (\n{body}\n)"  # noqa: S608
    with translated("evidence query"):
        try:
            frame = spark.sql(wrapped, args=params or None)
            check_plan(frame)
            if timer is not None:
                timer.daemon = True
                timer.start()
            rows = frame.limit(limits.max_rows + 1).collect()
        except Exception as exc:
            if fired.is_set():
                raise InputError(
                    f"query stopped after {limits.timeout_s:g} s (--timeout)",
                    hint="narrow it, or give it longer with --timeout SECONDS (0: no limit)",
                ) from None
            if _is_analysis_error(exc):
                first = str(exc).strip().splitlines()[0]
                raise InputError(
                    f"query failed: {first}",
                    hint="evidence query --engine spark runs exactly one SELECT (Spark SQL)",
                ) from None
            raise
        finally:
            if timer is not None:
                timer.cancel()
    check_row_count(len(rows), limits)
    return QueryResult(frame.columns, [tuple(_plain(v) for v in row) for row in rows])


def figures(
    root: Path, selection: ReportFilter, settings: SparkSettings
) -> tuple[Totals, list[Section]]:
    """The report's totals and sections, every figure computed by Spark SQL.

    Raises:
        EnvironmentError_: Spark could not run.
    """
    spark = start_session(settings, "nexusctl evidence report")
    register_views(spark, root)
    where, params = selection.where()
    where = spark_sql(where)
    args = dict(params)
    with translated("evidence report"):
        total = spark.sql(_TOTALS.format(where=where), args=args or None).collect()[0]
        sections = []
        for section, title, sql in SECTIONS:
            frame = spark.sql(spark_sql(sql.format(where=where)), args=args or None)
            rows = [[_report_value(v) for v in row] for row in frame.collect()]
            sections.append(Section(id=section, title=title, columns=frame.columns, rows=rows))
    totals = Totals(
        decisions=total[0], spend_pusd=_plain(total[1]) or 0, first=total[2], last=total[3]
    )
    return totals, sections


def build_report(
    root: Path,
    selection: ReportFilter,
    policies: PolicySelection | None = None,
    *,
    settings: SparkSettings,
) -> EvidenceReport:
    """``evidence report`` with its figures from Spark SQL; everything else (logs, conformance,
    the registry join) as ``nexusctl.evidence.report.build_report`` does it.

    Raises:
        InputError: not an evidence store.
        VerificationError: a stored checkpoint does not verify.
        EnvironmentError_: Spark could not run.
    """
    import functools

    from nexusctl.evidence.report import build_report as build

    return build(root, selection, policies, functools.partial(figures, settings=settings))


#: Spark's errors that the query itself causes (its text, its types, its values): exit 3.
_QUERY_ERRORS = frozenset(
    {
        "AnalysisException",
        "ParseException",
        "ArithmeticException",
        "NumberFormatException",
        "DateTimeException",
        "IllegalArgumentException",
        "ArrayIndexOutOfBoundsException",
        "PySparkTypeError",
        "PySparkValueError",
    }
)


def _is_analysis_error(exc: Exception) -> bool:
    return bool({cls.__name__ for cls in type(exc).__mro__} & _QUERY_ERRORS)


def _plain(value: Any) -> Any:
    """Spark's Python values as DuckDB's: whole decimals (exact sums) as ints."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _report_value(value: Any) -> Any:
    plain = _plain(value)
    return plain if plain is None or isinstance(plain, int | str | float) else str(plain)
