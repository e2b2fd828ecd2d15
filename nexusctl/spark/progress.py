"""Progress of a Spark run, read from Spark's status tracker and reported as rows done.

A worker thread polls ``SparkContext.statusTracker()`` for the jobs of this run's job group
and reports ``rows x completed tasks / known tasks`` through the same ``progress(rows_done)``
callback the NumPy engine calls after each batch, so the CLI draws one progress bar for
either engine. The estimate never goes backwards and reaches ``rows`` only at the end.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Seconds between two reads of the status tracker.
POLL_SECONDS = 0.5


def task_fraction(stages: list[tuple[int, int]]) -> float:
    """Completed over known tasks across ``(completed, total)`` stages (0.0 when none)."""
    known = sum(total for _, total in stages)
    return 0.0 if known == 0 else sum(done for done, _ in stages) / known


@contextlib.contextmanager
def tracked(
    spark: SparkSession,
    rows: int,
    progress: Callable[[int], None] | None,
    description: str,
) -> Iterator[None]:
    """Run the body's Spark jobs in one job group, reporting progress while they run."""
    context = spark.sparkContext
    group = f"nexusctl-{uuid.uuid4().hex}"
    context.setJobGroup(group, description, interruptOnCancel=True)
    stop = threading.Event()
    worker = None
    if progress is not None:
        worker = threading.Thread(
            target=_poll, args=(spark, group, rows, progress, stop), daemon=True
        )
        worker.start()
    try:
        yield
    finally:
        stop.set()
        if worker is not None:
            worker.join()
        # The JVM may be gone (it ran out of memory): then there is no job group to clear.
        with contextlib.suppress(Exception):
            context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    if progress is not None:
        progress(rows)


def _poll(
    spark: SparkSession,
    group: str,
    rows: int,
    progress: Callable[[int], None],
    stop: threading.Event,
) -> None:
    tracker = spark.sparkContext.statusTracker()
    shown = 0
    while not stop.wait(POLL_SECONDS):
        stages: dict[int, tuple[int, int]] = {}
        for job_id in tracker.getJobIdsForGroup(group):
            job = tracker.getJobInfo(job_id)
            for stage_id in job.stageIds if job is not None else []:
                stage = tracker.getStageInfo(stage_id)
                if stage is not None:
                    stages[stage_id] = (stage.numCompletedTasks, stage.numTasks)
        done = min(rows - 1, int(rows * task_fraction(list(stages.values()))))
        if done > shown:
            shown = done
            progress(done)
