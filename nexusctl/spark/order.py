"""Refuse traffic whose times go back, as the NumPy engine's streamed read does.

The NumPy engine reads the file in order and refuses the first row whose time is earlier
than the row before it (``nexusctl.replay``: a streamed replay needs rows ordered by time).
Here every partition reports its runs of consecutive rows (first and last row, first and
last time, the first row inside the run that goes back); the driver joins the runs in row
order and checks the seams. Only two integer columns are read, and only a few numbers per
partition reach the driver.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from nexusctl.errors import TrafficError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

#: One run of consecutive rows: first row, last row, first time, last time, first bad row.
Run = tuple[int, int, int, int, int]
_SCHEMA = "start long, stop long, first_t long, last_t long, bad long"
_NONE = -1


def check_time_order(frame: DataFrame) -> None:
    """Raise when a row's ``t_ms`` is below the previous row's (by ``row``).

    Raises:
        TrafficError: the first such row, 1-based, as the NumPy engine names it.
    """
    runs = sorted(
        tuple(r) for r in frame.select("row", "t_ms").mapInArrow(partition_runs, _SCHEMA).collect()
    )
    bad = first_bad_row(runs)
    if bad is not None:
        raise TrafficError(
            f"traffic row {bad + 1} (1-based) goes back in time; simulate needs rows ordered "
            "by time (sort the file by time)"
        )


def first_bad_row(runs: list[Run]) -> int | None:
    """The first 0-based row whose time is below its predecessor's, from sorted runs."""
    bad: int | None = None
    previous: Run | None = None
    for run in runs:
        start, _, first_t, _, inner = run
        if previous is not None:
            if start != previous[1] + 1:
                raise RuntimeError(f"rows {previous[1] + 1}..{start - 1} missing from the scan")
            if first_t < previous[3]:
                bad = start if bad is None else min(bad, start)
        if inner != _NONE:
            bad = inner if bad is None else min(bad, inner)
        previous = run
    return bad


def partition_runs(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Runs of consecutive rows in one partition (runs in Spark workers)."""
    import numpy as np
    import pyarrow as pa

    runs: list[Run] = []
    for batch in batches:
        if not batch.num_rows:
            continue
        rows = np.asarray(batch.column("row").to_numpy(zero_copy_only=False), dtype=np.int64)
        times = np.asarray(batch.column("t_ms").to_numpy(zero_copy_only=False), dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        rows, times = rows[order], times[order]
        cuts = np.flatnonzero(np.diff(rows) != 1) + 1
        for part_rows, part_times in zip(np.split(rows, cuts), np.split(times, cuts), strict=True):
            back = np.flatnonzero(np.diff(part_times) < 0)
            inner = int(part_rows[back[0] + 1]) if len(back) else _NONE
            runs.append(
                (
                    int(part_rows[0]),
                    int(part_rows[-1]),
                    int(part_times[0]),
                    int(part_times[-1]),
                    inner,
                )
            )
    merged = _merge(sorted(runs))
    names = ["start", "stop", "first_t", "last_t", "bad"]
    columns = [pa.array([run[i] for run in merged], type=pa.int64()) for i in range(len(names))]
    yield pa.record_batch(columns, names=names)


def _merge(runs: list[Run]) -> list[Run]:
    """Join runs that continue one another, keeping the first bad row (seams included)."""
    merged: list[Run] = []
    for run in runs:
        if merged and merged[-1][1] + 1 == run[0]:
            start, _, first_t, last_t, bad = merged[-1]
            if bad == _NONE and run[2] < last_t:
                bad = run[0]
            if bad == _NONE:
                bad = run[4]
            merged[-1] = (start, run[1], first_t, run[3], bad)
        else:
            merged.append(run)
    return merged
