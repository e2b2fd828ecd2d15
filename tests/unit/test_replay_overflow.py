"""Cost and latency arithmetic never wraps: the replay is exact or refuses, never negative.

The scalar router computes with Python integers; the vectorised replay with int64. Token
counts near the importers' cap (2^40) times a high price leave int64: the replay must then
refuse the row (exit 3, naming it), and where everything fits it must agree with the scalar
router to the pico-dollar, sums included.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.errors import TrafficError
from nexusctl.policy import RoutingRequest, load_policy
from nexusctl.replay import arrivals_load, decision_schema, replay
from nexusctl.router import compile_plan, route
from nexusctl.simulate.run import SimulationRequest, simulate
from nexusctl.traffic.schema import MAX_TOKENS

REPO = Path(__file__).resolve().parents[2]
ASSETS = REPO / "tests" / "assets" / "simulate"
NEAR_CAP = ASSETS / "tokens-near-cap.parquet"
INT64_MAX_TOKENS = ASSETS / "tokens-int64-max.parquet"


def _policies(tmp_path: Path, input_price: int | None, max_cost: int | None = None) -> Path:
    """retail-chat without cost caps, every per-token deployment's context window at 2^41.

    With ``input_price`` those deployments' input price is set to it (micro-USD per Mtok).
    """
    folder = tmp_path / "nebula"
    shutil.copytree(REPO / "policies" / "nebula", folder)
    catalog = folder / "catalog.yaml"
    document = yaml.safe_load(catalog.read_text())
    for deployment in document["spec"]["deployments"]:
        pricing = deployment.get("pricing") or {}
        if pricing.get("kind") == "per_token":
            deployment["contextWindow"] = 1 << 41
            if input_price is not None:
                pricing["input"] = input_price
    catalog.write_text(yaml.safe_dump(document, sort_keys=False))
    # No per-request cost cap (or one above int64 in pico-USD): the huge requests must be
    # priced and routed, not capped out.
    policy = folder / "retail-chat.yaml"
    cap = "" if max_cost is None else rf"\g<1>maxCost: {max_cost}"
    policy.write_text(re.sub(r"(\n\s*)maxCost: \d+", cap, policy.read_text()))
    return policy


def _scalar_costs(policy: Path, traffic: pa.Table) -> list[int | None]:
    loaded = load_policy(policy)
    plan = compile_plan(loaded.policy, loaded.catalog.catalog)
    loads = arrivals_load(traffic.column("time").cast(pa.int64()).to_numpy())
    costs = []
    fields = set(RoutingRequest.model_fields)
    requests = traffic.select([n for n in traffic.column_names if n in fields])
    for i, record in enumerate(requests.to_pylist()):
        request = RoutingRequest.model_validate(record)
        costs.append(route(plan, request, int(loads[i])).decision_row(i)["predicted_cost_pusd"])
    return costs


def test_replay_near_token_cap_is_exact_and_sums_exactly(tmp_path: Path) -> None:
    # $15 per million input tokens (a frontier price): ~6.4e16 pico-USD per near-cap request.
    policy = _policies(tmp_path, input_price=15_000_000)
    traffic = pq.read_table(NEAR_CAP)
    largest = max(traffic.column("input_tokens").to_pylist())
    assert MAX_TOKENS - 300 <= largest <= MAX_TOKENS, "regenerate with make_bad_traffic.py"
    decisions = pa.Table.from_batches(list(replay(load_policy(policy), traffic)))
    assert decisions.schema == decision_schema()
    costs = decisions.column("predicted_cost_pusd").to_pylist()
    assert costs == _scalar_costs(policy, traffic)
    assert all(c is not None and c > 0 for c in costs)
    # The batch's sum leaves int64 (300 x ~6.4e16 pico-USD): the diff must still be exact.
    total = sum(c for c in costs if c is not None)
    assert total > (1 << 63) - 1
    result = simulate(SimulationRequest(baseline=policy, candidate=policy, traffic=NEAR_CAP))
    assert result.spend.baseline == result.spend.candidate > 0
    assert result.spend.baseline == (total + 500_000) // 1_000_000  # micro-USD, no tie here
    by_tenant = {row.key: row.baseline for row in result.spend.by_tenant}
    assert by_tenant == {"retail-banking": result.spend.baseline}


def test_replay_limits_above_int64_decide_like_the_scalar_router(tmp_path: Path) -> None:
    # 10^13 micro-USD is 10^19 pico-USD, above 2^63 - 1: no cost reaches it.
    policy = _policies(tmp_path, input_price=None, max_cost=10**13)
    traffic = pq.read_table(NEAR_CAP)
    decisions = pa.Table.from_batches(list(replay(load_policy(policy), traffic)))
    costs = decisions.column("predicted_cost_pusd").to_pylist()
    assert costs == _scalar_costs(policy, traffic)
    assert decisions.column("outcome").to_pylist() == ["routed"] * traffic.num_rows


def test_replay_refuses_a_cost_that_would_leave_int64(tmp_path: Path) -> None:
    # 2^32 tokens x 9e9 micro-USD per Mtok = ~3.9e19 pico-USD: beyond 2^63 - 1.
    policy = _policies(tmp_path, input_price=9_000_000_000)
    with pytest.raises(TrafficError, match=r"rows 1, 2, 3, 4, 5 and 295 more .*64-bit range"):
        list(replay(load_policy(policy), pq.read_table(NEAR_CAP)))
    stderr = _simulate_refused(policy, NEAR_CAP)
    assert "would exceed the 64-bit range" in stderr
    assert "deployment " in stderr


def test_replay_refuses_tokens_above_the_cap() -> None:
    policy = REPO / "policies" / "nebula" / "retail-chat.yaml"
    with pytest.raises(
        TrafficError, match=rf"row 2: input_tokens: {(1 << 63) - 1} exceeds {MAX_TOKENS}"
    ):
        list(replay(load_policy(policy), pq.read_table(INT64_MAX_TOKENS)))
    assert f"exceeds {MAX_TOKENS}" in _simulate_refused(policy, INT64_MAX_TOKENS)


def _simulate_refused(policy: Path, traffic: Path) -> str:
    """Run `nexusctl simulate` of ``policy`` against itself; expect exit 3; return stderr."""
    args = ["simulate", "-b", str(policy), "-c", str(policy), "-t", str(traffic)]
    result = CliRunner().invoke(app, args, prog_name="nexusctl")
    assert result.exit_code == 3, result.output
    assert "input_tokens" in result.stderr
    assert result.stdout == ""
    return result.stderr
