"""Choose the engine a command runs on: NumPy / DuckDB on this machine, or Spark."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexusctl.errors import UsageError
from nexusctl.spark.session import SparkSettings

if TYPE_CHECKING:
    from nexusctl.evidence.conformance import PolicySelection
    from nexusctl.evidence.query import QueryLimits, QueryResult
    from nexusctl.evidence.report import EvidenceReport, ReportFilter
    from nexusctl.simulate.aggregate import TrafficFold

#: Engines of ``simulate`` and of the evidence commands; the first is the default.
SIMULATE_ENGINES = ("numpy", "spark")
EVIDENCE_ENGINES = ("duckdb", "spark")


def _settings(
    engine: str, local: str, master: str | None, conf: list[str] | None
) -> SparkSettings | None:
    """Spark settings for ``--engine spark``; None for the local engine.

    Raises:
        UsageError: ``--master`` or ``--conf`` without ``--engine spark``.
    """
    if engine != "spark":
        if master is not None or conf:
            raise UsageError(
                f"--master and --conf need --engine spark (the {local} engine runs here)"
            )
        return None
    return SparkSettings.parse(master, conf)


def simulate_fold(engine: str, master: str | None, conf: list[str] | None) -> TrafficFold | None:
    """The fold ``simulate`` runs (``nexusctl.simulate.run``): None is the NumPy engine.

    Raises:
        UsageError: Spark options without ``--engine spark``, or a malformed ``--conf``.
    """
    settings = _settings(engine, "numpy", master, conf)
    if settings is None:
        return None
    from nexusctl.spark.simulate import SparkFold

    return SparkFold(settings)


def evidence_query(
    engine: str, master: str | None, conf: list[str] | None
) -> Callable[[Path, str, dict[str, Any], QueryLimits], QueryResult]:
    """``run_query(store, sql, params, limits)`` on DuckDB or on Spark.

    Raises:
        UsageError: Spark options without ``--engine spark``, or a malformed ``--conf``.
    """
    settings = _settings(engine, "duckdb", master, conf)
    if settings is None:
        from nexusctl.evidence.query import run_query

        return run_query
    from nexusctl.spark.evidence import run_query as run_on_spark

    def on_spark(root: Path, sql: str, params: dict[str, Any], limits: QueryLimits) -> QueryResult:
        return run_on_spark(root, sql, params, settings, limits)

    return on_spark


def evidence_report(
    engine: str, master: str | None, conf: list[str] | None
) -> Callable[[Path, ReportFilter, PolicySelection | None], EvidenceReport]:
    """``build_report(store, selection, policies)`` with its figures from DuckDB or Spark.

    Raises:
        UsageError: Spark options without ``--engine spark``, or a malformed ``--conf``.
    """
    settings = _settings(engine, "duckdb", master, conf)
    if settings is None:
        from nexusctl.evidence.report import build_report

        return build_report
    from nexusctl.spark.evidence import build_report as build_on_spark

    return functools.partial(build_on_spark, settings=settings)
