"""The vectorised replay agrees with the scalar router, field by field, on every row.

Two traffic sources, each replayed under all three Nebula policies:
* 100,000 generated requests (seeded numpy; attribute values that exercise every route,
  guardrail, escalation rule, threshold boundary and load level, plus a few that match none);
* the real Azure LLM inference trace (code, 2023; CC-BY-4.0, Patel et al., Splitwise, ISCA
  2024), its arrival times and token counts as recorded, other attributes enriched (seeded).
The scalar router is the reference; loads come from ``arrivals_load`` (contract B) for both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from nexusctl.policy import RoutingRequest, load_policy
from nexusctl.replay import arrivals_load, decision_schema, replay
from nexusctl.router import compile_plan, route
from tests.conftest import POLICIES

POLICY_NAMES = ("retail-chat", "credit-underwriting", "code-assistant")
TENANTS = ("retail-banking", "wealth", "credit-risk", "engineering", "unknown-tenant")
USE_CASES = ("faq", "advice", "account-help", "memo", "completion", "agent", "general", "summary")
RESIDENCY = ("eu", "ca", "global", "mars")
DATA_CLASSES = ("public", "internal", "confidential", "restricted")
RISK = ("low", "medium", "high")
CAPABILITIES = ("tools", "json", "vision", "audio", "reasoning", "streaming", "long_context")
# Scores on the policies' threshold and rule boundaries, so >= and < are both exercised.
BOUNDARY_SCORES = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9)


def traffic_table(times_ms: np.ndarray, inp: np.ndarray, out: np.ndarray, seed: int) -> pa.Table:
    """Build a contract-A traffic table: given times and tokens, enriched attributes."""
    rng = np.random.default_rng(seed)
    n = len(times_ms)

    def pick(values: tuple[str, ...], p: list[float] | None = None) -> pa.Array:
        return pa.array(np.asarray(values)[rng.choice(len(values), n, p=p)], type=pa.string())

    caps = np.asarray(CAPABILITIES)
    counts = rng.choice([0, 0, 0, 1, 1, 2, 3], n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = pa.array(caps[rng.integers(0, len(caps), int(offsets[-1]))], type=pa.string())
    cached = (inp * rng.choice([0.0, 0.0, 0.3, 1.0], n)).astype(np.int64)
    reasoning = np.where(rng.random(n) < 0.1, rng.integers(0, 3000, n), 0)
    complexity = rng.random(n)
    on_edge = rng.random(n) < 0.1
    complexity[on_edge] = rng.choice(BOUNDARY_SCORES, int(on_edge.sum()))
    confidence = rng.random(n)
    confidence[rng.random(n) < 0.05] = 0.5
    confidence_mask = rng.random(n) < 0.5
    return pa.table(
        {
            "time": pa.array(times_ms, type=pa.timestamp("ms", tz="UTC")),
            "request_id": pa.array([f"q{i}" for i in range(n)], type=pa.string()),
            "tenant": pick(TENANTS),
            "app": pick(("mobile-chat", "ide-plugin", "underwriting-desk")),
            "use_case": pick(USE_CASES),
            "data_class": pick(DATA_CLASSES),
            "residency_class": pick(RESIDENCY, [0.45, 0.2, 0.3, 0.05]),
            "risk_class": pick(RISK, [0.6, 0.25, 0.15]),
            "input_tokens": pa.array(inp, type=pa.int64()),
            "cached_input_tokens": pa.array(cached, type=pa.int64()),
            "output_tokens": pa.array(out, type=pa.int64()),
            "reasoning_tokens": pa.array(reasoning, type=pa.int64()),
            "capabilities": pa.ListArray.from_arrays(pa.array(offsets), values),
            "complexity": pa.array(complexity, type=pa.float64()),
            "confidence": pa.array(confidence, mask=confidence_mask, type=pa.float64()),
        }
    )


def generated_traffic(n: int = 100_000, seed: int = 4242) -> pa.Table:
    """Seeded traffic whose arrival bursts give loads from 1 to well above 64."""
    rng = np.random.default_rng(seed)
    # Blocks of 250 arrivals: quiet (load 1-3), busy (tens/s) or a burst (hundreds/s).
    regime = np.repeat(rng.integers(0, 3, n // 250 + 1), 250)[:n]
    gaps = np.choose(
        regime, [rng.integers(300, 2000, n), rng.integers(0, 60, n), rng.integers(0, 4, n)]
    )
    times = 1_700_000_000_000 + np.cumsum(gaps)
    inp = np.minimum(rng.lognormal(7.0, 1.3, n).astype(np.int64), 400_000)
    out = np.minimum(rng.lognormal(5.0, 1.2, n).astype(np.int64), 20_000)
    return traffic_table(times, inp, out, seed + 1)


def azure_traffic(path: Path) -> pa.Table:
    """The Azure code trace with seeded enrichment (its times and tokens as recorded)."""
    lines = path.read_text().splitlines()[1:]
    stamps = np.array([line.split(",")[0][:23] for line in lines], dtype="datetime64[ms]")
    inp = np.array([int(line.split(",")[1]) for line in lines], dtype=np.int64)
    out = np.array([int(line.split(",")[2]) for line in lines], dtype=np.int64)
    return traffic_table(stamps.astype(np.int64), inp, out, seed=2023)


def scalar_decisions(name: str, traffic: pa.Table) -> pa.Table:
    loaded = load_policy(POLICIES / f"{name}.yaml")
    plan = compile_plan(loaded.policy, loaded.catalog.catalog)
    loads = arrivals_load(traffic.column("time").cast(pa.int64()).to_numpy())
    rows = []
    for i, record in enumerate(traffic.drop_columns(["time"]).to_pylist()):
        request = RoutingRequest.model_validate(record)
        rows.append(route(plan, request, int(loads[i])).decision_row(i))
    return pa.Table.from_pylist(rows, schema=decision_schema())


def assert_same(scalar: pa.Table, vector: pa.Table) -> None:
    assert vector.schema == decision_schema()
    assert vector.num_rows == scalar.num_rows
    problems: list[str] = []
    for name in decision_schema().names:
        s = scalar.column(name).combine_chunks()
        v = vector.column(name).combine_chunks()
        if not s.equals(v):
            s_list: list[Any] = s.to_pylist()
            v_list: list[Any] = v.to_pylist()
            bad = [i for i, (a, b) in enumerate(zip(s_list, v_list, strict=True)) if a != b]
            problems.append(
                f"{name}: {len(bad)} rows differ, first row {bad[0]}: "
                f"scalar={s_list[bad[0]]!r} vector={v_list[bad[0]]!r}"
            )
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def generated() -> pa.Table:
    return generated_traffic()


@pytest.mark.slow
@pytest.mark.parametrize("name", POLICY_NAMES)
def test_replay_differential_generated(name: str, generated: pa.Table) -> None:
    assert generated.num_rows >= 100_000
    loaded = load_policy(POLICIES / f"{name}.yaml")
    vector = pa.Table.from_batches(list(replay(loaded, generated, batch_rows=30_000)))
    scalar = scalar_decisions(name, generated)
    assert_same(scalar, vector)
    # The traffic really exercises the branches under test.
    outcomes = set(vector.column("outcome").to_pylist())
    assert "routed" in outcomes
    assert len(outcomes) >= 2  # and escalations and/or refusals
    assert vector.column("slo_met").to_pylist().count(False) > 0
    loads = vector.column("load").to_numpy()
    assert loads.min() == 1
    assert loads.max() > 64


def test_replay_differential_exercises_speculation(generated: pa.Table) -> None:
    loaded = load_policy(POLICIES / "credit-underwriting.yaml")
    vector = pa.Table.from_batches(list(replay(loaded, generated)))
    gamma = vector.column("draft_tokens").to_numpy()
    onprem = np.asarray(vector.column("deployment_id").to_pylist()) == "onprem-llama2-70b"
    assert (gamma[onprem] > 0).any()
    assert (gamma[onprem] == 0).any()
    assert set(vector.column("reason").drop_null().to_pylist()) >= {
        "MATCHED_ESCALATION_RULE",
        "LOW_CONFIDENCE",
        "NO_ELIGIBLE_DEPLOYMENT",
    }


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_replay_differential_azure_trace(name: str, shared_data: Path) -> None:
    traffic = azure_traffic(shared_data / "traces" / "azure_llm_inference_code_2023.csv")
    assert traffic.num_rows == 8819
    loaded = load_policy(POLICIES / f"{name}.yaml")
    vector = pa.Table.from_batches(list(replay(loaded, traffic, batch_rows=4096)))
    assert_same(scalar_decisions(name, traffic), vector)
