"""A fake replay engine for simulate's tests: contract-C batches from a trivially simple rule.

It is NOT a router (the real one is nexusctl.replay); it exists so the diff, gates and reports
can be tested against decisions whose every value the test can predict:

* route: ``faq`` when use_case is faq and the policy has that route, else the default's id;
* outcome: ``refused`` (reason NO_ELIGIBLE) when the residency class is not in the policy;
* tier: ``small`` below the default route's first complexity threshold (0.7 if none),
  ``mid`` at or above it, ``frontier`` at >= 0.95;
* deployment: a fixed one per (residency class, tier), see DEPLOYMENTS; with
  ``violate_residency`` every ``ca`` request goes to an EU deployment instead;
* cost: (input - cached) x input price + cached x cached price + output x output price,
  pico-USD, from the catalog given; latency from the first latency point; load 1; no draft.

It implements the whole ``nexusctl.replay.ReplayEngine`` interface; its ``replay_pair`` is
simulate's generic fan-out over ``replay`` (the real engine shares one read instead).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from nexusctl.policy.catalog import ModelCatalog, TokenPricing
from nexusctl.policy.loader import LoadedPolicy
from nexusctl.simulate._streams import pair_by_fan_out

DEPLOYMENTS = {
    ("eu", "small"): "mistral-eu-small",
    ("eu", "mid"): "bedrock-eu-sonnet",
    ("eu", "frontier"): "azure-eu-gpt5",
    ("ca", "small"): "bedrock-ca-llama3-8b",
    ("ca", "mid"): "bedrock-ca-llama3-70b",
    ("ca", "frontier"): "bedrock-ca-llama3-70b",
}

DECISION_SCHEMA = pa.schema(
    [
        pa.field("row", pa.int64(), nullable=False),
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("route_id", pa.string(), nullable=False),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("deployment_id", pa.string()),
        pa.field("tier", pa.string()),
        pa.field("provider", pa.string()),
        pa.field("region", pa.string()),
        pa.field("draft_tokens", pa.int32(), nullable=False),
        pa.field("predicted_ttft_us", pa.int64()),
        pa.field("predicted_latency_us", pa.int64()),
        pa.field("predicted_cost_pusd", pa.int64()),
        pa.field("slo_met", pa.bool_()),
        pa.field("escalation_rule", pa.string()),
        pa.field("escalation_target", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("load", pa.int64(), nullable=False),
    ]
)


def cost_pusd(catalog: ModelCatalog, deployment_id: str, inp: int, cached: int, out: int) -> int:
    """The fake's cost of one request at one deployment, exact pico-USD."""
    dep = catalog.deployment(deployment_id)
    assert dep is not None
    pricing = dep.pricing
    if not isinstance(pricing, TokenPricing):
        return 0
    cached_price = pricing.cached_input if pricing.cached_input is not None else pricing.input
    return (inp - cached) * pricing.input + cached * cached_price + out * pricing.output


class FakeEngine:
    """See the module docstring. ``chunk`` re-batches the output to test alignment."""

    def __init__(self, *, violate_residency: bool = False, chunk: int | None = None) -> None:
        self.violate_residency = violate_residency
        self.chunk = chunk
        self.reprice_calls = 0

    def replay(self, loaded: LoadedPolicy, traffic: Iterable[pa.RecordBatch]) -> Iterator[Any]:
        row = 0
        pending: list[pa.RecordBatch] = []
        for batch in traffic:
            out = self._decide(loaded, batch, row)
            row += batch.num_rows
            if self.chunk is None:
                yield out
                continue
            pending.append(out)
            table = pa.Table.from_batches(pending)
            while table.num_rows >= self.chunk:
                yield from table.slice(0, self.chunk).to_batches()
                table = table.slice(self.chunk)
            pending = table.to_batches()
        yield from pending

    def replay_pair(
        self, baseline: LoadedPolicy, candidate: LoadedPolicy, traffic: Iterable[pa.RecordBatch]
    ) -> Iterator[tuple[Any, Any, Any]]:
        return pair_by_fan_out(self, baseline, candidate, traffic)

    def reprice(self, decisions: Any, traffic: Any, catalog: ModelCatalog) -> pa.Array:
        self.reprice_calls += 1
        deps = decisions.column("deployment_id").to_pylist()
        inp = traffic.column("input_tokens").to_pylist()
        cached = traffic.column("cached_input_tokens").to_pylist()
        out = traffic.column("output_tokens").to_pylist()
        values = [
            None
            if d is None or catalog.deployment(d) is None
            else cost_pusd(catalog, d, inp[i], cached[i], out[i])
            for i, d in enumerate(deps)
        ]
        return pa.array(values, pa.int64())

    def _decide(self, loaded: LoadedPolicy, batch: pa.RecordBatch, first: int) -> pa.RecordBatch:
        policy = loaded.policy
        catalog = loaded.catalog.catalog
        thresholds = policy.spec.default.complexity_thresholds
        mid_at = thresholds[0].at_least if thresholds else 0.7
        has_faq = policy.route_by_id("faq") is not None
        classes = {c.id for c in policy.spec.residency_classes}
        n = batch.num_rows
        use_case = batch.column("use_case").to_pylist()
        residency = batch.column("residency_class").to_pylist()
        complexity = batch.column("complexity").to_pylist()
        inp = batch.column("input_tokens").to_pylist()
        cached = batch.column("cached_input_tokens").to_pylist()
        out_tokens = batch.column("output_tokens").to_pylist()
        cols: dict[str, list[Any]] = {name: [] for name in DECISION_SCHEMA.names}
        for i in range(n):
            route = "faq" if has_faq and use_case[i] == "faq" else policy.spec.default.id
            slo_ms = policy.route_by_id(route).slo_ms
            cols["row"].append(first + i)
            cols["route_id"].append(route)
            cols["draft_tokens"].append(0)
            cols["load"].append(1)
            if residency[i] not in classes:
                for name in (
                    "deployment_id",
                    "tier",
                    "provider",
                    "region",
                    "predicted_ttft_us",
                    "predicted_latency_us",
                    "predicted_cost_pusd",
                    "slo_met",
                ):
                    cols[name].append(None)
                cols["outcome"].append("refused")
                cols["escalation_rule"].append("nothing-eligible")
                cols["escalation_target"].append("ops")
                cols["reason"].append("NO_ELIGIBLE")
                continue
            tier = (
                "frontier"
                if complexity[i] >= 0.95
                else "mid"
                if complexity[i] >= mid_at
                else "small"
            )
            region_class = residency[i]
            if self.violate_residency and region_class == "ca":
                region_class = "eu"
            dep_id = DEPLOYMENTS[(region_class, tier)]
            dep = catalog.deployment(dep_id)
            assert dep is not None
            point = dep.latency.points[0]
            ttft = point.ttft_base_us + point.ttft_per_1k_input_us * inp[i] // 1000
            latency = ttft + point.tpot_us * out_tokens[i]
            cols["outcome"].append("routed")
            cols["deployment_id"].append(dep_id)
            cols["tier"].append(dep.tier)
            cols["provider"].append(dep.provider)
            cols["region"].append(dep.region)
            cols["predicted_ttft_us"].append(ttft)
            cols["predicted_latency_us"].append(latency)
            cols["predicted_cost_pusd"].append(
                cost_pusd(catalog, dep_id, inp[i], cached[i], out_tokens[i])
            )
            cols["slo_met"].append(latency <= slo_ms * 1000)
            for name in ("escalation_rule", "escalation_target", "reason"):
                cols[name].append(None)
        cols["request_id"] = batch.column("request_id").to_pylist()
        return pa.RecordBatch.from_pydict(cols, schema=DECISION_SCHEMA)


def traffic_table(rows: list[dict[str, Any]]) -> pa.Table:
    """A contract-A table from a few hand-written rows (defaults fill the rest)."""
    from nexusctl.traffic.schema import traffic_schema

    base = {
        "time": 1_767_603_600_000,
        "tenant": "retail-banking",
        "app": "mobile-chat",
        "use_case": "general",
        "data_class": "internal",
        "residency_class": "eu",
        "risk_class": "low",
        "input_tokens": 1000,
        "cached_input_tokens": 0,
        "output_tokens": 100,
        "reasoning_tokens": 0,
        "capabilities": [],
        "complexity": 0.1,
        "confidence": None,
        "observed_model": None,
        "observed_latency_ms": None,
        "observed_cost_micro_usd": None,
        "small_model_correct": None,
        "large_model_correct": None,
    }
    full = []
    for i, row in enumerate(rows):
        item = {**base, "request_id": f"req-{i:04d}", **row}
        item["time"] = item["time"] + i
        full.append(item)
    schema = traffic_schema()
    return pa.Table.from_pylist(full, schema=schema)


__all__ = ["DEPLOYMENTS", "FakeEngine", "cost_pusd", "traffic_table"]
