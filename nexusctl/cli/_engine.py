"""The ``--engine``, ``--master`` and ``--conf`` options shared by simulate and evidence.

Declared once here so each command adds three parameters and one call
(``nexusctl.spark.simulate_fold`` / ``evidence_query`` / ``evidence_report``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class SimulateEngine(StrEnum):
    """Where simulate replays: this process (NumPy) or Apache Spark."""

    numpy = "numpy"
    spark = "spark"


class EvidenceEngine(StrEnum):
    """Where the evidence views are queried: DuckDB here, or Spark SQL."""

    duckdb = "duckdb"
    spark = "spark"


SimulateEngineOpt = Annotated[
    SimulateEngine,
    typer.Option(
        "--engine",
        help="numpy (this process) or spark (pip install 'nexusctl-routing[spark]', Java 17+); "
        "same result either way (docs/scale.md).",
        case_sensitive=False,
    ),
]
EvidenceEngineOpt = Annotated[
    EvidenceEngine,
    typer.Option(
        "--engine",
        help="duckdb (this process) or spark (Spark SQL over the same store; docs/scale.md).",
        case_sensitive=False,
    ),
]
MasterOpt = Annotated[
    str | None,
    typer.Option(
        "--master",
        help="Spark master URL with --engine spark: local[N], spark://HOST:7077, yarn, "
        "k8s://URL (default local[*]).",
        metavar="URL",
    ),
]
ConfOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--conf",
        help="A Spark setting KEY=VALUE with --engine spark; repeatable.",
        metavar="KEY=VALUE",
    ),
]
