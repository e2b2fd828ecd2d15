"""Run simulate and the evidence queries on Apache Spark, with the single-machine answers.

Spark is an optional engine: ``pip install 'nexusctl-routing[spark]'`` adds pyspark, which is
imported only inside this package and only when a command asks for ``--engine spark``.
Public names: ``simulate_fold`` (the engine ``simulate`` runs, or None for the NumPy one),
``evidence_query`` and ``evidence_report`` (the DuckDB or the Spark implementation),
``SparkSettings`` and ``INSTALL_HINT`` (session.py). Modules: ``session`` (start a session,
check pyspark and Java), ``load`` (the load by second buckets), ``order`` (the time-order
check), ``simulate`` (the per-partition fold), ``progress`` (the status tracker),
``evidence`` (the views in Spark SQL), ``sandbox`` (what a Spark SQL query may not use),
``remote`` (traffic URLs through Spark's Hadoop FileSystem), ``errors`` (Spark's failures as
nexusctl's).
Submitting to a cluster, sizing and the dialect notes: docs/scale.md.
"""

from nexusctl.spark.engines import evidence_query, evidence_report, simulate_fold
from nexusctl.spark.session import INSTALL_HINT, SparkSettings

__all__ = ["INSTALL_HINT", "SparkSettings", "evidence_query", "evidence_report", "simulate_fold"]
