"""Aggregates folded per part and merged equal one ordered pass (what a distributed engine does).

A ``TrafficFold`` that deals the rows to parts at random (not contiguous ranges, as a shuffle
would), folds each part with ``fold_batch`` at the loads ``arrivals_load`` gives over the whole
file, and merges the parts in a random order, must give the NumPy engine's document exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nexusctl.replay import arrivals_load
from nexusctl.replay.stream import times_ms
from nexusctl.router.plan import plan_for
from nexusctl.simulate.aggregate import DiffAggregate, FoldJob, fold_batch
from nexusctl.simulate.run import SimulationRequest, simulate
from nexusctl.traffic.synth import write_synth
from tests.conftest import POLICIES

NEBULA = POLICIES


class ShuffledFold:
    """Deal rows to ``parts`` parts at random, fold each, merge in a random order."""

    name = "spark"

    def __init__(self, parts: int, seed: int) -> None:
        self.parts = parts
        self.rng = np.random.default_rng(seed)

    def fold(self, job: FoldJob, progress: Callable[[int], None] | None) -> DiffAggregate:
        table = pq.read_table(job.traffic, columns=job.columns)
        loads = arrivals_load(times_ms(table.column("time")))
        table = table.append_column("row", pa.array(np.arange(table.num_rows), pa.int64()))
        table = table.append_column("load", pa.array(loads, pa.int64()))
        owner = self.rng.integers(0, self.parts, table.num_rows)
        plans = (plan_for(job.baseline), plan_for(job.candidate))
        folded = []
        for part in range(self.parts):
            rows = np.flatnonzero(owner == part)
            aggregate = DiffAggregate(job.baseline, job.candidate)
            for start in range(0, len(rows), 4096):
                batch = table.take(pa.array(rows[start : start + 4096])).combine_chunks()
                fold_batch(aggregate, plans, job.reprice, batch.to_batches()[0])
            folded.append(aggregate)
        total = DiffAggregate(job.baseline, job.candidate)
        for index in self.rng.permutation(self.parts):
            total.merge(folded[index])
        return total


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("merge") / "synth.parquet"
    write_synth(path, 30_000, 5)
    return path


@pytest.mark.parametrize(
    ("candidate", "allow_change"),
    [("retail-chat.candidate.yaml", False), ("candidates/retail-chat.yaml", True)],
)
def test_parts_merged_equal_one_pass(traffic: Path, candidate: str, allow_change: bool) -> None:
    request = SimulationRequest(
        baseline=NEBULA / "retail-chat.yaml",
        candidate=NEBULA / candidate,
        traffic=traffic,
        allow_catalog_change=allow_change,
    )
    one_pass = json.loads(simulate(request).model_dump_json())
    merged = json.loads(simulate(request, fold=ShuffledFold(parts=5, seed=3)).model_dump_json())
    assert one_pass.pop("engine") == "numpy"
    assert merged.pop("engine") == "spark"
    assert one_pass["decisions"]["changed"] > 0
    for key in one_pass:
        assert merged[key] == one_pass[key], key


def test_residency_examples_stay_the_first_by_row() -> None:
    from nexusctl.policy.loader import load_policy
    from nexusctl.simulate.result import ResidencyViolation

    loaded = load_policy(NEBULA / "retail-chat.yaml")
    late, early = DiffAggregate(loaded, loaded), DiffAggregate(loaded, loaded)
    for aggregate, rows in ((late, range(50, 200)), (early, range(0, 150, 2))):
        side = aggregate.sides["baseline"]
        side.examples = [
            ResidencyViolation(
                row=r, request_id=f"r{r}", residency_class="eu", deployment_id="d", region="x"
            )
            for r in rows
        ][:100]
        side.violations = len(rows)
    late.merge(early)
    merged = late.sides["baseline"]
    assert [e.row for e in merged.examples] == sorted([*range(50, 150), *range(0, 150, 2)])[:100]
    assert merged.violations == 150 + 75
