"""The shared-read replay (``replay_many``) and dictionary-coded decisions agree with ``replay``."""

from __future__ import annotations

import pyarrow as pa
import pytest

from nexusctl.policy import load_policy
from nexusctl.replay import (
    arrivals_load,
    decision_schema,
    dictionary_decision_schema,
    replay,
    replay_many,
)
from tests.conftest import POLICIES
from tests.unit.test_replay_differential import generated_traffic

POLICY_FILES = ("retail-chat.yaml", "retail-chat.candidate.yaml", "code-assistant.yaml")


@pytest.fixture(scope="module")
def traffic() -> pa.Table:
    return generated_traffic(5_000, seed=7)


def _plain(batches: list[pa.RecordBatch]) -> pa.Table:
    return pa.Table.from_batches(batches).cast(decision_schema())


def test_replay_dictionary_holds_the_same_values(traffic: pa.Table) -> None:
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    plain = pa.Table.from_batches(list(replay(loaded, traffic)))
    coded_batches = list(replay(loaded, traffic, dictionary=True))
    assert coded_batches[0].schema == dictionary_decision_schema()
    assert _plain(coded_batches).equals(plain)
    for batch in coded_batches:
        for name in ("route_id", "deployment_id", "tier", "region", "outcome", "reason"):
            labels = batch.column(name).dictionary.to_pylist()
            assert len(labels) == len(set(labels)), name  # equal values share one index


def test_replay_many_equals_one_replay_per_policy(traffic: pa.Table) -> None:
    policies = [load_policy(POLICIES / name) for name in POLICY_FILES]
    # Batch edges that split runs of equal timestamps, and an empty batch.
    batches = traffic.to_batches(max_chunksize=37)
    batches.insert(2, batches[0].slice(0, 0))
    shared = list(replay_many(policies, iter(batches), batch_rows=500, dictionary=True))
    assert max(batch.num_rows for batch, _ in shared) <= 500
    rows = pa.Table.from_batches([batch for batch, _ in shared])
    assert rows.equals(traffic.combine_chunks())  # the traffic slices, in order
    for k, loaded in enumerate(policies):
        alone = pa.Table.from_batches(list(replay(loaded, traffic)))
        assert _plain([decisions[k] for _, decisions in shared]).equals(alone)


def test_replay_many_counts_ties_across_many_batches() -> None:
    # 300 requests at one instant, then one later: every tie counts, whatever the batching.
    traffic = generated_traffic(301, seed=3)
    times = [1_700_000_000_000] * 300 + [1_700_000_000_500]
    traffic = traffic.set_column(
        traffic.schema.get_field_index("time"),
        "time",
        pa.array(times, type=traffic.schema.field("time").type),
    )
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    shared = list(replay_many([loaded], iter(traffic.to_batches(max_chunksize=64))))
    loads = pa.concat_arrays([d[0].column("load") for _, d in shared]).to_pylist()
    assert loads == arrivals_load(times).tolist() == [300] * 300 + [301]
