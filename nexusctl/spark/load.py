"""Load (arrivals in the trailing second) computed in Spark, partitioned by second.

The definition is ``nexusctl.replay.arrivals_load``'s, exactly: the load of a request at
``t`` ms is the number of requests whose time lies in ``(t - 1000, t]``, itself and every
request at the same millisecond included. The whole traffic is never pulled into one
partition:

1. count the requests per distinct millisecond (a partial aggregate per partition, then a
   shuffle by millisecond: requests of one second split across input partitions meet here);
2. give every millisecond to its second ``b = t div 1000`` and, as a neighbour only, to
   ``b + 1``: the window ``(t - 1000, t]`` of any ``t`` in second ``b`` lies inside seconds
   ``b - 1`` and ``b``, so partitioning the window by second loses nothing;
3. sum the counts over ``RANGE BETWEEN 999 PRECEDING AND CURRENT ROW`` (integer
   milliseconds: ``[t - 999, t]``, the same half-open window) and keep the own rows.

The result (one row per distinct millisecond) is joined back to the requests on the
millisecond. tests/spark/test_spark_load.py holds it equal to ``arrivals_load``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nexusctl.replay.load import WINDOW_MS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def time_ms(column: str, is_timestamp: bool) -> Column:
    """A traffic time column as integer milliseconds since the epoch (finer units floored).

    Times before 1970 are refused by the traffic contract, so truncation is the floor.
    """
    from pyspark.sql import functions as F

    if is_timestamp:
        return F.unix_millis(F.col(column))
    return F.col(column).cast("long")


def loads_by_ms(frame: DataFrame, t_ms: str = "t_ms") -> DataFrame:
    """Return ``(t_ms, load)``, one row per distinct millisecond of ``frame[t_ms]``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    counts = frame.groupBy(t_ms).agg(F.count(F.lit(1)).alias("_n"))
    second = F.floor(F.col(t_ms) / WINDOW_MS).cast("long")
    own = counts.select(t_ms, "_n", second.alias("_second"), F.lit(True).alias("_own"))
    neighbour = counts.select(t_ms, "_n", (second + 1).alias("_second"), F.lit(False).alias("_own"))
    window = (
        Window.partitionBy("_second")
        .orderBy(t_ms)
        .rangeBetween(-(WINDOW_MS - 1), Window.currentRow)
    )
    return (
        own.unionByName(neighbour)
        .withColumn("load", F.sum("_n").over(window).cast("long"))
        .where(F.col("_own"))
        .select(t_ms, "load")
    )


def with_load(frame: DataFrame, t_ms: str = "t_ms") -> DataFrame:
    """``frame`` with a ``load`` column (see the module docstring); row order not kept."""
    return frame.join(loads_by_ms(frame, t_ms), on=t_ms, how="inner")
