"""Replay plumbing: load (contract B), streaming in bounded batches, bad rows, reprice."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from nexusctl.decode import decode_factors, predict
from nexusctl.errors import TrafficError
from nexusctl.policy import load_policy
from nexusctl.policy.catalog import GpuTimePricing, ModelCatalog, TokenPricing
from nexusctl.replay import arrivals_load, decision_schema, replay, reprice
from tests.conftest import POLICIES
from tests.unit.test_replay_differential import generated_traffic


@pytest.fixture(scope="module")
def traffic() -> pa.Table:
    return generated_traffic(6_000, seed=99)


def test_replay_arrivals_load_window_and_ties() -> None:
    times = [1999, 0, 0, 999, 1000, 5000]
    # (t - 1000, t]: 0 and 0 tie (2); 999 sees 0, 0, 999; 1000 excludes 0; 1999 excludes 999.
    assert arrivals_load(times).tolist() == [2, 2, 2, 3, 2, 1]
    assert arrivals_load(np.array([], dtype=np.int64)).tolist() == []


def test_replay_schema_is_contract_c() -> None:
    schema = decision_schema()
    assert schema.names[:4] == ["row", "request_id", "route_id", "outcome"]
    assert schema.field("draft_tokens").type == pa.int32()
    assert schema.field("predicted_cost_pusd").type == pa.int64()
    assert not schema.field("load").nullable
    assert schema.field("deployment_id").nullable


def test_replay_stream_equals_table_and_is_bounded(traffic: pa.Table) -> None:
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    whole = pa.Table.from_batches(list(replay(loaded, traffic)))
    # Batch edges that split runs of equal timestamps, and empty batches.
    batches = traffic.to_batches(max_chunksize=37)
    batches.insert(3, batches[0].slice(0, 0))
    streamed_batches = list(replay(loaded, iter(batches), batch_rows=500))
    assert max(b.num_rows for b in streamed_batches) <= 500
    streamed = pa.Table.from_batches(streamed_batches)
    assert streamed.equals(whole)
    times = traffic.column("time").cast(pa.int64()).to_numpy()
    assert whole.column("load").to_numpy().tolist() == arrivals_load(times).tolist()
    assert whole.column("row").to_pylist() == list(range(traffic.num_rows))


def test_replay_stream_rejects_time_going_back(traffic: pa.Table) -> None:
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    batches = traffic.slice(0, 100).to_batches(max_chunksize=50)
    with pytest.raises(TrafficError, match="goes back in time"):
        list(replay(loaded, iter([batches[1], batches[0]])))
    # A Table may be in any order: its load is computed over the whole column.
    shuffled = traffic.slice(0, 100).take(pa.array(np.arange(99, -1, -1)))
    assert sum(b.num_rows for b in replay(loaded, shuffled)) == 100


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("input_tokens", -1, "input_tokens: -1 is negative"),
        # Issue 8: the import's token cap holds in the replay too (no int64 wrap-around).
        ("input_tokens", 2**63 - 1, "input_tokens: 9223372036854775807 exceeds 4294967296"),
        ("output_tokens", 2**32 + 1, "output_tokens: 4294967297 exceeds 4294967296"),
        ("cached_input_tokens", 10**9, "cached_input_tokens: 1000000000 exceeds input_tokens"),
        ("data_class", "secret", "data_class: unknown value 'secret'"),
        ("risk_class", "extreme", "risk_class: unknown value 'extreme'"),
        ("complexity", 1.5, r"complexity: 1.5 is not in \[0, 1\]"),
        ("capabilities", ["telepathy"], "capabilities: unknown capability"),
        ("tenant", "Not An Identifier", "tenant: 'Not An Identifier' is not an identifier"),
    ],
)
def test_replay_bad_rows_named(traffic: pa.Table, column: str, value: object, message: str) -> None:
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    small = traffic.slice(0, 10)
    values = small.column(column).to_pylist()
    values[6] = value
    index = small.schema.get_field_index(column)
    bad = small.set_column(index, column, pa.array(values, type=small.schema.field(column).type))
    with pytest.raises(TrafficError, match=message) as info:
        list(replay(loaded, bad))
    assert "row 7: " in str(info.value)  # 1-based row number


@pytest.mark.parametrize(
    ("millis", "shown"),
    [(-62_135_596_800_001, "-62135596800001 ms"), (-1, "-1 ms"), (253_402_300_800_000, "ms")],
)
def test_replay_refuses_times_outside_the_range(traffic: pa.Table, millis: int, shown: str) -> None:
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    small = traffic.slice(0, 10)
    times = small.column("time").cast(pa.int64()).to_pylist()
    times[9] = millis  # the last row: a stream stays ordered only if the bad time is last
    column = pa.array(times, pa.int64()).cast(small.schema.field("time").type)
    bad = small.set_column(small.schema.get_field_index("time"), "time", column)
    with pytest.raises(TrafficError, match=f"row 10: time: .*{shown}.*outside 1970"):
        list(replay(loaded, bad))
    with pytest.raises(TrafficError, match="row 10: time: "):
        list(replay(loaded, bad.to_batches(max_chunksize=4)))


def test_replay_missing_column(traffic: pa.Table) -> None:
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    with pytest.raises(TrafficError, match="lacks column"):
        list(replay(loaded, traffic.drop_columns(["complexity"])))
    with pytest.raises(TrafficError, match="lacks column"):
        list(replay(loaded, traffic.drop_columns(["time"])))


def _scaled(catalog: ModelCatalog, factor: int) -> ModelCatalog:
    deployments = []
    for dep in catalog.spec.deployments:
        pricing = dep.pricing
        if isinstance(pricing, TokenPricing):
            pricing = pricing.model_copy(
                update={
                    "input": pricing.input * factor,
                    "output": pricing.output * factor,
                    "cached_input": (pricing.cached_input or pricing.input) * factor,
                }
            )
        elif isinstance(pricing, GpuTimePricing):
            pricing = pricing.model_copy(update={"gpu_hour": pricing.gpu_hour * factor})
        deployments.append(dep.model_copy(update={"pricing": pricing}))
    return catalog.model_copy(
        update={"spec": catalog.spec.model_copy(update={"deployments": deployments})}
    )


@pytest.mark.parametrize("name", ["retail-chat", "credit-underwriting"])
def test_replay_reprice(traffic: pa.Table, name: str) -> None:
    loaded = load_policy(POLICIES / f"{name}.yaml")
    catalog = loaded.catalog.catalog
    decisions = pa.Table.from_batches(list(replay(loaded, traffic)))
    same = reprice(decisions, traffic, catalog)
    assert same.equals(decisions.column("predicted_cost_pusd").combine_chunks())

    tripled = _scaled(catalog, 3)
    repriced = reprice(decisions, traffic, tripled).to_pylist()
    rows = traffic.to_pylist()
    by_id = {d.id: decode_factors(d) for d in tripled.spec.deployments}
    checked = 0
    for record, decision, price in zip(rows, decisions.to_pylist(), repriced, strict=True):
        if decision["deployment_id"] is None:
            assert price is None
            continue
        expected = predict(
            by_id[decision["deployment_id"]],
            decision["load"],
            record["input_tokens"],
            record["cached_input_tokens"],
            record["output_tokens"],
            record["reasoning_tokens"],
            decision["draft_tokens"],
        )[2]
        assert price == expected
        checked += 1
    assert checked > 100


def test_replay_reprice_missing_deployment_is_null(traffic: pa.Table) -> None:
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    decisions = pa.Table.from_batches(list(replay(loaded, traffic.slice(0, 500))))
    catalog = loaded.catalog.catalog
    chosen = set(decisions.column("deployment_id").drop_null().to_pylist())
    gone = sorted(chosen)[0]
    fewer = catalog.model_copy(
        update={
            "spec": catalog.spec.model_copy(
                update={"deployments": [d for d in catalog.spec.deployments if d.id != gone]}
            )
        }
    )
    prices = reprice(decisions, traffic.slice(0, 500), fewer).to_pylist()
    for decision, price in zip(decisions.to_pylist(), prices, strict=True):
        assert (price is None) == (decision["deployment_id"] in (None, gone))
    with pytest.raises(TrafficError, match="differ"):
        reprice(decisions, traffic.slice(0, 10), catalog)


def test_replay_load_from_portable_sql_window(traffic: pa.Table) -> None:
    """The SQL window DuckDB and Spark SQL both run gives exactly contract B's load."""
    import duckdb

    loaded = load_policy(POLICIES / "code-assistant.yaml")
    source = traffic.append_column("t_ms", traffic.column("time").cast(pa.int64()))
    source = source.append_column("i", pa.array(np.arange(traffic.num_rows)))
    con = duckdb.connect()
    con.register("traffic", source)
    with_load = con.sql(
        "SELECT *, count(*) OVER (ORDER BY t_ms RANGE BETWEEN 999 PRECEDING AND CURRENT ROW)"
        " AS load FROM traffic ORDER BY i"
    ).to_arrow_table()
    assert (
        with_load.column("load").to_pylist()
        == arrivals_load(traffic.column("time").cast(pa.int64()).to_numpy()).tolist()
    )
    # Partitions replayed independently with the precomputed load match the whole replay.
    whole = pa.Table.from_batches(list(replay(loaded, traffic)))
    parts = [with_load.slice(0, 2_500), with_load.slice(2_500)]
    pieces = [pa.Table.from_batches(list(replay(loaded, p, load_column="load"))) for p in parts]
    joined = pa.concat_tables(pieces).drop_columns(["row"])
    assert joined.equals(whole.drop_columns(["row"]))


def test_replay_load_column_checked(traffic: pa.Table) -> None:
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    small = traffic.slice(0, 5)
    with pytest.raises(TrafficError, match="lacks the load column"):
        list(replay(loaded, small, load_column="load"))
    zero = small.append_column("load", pa.array([1, 1, 0, 1, 1], type=pa.int64()))
    with pytest.raises(TrafficError, match="row 3"):
        list(replay(loaded, zero, load_column="load"))


def test_replay_accepts_an_all_null_optional_column_of_null_type(traffic: pa.Table) -> None:
    # pa.Table.from_pylist types a column that is None everywhere as `null`: still valid
    # (the property test test_prop_router found it once the replay checked column types).
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    small = traffic.slice(0, 10)
    index = small.schema.get_field_index("confidence")
    nulls = small.set_column(index, "confidence", pa.nulls(10))
    assert sum(b.num_rows for b in replay(loaded, nulls)) == 10
