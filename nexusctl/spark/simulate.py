"""``simulate --engine spark``: the same replay and diff, each partition in a Spark worker.

The plan of one run (each step a Spark job; nothing is collected but the parts):

1. read the traffic Parquet with Spark, numbering rows by their index in the file
   (``_metadata.row_index``) and checking that times never decrease from one row to the
   next, as the NumPy engine's streamed read does (``_order.py``);
2. compute the load in Spark, partitioned by second (``load.py``);
3. in every partition, ``mapInArrow`` replays each Arrow batch under both compiled plans and
   folds the pairs into a ``DiffAggregate`` (``nexusctl.simulate.aggregate.fold_batch``),
   rows ascending, and yields it pickled as one binary value;
4. the driver merges the parts: integer counts and pico-USD sums, so exactly.

``simulate`` then builds the same ``SimulationResult`` as the NumPy engine from the merged
aggregates; only ``engine`` differs. Progress comes from Spark's status tracker
(``progress.py``).
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nexusctl.simulate.aggregate import DiffAggregate, FoldJob, fold_batch
from nexusctl.spark.errors import translated
from nexusctl.spark.session import SparkSettings, start_session

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from nexusctl.policy.catalog import ModelCatalog
    from nexusctl.policy.loader import LoadedPolicy


@dataclass(frozen=True)
class SparkFold:
    """The Spark engine behind ``simulate`` (``nexusctl.simulate.aggregate.TrafficFold``)."""

    settings: SparkSettings = field(default_factory=SparkSettings)
    name: str = "spark"

    def fold(self, job: FoldJob, progress: Callable[[int], None] | None) -> DiffAggregate:
        """Replay the traffic in Spark and return the merged aggregates.

        Raises:
            EnvironmentError_: pyspark or Java missing, or Spark failed.
            TrafficError: a row breaks the traffic contract or goes back in time.
        """
        total = DiffAggregate(job.baseline, job.candidate)
        if job.rows == 0:
            return total
        from nexusctl.spark.order import check_time_order
        from nexusctl.spark.progress import tracked

        spark = start_session(self.settings)
        with tracked(spark, job.rows, progress, "nexusctl simulate"), translated("simulate"):
            frame = _read(spark, job)
            check_time_order(frame)
            for part in _parts(frame, job).collect():
                total.merge(pickle.loads(part[0]))  # noqa: S301 - our own workers' output
        return total


def _read(spark: SparkSession, job: FoldJob) -> DataFrame:
    """The traffic's columns, ``row`` (0-based index in the file) and ``t_ms``."""
    from pyspark.sql import functions as F

    from nexusctl.spark.load import time_ms

    frame = spark.read.parquet(str(job.traffic.resolve()))
    is_timestamp = frame.schema["time"].dataType.typeName().startswith("timestamp")
    return frame.select(
        *[F.col(f"`{name}`") for name in job.columns],
        F.col("_metadata.row_index").alias("row"),
        time_ms("time", is_timestamp).alias("t_ms"),
    )


def _parts(frame: DataFrame, job: FoldJob) -> DataFrame:
    """One pickled ``DiffAggregate`` per partition, after the load is joined in."""
    import pyarrow.parquet as pq

    from nexusctl.spark.load import with_load

    source = pq.read_schema(job.traffic)
    fields = [source.field(name) for name in job.columns]
    fold = functools.partial(
        fold_partition, job.baseline, job.candidate, job.reprice, _target(fields)
    )
    loaded = with_load(frame).drop("t_ms").sortWithinPartitions("row")
    return loaded.mapInArrow(fold, "part binary")


def _target(fields: list[pa.Field]) -> pa.Schema:
    import pyarrow as pa

    extra = [pa.field("row", pa.int64(), nullable=False), pa.field("load", pa.int64())]
    return pa.schema([*fields, *extra])


def fold_partition(
    baseline: LoadedPolicy,
    candidate: LoadedPolicy,
    reprice: ModelCatalog | None,
    schema: pa.Schema,
    batches: Iterator[pa.RecordBatch],
) -> Iterator[pa.RecordBatch]:
    """Fold one partition's batches (rows ascending) into one pickled ``DiffAggregate``.

    Runs in a Spark Python worker. Each batch is cast back to the traffic file's own column
    types (Spark hands timestamps in microseconds, strings possibly as large strings), so the
    replay reads exactly what the NumPy engine reads.
    """
    import pyarrow as pa

    from nexusctl.router.plan import plan_for

    plans = (plan_for(baseline), plan_for(candidate))
    aggregate = DiffAggregate(baseline, candidate)
    for batch in batches:
        if batch.num_rows:
            fold_batch(aggregate, plans, reprice, _cast(batch, schema))
    data = pickle.dumps(aggregate, protocol=pickle.HIGHEST_PROTOCOL)
    yield pa.record_batch([pa.array([data], type=pa.binary())], names=["part"])


def _cast(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    columns = []
    for wanted in schema:
        column = batch.column(wanted.name)
        if column.type != wanted.type:
            # Microseconds to the file's milliseconds: exact for a file written in ms.
            column = column.cast(wanted.type, safe=not pa.types.is_timestamp(wanted.type))
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=schema)
