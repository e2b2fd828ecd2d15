"""``simulate --engine spark``: the same replay and diff, each partition in a Spark worker.

The plan of one run (each step a Spark job; nothing is collected but the parts):

1. read the traffic Parquet with Spark (a local path, or a URL handed over untouched:
   ``remote.py`` reads its footer and digest through the same filesystem), numbering rows
   by their index in the file (``_metadata.row_index``) and checking that times never
   decrease from one row to the next, as the NumPy engine's streamed read does (``_order.py``);
2. compute the load in Spark, partitioned by second (``load.py``);
3. in every partition, ``mapInArrow`` replays each Arrow batch under both compiled plans and
   folds the pairs into a ``DiffAggregate`` (``nexusctl.simulate.aggregate.fold_batch``),
   rows ascending, and yields it pickled as one binary value;
4. the driver merges the parts: integer counts and pico-USD sums, so exactly.

With ``--decisions`` the rows are range-partitioned by ``row`` first (one more shuffle), so
partition ``i`` holds rows before partition ``i + 1``'s; each batch's pairs leave the worker
as one Arrow IPC value, and the driver pulls the partitions in order, one at a time
(``toLocalIterator``), into the one pairs writer: the NumPy engine's file, row for row.

``simulate`` then builds the same ``SimulationResult`` as the NumPy engine from the merged
aggregates; only ``engine`` differs. Progress comes from Spark's status tracker
(``progress.py``).
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nexusctl.simulate.aggregate import DiffAggregate, FoldJob, fold_batch, pair_schema
from nexusctl.spark.errors import translated
from nexusctl.spark.session import SparkSettings, start_session

#: Rows a partition holds when --decisions gathers the pairs (two replay batches).
PAIRS_PART_ROWS = 131_072

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from nexusctl.policy.catalog import ModelCatalog
    from nexusctl.policy.loader import LoadedPolicy
    from nexusctl.spark.remote import HadoopFile


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
        # translated() outermost: a JVM that died mid-run is one error line, not a traceback.
        with translated("simulate"), tracked(spark, job.rows, progress, "nexusctl simulate"):
            frame = _read(spark, job)
            check_time_order(frame)
            parts = _parts(frame, job)
            if job.pairs is None:
                for part, _ in parts.collect():
                    total.merge(pickle.loads(part))  # noqa: S301 - our own workers' output
            else:
                for part, pairs in parts.toLocalIterator(prefetchPartitions=False):
                    if pairs is not None:
                        job.pairs.write_table(_from_ipc(pairs))
                    else:
                        total.merge(pickle.loads(part))  # noqa: S301 - our own workers' output
        return total

    def open_url(self, url: str) -> HadoopFile:
        """The file at ``url``, read through Spark's Hadoop FileSystem (``remote.py``).

        Raises:
            TrafficError: no such file, a directory, an empty file.
            EnvironmentError_: Spark cannot start, or has no filesystem for the URL.
        """
        from nexusctl.spark.remote import open_url

        return open_url(start_session(self.settings), url)

    def sha256_url(self, url: str) -> str:
        """The SHA-256 of the bytes at ``url``, through Spark's Hadoop FileSystem.

        Raises:
            TrafficError, EnvironmentError_: as ``open_url``.
        """
        from nexusctl.spark.remote import sha256_url

        return sha256_url(start_session(self.settings), url)


def _read(spark: SparkSession, job: FoldJob) -> DataFrame:
    """The traffic's columns, ``row`` (0-based index in the file) and ``t_ms``."""
    from pyspark.sql import functions as F

    from nexusctl.spark.load import time_ms

    # A URL goes to Spark as given; a local path is made absolute (the executors' cwd differs).
    where = job.traffic if isinstance(job.traffic, str) else str(Path(job.traffic).resolve())
    frame = spark.read.parquet(where)
    is_timestamp = frame.schema["time"].dataType.typeName().startswith("timestamp")
    return frame.select(
        *[F.col(f"`{name}`") for name in job.columns],
        F.col("_metadata.row_index").alias("row"),
        time_ms("time", is_timestamp).alias("t_ms"),
    )


def _parts(frame: DataFrame, job: FoldJob) -> DataFrame:
    """Per partition: its pairs as Arrow IPC values (with --decisions), then its pickled
    ``DiffAggregate``; the load is joined in first.
    """
    from nexusctl.spark.load import with_load

    assert job.schema is not None, "simulate passes the footer's schema"
    fields = [job.schema.field(name) for name in job.columns]
    pairs = None if job.pairs is None else pair_schema(job.schema)
    fold = functools.partial(
        fold_partition, job.baseline, job.candidate, job.reprice, _target(fields), pairs
    )
    loaded = with_load(frame).drop("t_ms")
    if job.pairs is not None:
        # Partition i holds rows before partition i + 1's: pulled in order, they are the file.
        # spark.sql.shuffle.partitions, and more if needed for at most PAIRS_PART_ROWS rows a
        # partition: a partition's pairs are one task result held in the driver's JVM while
        # it is pulled (1M rows in 4 partitions ran a 1 GiB local[2] driver out of heap).
        shuffle = int(frame.sparkSession.conf.get("spark.sql.shuffle.partitions") or 1)
        parts = max(shuffle, -(-job.rows // PAIRS_PART_ROWS))
        loaded = loaded.repartitionByRange(parts, "row")
    return loaded.sortWithinPartitions("row").mapInArrow(fold, "part binary, pairs binary")


def _target(fields: list[pa.Field]) -> pa.Schema:
    import pyarrow as pa

    extra = [pa.field("row", pa.int64(), nullable=False), pa.field("load", pa.int64())]
    return pa.schema([*fields, *extra])


def fold_partition(
    baseline: LoadedPolicy,
    candidate: LoadedPolicy,
    reprice: ModelCatalog | None,
    schema: pa.Schema,
    pairs: pa.Schema | None,
    batches: Iterator[pa.RecordBatch],
) -> Iterator[pa.RecordBatch]:
    """Fold one partition's batches (rows ascending) into one pickled ``DiffAggregate``.

    Runs in a Spark Python worker. Each batch is cast back to the traffic file's own column
    types (Spark hands timestamps in microseconds, strings possibly as large strings), so the
    replay reads exactly what the NumPy engine reads. With ``pairs`` (the pairs file's
    schema) every batch's decision pairs are yielded first, as one Arrow IPC value each.
    """
    from nexusctl.router.plan import plan_for

    plans = (plan_for(baseline), plan_for(candidate))
    aggregate = DiffAggregate(baseline, candidate)
    for batch in batches:
        if batch.num_rows:
            table = fold_batch(aggregate, plans, reprice, _cast(batch, schema), pairs)
            if table is not None:
                yield _record(None, _to_ipc(table))
    yield _record(pickle.dumps(aggregate, protocol=pickle.HIGHEST_PROTOCOL), None)


def _record(part: bytes | None, pairs: bytes | None) -> pa.RecordBatch:
    import pyarrow as pa

    columns = [pa.array([part], type=pa.binary()), pa.array([pairs], type=pa.binary())]
    return pa.record_batch(columns, names=["part", "pairs"])


def _to_ipc(table: pa.Table) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _from_ipc(data: bytes) -> pa.Table:
    import pyarrow as pa

    return pa.ipc.open_stream(data).read_all()


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
