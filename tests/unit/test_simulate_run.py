"""simulate's orchestration and diff, driven by a fake replay engine whose decisions are known."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nexusctl.errors import InputError, TrafficError, UsageError
from nexusctl.policy.loader import load_policy
from nexusctl.simulate._money import micro_usd
from nexusctl.simulate.run import SimulationRequest, catalog_changes, simulate
from tests.assets.simulate.simulate_fake_engine import FakeEngine, cost_pusd, traffic_table

POLICIES = Path(__file__).resolve().parents[2] / "policies" / "nebula"
BASELINE = POLICIES / "retail-chat.yaml"  # default route: mid at complexity >= 0.7
CANDIDATE = POLICIES / "retail-chat.candidate.yaml"  # default route: mid at >= 0.8
REPRICED = POLICIES / "candidates" / "retail-chat.yaml"  # same routing, new catalog prices
ASSETS = Path(__file__).resolve().parents[1] / "assets" / "simulate"

#: Six requests whose fake decisions are known (see simulate_fake_engine's docstring).
ROWS = [
    {"complexity": 0.75, "small_model_correct": False, "large_model_correct": True},  # mid->small
    {"complexity": 0.10, "small_model_correct": True, "large_model_correct": True},  # small
    {"residency_class": "us"},  # refused under both
    {"residency_class": "ca", "complexity": 0.85, "tenant": "wealth", "app": "advisor-desk"},
    {
        "use_case": "faq",
        "complexity": 0.2,
        "small_model_correct": False,
        "large_model_correct": False,
    },
    {"complexity": 0.96, "input_tokens": 5000, "output_tokens": 700},  # frontier under both
]


def _write(tmp_path: Path, table: pa.Table, name: str = "traffic.parquet") -> Path:
    path = tmp_path / name
    pq.write_table(table, path)
    return path


def _run(tmp_path: Path, **kwargs: object) -> object:
    engine = kwargs.pop("engine", FakeEngine())
    traffic = kwargs.pop("traffic", None) or _write(tmp_path, traffic_table(ROWS))
    request = SimulationRequest(
        baseline=kwargs.pop("baseline", BASELINE),
        candidate=kwargs.pop("candidate", CANDIDATE),
        traffic=traffic,
        **kwargs,
    )
    return simulate(request, engine=engine)


def test_simulate_counts_changed_decisions_and_transitions(tmp_path: Path) -> None:
    result = _run(tmp_path)
    d = result.decisions
    assert (d.requests, d.changed, d.route_changed, d.decode_changed) == (6, 1, 0, 0)
    assert d.changed_pct == pytest.approx(100 / 6)
    tiers = {(t.baseline, t.candidate): t.requests for t in d.by_tier}
    assert tiers == {
        ("mid", "small"): 1,
        ("small", "small"): 2,
        ("refused", "refused"): 1,
        ("mid", "mid"): 1,
        ("frontier", "frontier"): 1,
    }
    deployments = {(t.baseline, t.candidate): t.requests for t in d.by_deployment}
    assert deployments[("bedrock-eu-sonnet", "mistral-eu-small")] == 1
    assert deployments[("(refused)", "(refused)")] == 1
    assert [(t.baseline, t.candidate, t.requests) for t in d.by_route] == [
        ("default", "default", 1)
    ]


def test_simulate_spend_is_exact_and_split(tmp_path: Path) -> None:
    result = _run(tmp_path)
    catalog = load_policy(BASELINE).catalog.catalog
    s = result.spend
    pico = {
        "sonnet": cost_pusd(catalog, "bedrock-eu-sonnet", 1000, 0, 100),
        "mistral": cost_pusd(catalog, "mistral-eu-small", 1000, 0, 100),
        "ca-mid": cost_pusd(catalog, "bedrock-ca-llama3-70b", 1000, 0, 100),
        "gpt5": cost_pusd(catalog, "azure-eu-gpt5", 5000, 0, 700),
    }
    base = pico["sonnet"] + 2 * pico["mistral"] + pico["ca-mid"] + pico["gpt5"]
    cand = 3 * pico["mistral"] + pico["ca-mid"] + pico["gpt5"]
    assert s.baseline == micro_usd(base)
    assert s.candidate == micro_usd(cand)
    assert s.change == s.candidate - s.baseline
    assert (s.price_effect, s.routing_effect) == (0, s.change)
    assert isinstance(s.baseline, int)
    tenants = {row.key: row for row in s.by_tenant}
    assert tenants["wealth"].baseline == micro_usd(pico["ca-mid"])
    assert tenants["wealth"].baseline_requests == 1
    assert sum(row.baseline for row in s.by_tier) == pytest.approx(s.baseline, abs=len(s.by_tier))


def test_simulate_price_and_routing_effects_with_a_new_catalog(tmp_path: Path) -> None:
    engine = FakeEngine()
    result = _run(tmp_path, candidate=REPRICED, allow_catalog_change=True, engine=engine)
    s = result.spend
    assert engine.reprice_calls >= 1
    assert result.catalog_changed
    assert result.catalog_changes == [
        "changed azure-eu-gpt4o-mini (prices)",
        "changed bedrock-eu-sonnet (prices)",
    ]
    new_catalog = load_policy(REPRICED).catalog.catalog
    old_catalog = load_policy(BASELINE).catalog.catalog
    # Only the sonnet request moves in price (20 % cheaper); gpt-4o-mini is not used.
    old = cost_pusd(old_catalog, "bedrock-eu-sonnet", 1000, 0, 100)
    new = cost_pusd(new_catalog, "bedrock-eu-sonnet", 1000, 0, 100)
    base_total = (
        old
        + 2 * cost_pusd(old_catalog, "mistral-eu-small", 1000, 0, 100)
        + cost_pusd(old_catalog, "bedrock-ca-llama3-70b", 1000, 0, 100)
        + cost_pusd(old_catalog, "azure-eu-gpt5", 5000, 0, 700)
    )
    assert s.baseline == micro_usd(base_total)
    assert s.baseline_repriced == micro_usd(base_total - old + new)
    assert s.price_effect == micro_usd(base_total - old + new) - micro_usd(base_total)
    assert s.price_effect < 0
    assert s.price_effect + s.routing_effect == s.change


def test_simulate_refuses_a_catalog_change_unless_declared(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="catalog differs") as info:
        _run(tmp_path, candidate=REPRICED)
    assert "--allow-catalog-change" in (info.value.hint or "")


def test_catalog_changes_lists_added_removed_and_changed() -> None:
    a = load_policy(BASELINE).catalog.catalog
    b = load_policy(REPRICED).catalog.catalog
    assert catalog_changes(a, a) == []
    fewer = a.model_copy(
        update={"spec": a.spec.model_copy(update={"deployments": a.spec.deployments[1:]})}
    )
    assert catalog_changes(a, fewer) == [f"removed {a.spec.deployments[0].id}"]
    assert catalog_changes(fewer, a) == [f"added {a.spec.deployments[0].id}"]
    assert len(catalog_changes(a, b)) == 2


def test_simulate_residency_is_rechecked_independently(tmp_path: Path) -> None:
    result = _run(tmp_path, engine=FakeEngine(violate_residency=True))
    res = result.residency
    assert res.baseline_violations == res.candidate_violations == 1
    violation = res.candidate_examples[0]
    assert (violation.request_id, violation.residency_class) == ("req-0003", "ca")
    assert violation.region in {"eu-west", "eu-central"}
    assert result.verdict.passed is False
    gate = result.verdict.gates[0]
    assert (gate.name, gate.value, gate.passed) == ("residency_violations_max", 1.0, False)


def test_simulate_quality_accuracy_and_pgr(tmp_path: Path) -> None:
    q = _run(tmp_path).quality
    # Labelled rows: 0 (small wrong, large right), 1 (both right), 4 (both wrong).
    assert (q.labelled, q.labelled_unserved) == (3, 0)
    assert q.small_accuracy == pytest.approx(1 / 3)
    assert q.large_accuracy == pytest.approx(2 / 3)
    assert q.baseline_accuracy == pytest.approx(2 / 3)  # row 0 went to mid: large right
    assert q.candidate_accuracy == pytest.approx(1 / 3)  # row 0 went to small: wrong
    assert q.baseline_pgr == pytest.approx(1.0)
    assert q.candidate_pgr == pytest.approx(0.0)


def test_simulate_latency_frontier_and_outcomes(tmp_path: Path) -> None:
    result = _run(tmp_path)
    lat = result.latency
    assert lat.baseline.requests == 6
    assert lat.baseline.served == 5
    assert lat.baseline.p50_us is not None
    assert lat.baseline.p50_us <= lat.baseline.p99_us
    assert {r.route_id for r in lat.by_route} == {"default", "faq"}
    assert sum(b.baseline for b in lat.histogram) == 5
    f = result.frontier
    assert (f.baseline, f.candidate, f.candidate_limit_pct) == (1, 1, 5.0)
    out = result.outcomes.candidate
    assert (out.routed, out.escalated, out.refused) == (5, 0, 1)
    assert out.reasons[0].reason == "NO_ELIGIBLE"


def test_simulate_writes_decision_pairs(tmp_path: Path) -> None:
    out = tmp_path / "pairs.parquet"
    _run(tmp_path, decisions=out)
    table = pq.read_table(out)
    assert table.num_rows == 6
    assert table.column("row").to_pylist() == list(range(6))
    assert table.column("baseline_deployment_id")[0].as_py() == "bedrock-eu-sonnet"
    assert table.column("candidate_deployment_id")[0].as_py() == "mistral-eu-small"
    assert "baseline_repriced_cost_pusd" in table.column_names
    assert not list(tmp_path.glob("*.partial"))


def test_simulate_result_does_not_depend_on_batching(tmp_path: Path) -> None:
    from nexusctl.traffic.synth import synth_table

    traffic = _write(tmp_path, synth_table(500, 3))
    whole = _run(tmp_path, traffic=traffic, engine=FakeEngine())
    split = _run(tmp_path, traffic=traffic, engine=FakeEngine(chunk=37))
    assert whole.model_dump() == split.model_dump()


def test_simulate_empty_traffic_is_an_error_unless_allowed(tmp_path: Path) -> None:
    empty = _write(tmp_path, traffic_table([]))
    with pytest.raises(TrafficError, match="no requests") as info:
        _run(tmp_path, traffic=empty)
    assert "--allow-empty" in (info.value.hint or "")
    result = _run(tmp_path, traffic=empty, allow_empty=True, gate_flags=("pgr_min=0.9",))
    assert result.decisions.requests == 0
    assert result.spend.change_pct is None
    assert result.verdict.passed


def test_simulate_without_label_columns_has_no_quality(tmp_path: Path) -> None:
    table = traffic_table(ROWS).drop_columns(["small_model_correct", "large_model_correct"])
    out = tmp_path / "pairs.parquet"
    result = _run(tmp_path, traffic=_write(tmp_path, table), decisions=out)
    assert result.quality is None
    assert result.decisions.changed == 1
    assert pq.read_table(out).column("small_model_correct").null_count == 6


def test_simulate_zero_byte_traffic(tmp_path: Path) -> None:
    zero = tmp_path / "zero.parquet"
    zero.write_bytes(b"")
    with pytest.raises(TrafficError, match="empty"):
        _run(tmp_path, traffic=zero)
    assert _run(tmp_path, traffic=zero, allow_empty=True).traffic.rows == 0


@pytest.mark.parametrize(
    ("asset", "message"),
    [
        ("not-parquet.parquet", "not a readable Parquet file"),
        ("missing-column.parquet", "missing column"),
        ("negative-tokens.parquet", r"row 2: output_tokens: -\d+ is negative"),
        ("unknown-data-class.parquet", r"row 1: data_class: unknown value"),
        ("complexity-out-of-range.parquet", r"row 3: complexity: .* is not in \[0, 1\]"),
        ("wrong-type.parquet", "column 'input_tokens' has type string"),
    ],
)
def test_simulate_rejects_bad_traffic(tmp_path: Path, asset: str, message: str) -> None:
    out = tmp_path / "pairs.parquet"
    with pytest.raises(TrafficError, match=message):
        # The real replay engine validates every row it routes (1-based row numbers).
        _run(tmp_path, traffic=ASSETS / asset, decisions=out, allow_empty=True, engine=None)
    assert not out.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_simulate_missing_traffic_file(tmp_path: Path) -> None:
    with pytest.raises(TrafficError, match="not found"):
        _run(tmp_path, traffic=tmp_path / "absent.parquet")


def test_simulate_never_overwrites_the_traffic_with_decisions(tmp_path: Path) -> None:
    traffic = _write(tmp_path, traffic_table(ROWS))
    before = traffic.read_bytes()
    with pytest.raises(UsageError, match="must not be the traffic file"):
        _run(tmp_path, traffic=traffic, decisions=traffic)
    assert traffic.read_bytes() == before


def test_simulate_refuses_decisions_in_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        _run(tmp_path, decisions=tmp_path / "no" / "pairs.parquet")


@pytest.mark.parametrize(
    ("pico", "micro"),
    [
        (0, 0),
        (499_999, 0),
        (500_000, 0),
        (500_001, 1),
        (1_500_000, 2),
        (2_500_000, 2),
        (10**20 + 1, 10**14),
    ],
)
def test_micro_usd_rounds_half_to_even(pico: int, micro: int) -> None:
    assert micro_usd(pico) == micro


def test_fan_out_keeps_only_what_a_consumer_still_needs() -> None:
    from nexusctl.simulate._streams import _FanOut

    fan = _FanOut(iter(range(1000)), 3)
    consumers = [fan.consumer(i) for i in range(3)]
    seen: list[list[int]] = [[], [], []]
    for _ in range(1000):
        for i, consumer in enumerate(consumers):
            seen[i].append(next(consumer))
        assert len(fan._buffer) <= 1  # lock-step consumers: nothing piles up
    assert seen[0] == seen[1] == seen[2] == list(range(1000))
    assert [list(c) for c in consumers] == [[], [], []]


def test_in_thread_yields_in_order_and_reraises_the_workers_error() -> None:
    from nexusctl.simulate._streams import in_thread

    assert list(in_thread(iter(range(100)))) == list(range(100))

    def failing() -> Iterator[int]:
        yield 1
        raise TrafficError("row 2 is bad")

    stream = in_thread(failing())
    assert next(stream) == 1
    with pytest.raises(TrafficError, match="row 2 is bad"):
        next(stream)


def test_in_thread_stops_its_worker_when_the_consumer_stops() -> None:
    import threading

    from nexusctl.simulate._streams import in_thread

    produced: list[int] = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    stream = in_thread(endless(), depth=2)
    assert next(stream) == 0
    stream.close()  # what an exception in the consumer's loop does
    assert not [t for t in threading.enumerate() if t.name == "nexusctl-replay"]
    assert len(produced) <= 5
