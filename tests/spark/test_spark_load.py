"""The load computed in Spark equals ``arrivals_load``, row for row, however it is split."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import SparkSession

from nexusctl.replay import arrivals_load
from nexusctl.spark.load import loads_by_ms, with_load

#: Milliseconds just inside and just outside one another's trailing second.
EDGES = [0, 1, 999, 1000, 1001, 1999, 2000, 2998, 3998]


def awkward_times(seed: int = 11) -> np.ndarray:
    """Bursts at one millisecond, gaps of 999, 1000 and 1001 ms, second boundaries, ties."""
    rng = np.random.default_rng(seed)
    base = 1_767_225_600_000
    parts = [
        base
        + np.repeat([0, 1, 999, 1000, 1001, 1999, 2000, 2998, 3998], [5, 1, 2, 7, 1, 3, 1, 2, 4]),
        base + 10_000 + np.sort(rng.integers(0, 5_000, 3_000)),  # dense: load far above 64
        base + 20_000 + np.arange(0, 40_000, 997),  # one request per ~second, drifting
        base + 70_000 + np.sort(rng.integers(0, 200_000, 2_000)),
    ]
    return np.concatenate(parts).astype(np.int64)


@pytest.mark.parametrize("partitions", [1, 3, 16])
def test_loads_equal_arrivals_load(spark: SparkSession, partitions: int) -> None:
    times = awkward_times()
    rows = [(i, int(t)) for i, t in enumerate(times)]
    frame = spark.createDataFrame(rows, "row long, t_ms long").repartition(partitions, "row")
    got = {r["row"]: r["load"] for r in with_load(frame).select("row", "load").collect()}
    expected = arrivals_load(times)
    assert len(got) == len(times)
    assert [got[i] for i in range(len(times))] == expected.tolist()
    assert expected.max() > 64  # the controller's load points are exercised


def test_one_row_per_millisecond(spark: SparkSession) -> None:
    frame = spark.createDataFrame([(0, 5), (1, 5), (2, 1004), (3, 1005)], "row long, t_ms long")
    assert sorted(tuple(r) for r in loads_by_ms(frame).collect()) == [(5, 2), (1004, 3), (1005, 2)]
