"""Router invariants over generated policies, catalogs and requests (hypothesis).

Every decision is checked against an oracle written here from the policy models alone
(not from the router's compiled plan): a chosen deployment satisfies every hard constraint.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexusctl.decode import decode_factors, predict
from nexusctl.policy import TIER_ORDER, RoutingRequest
from nexusctl.policy.catalog import ModelCatalog
from nexusctl.policy.routing import Match, RoutingPolicy
from nexusctl.replay import decision_schema, replay
from nexusctl.router import Decision, route
from nexusctl.router.plan import build_plan

REGIONS = ("r1", "r2", "r3")
PROVIDERS = ("p1", "p2", "p3")
USE_CASES = ("faq", "advice", "memo")
CAPS = ("tools", "json", "vision", "reasoning")
RANK = {t: i for i, t in enumerate(TIER_ORDER)}

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def catalogs(draw: st.DrawFn) -> ModelCatalog:
    count = draw(st.integers(1, 6))
    deployments = []
    for i in range(count):
        points = []
        load = 0
        for _ in range(draw(st.integers(1, 3))):
            load += draw(st.integers(1, 40))
            points.append(
                {
                    "maxLoad": load,
                    "ttftBaseUs": draw(st.integers(0, 500_000)),
                    "ttftPer1kInputUs": draw(st.integers(0, 2_000_000)),
                    "tpotUs": draw(st.integers(1, 60_000)),
                }
            )
        if draw(st.booleans()):
            pricing: dict[str, Any] = {
                "kind": "per_token",
                "input": draw(st.integers(0, 20_000_000)),
                "output": draw(st.integers(0, 80_000_000)),
                "cachedInput": draw(st.none() | st.integers(0, 20_000_000)),
                "reasoning": draw(st.none() | st.integers(0, 80_000_000)),
            }
        else:
            pricing = {
                "kind": "gpu_time",
                "gpuHour": draw(st.integers(1, 5_000_000)),
                "gpus": draw(st.integers(1, 8)),
            }
        speculative = None
        if draw(st.booleans()):
            speculative = {
                "draftModel": "d",
                "acceptanceRate": draw(st.floats(0.05, 0.95)),
                "draftCostRatio": draw(st.floats(0.01, 0.5)),
                "maxDraftTokens": draw(st.integers(1, 10)),
                "disableAboveLoad": draw(st.integers(1, 40)),
            }
        deployments.append(
            {
                "id": f"d{i}",
                "model": "m",
                "provider": draw(st.sampled_from(PROVIDERS)),
                "region": draw(st.sampled_from(REGIONS)),
                "tier": draw(st.sampled_from(TIER_ORDER)),
                "contextWindow": draw(st.integers(1_000, 200_000)),
                "capabilities": draw(st.lists(st.sampled_from(CAPS), unique=True)),
                "pricing": pricing,
                "latency": {"points": points},
                "speculative": speculative,
            }
        )
    return ModelCatalog.model_validate(
        {"metadata": {"name": "cat", "version": 1}, "spec": {"deployments": deployments}}
    )


def _tiers(draw: st.DrawFn, allowed: tuple[str, ...] = TIER_ORDER) -> list[str]:
    return draw(st.lists(st.sampled_from(allowed), min_size=1, max_size=3, unique=True))


def _route(draw: st.DrawFn, rid: str, default: bool, deployment_ids: list[str]) -> dict[str, Any]:
    tiers = _tiers(draw, ("small", "mid") if default else TIER_ORDER)
    route: dict[str, Any] = {
        "id": rid,
        "tiers": tiers,
        "minTier": draw(st.none() | st.sampled_from(TIER_ORDER)),
        "sloMs": draw(st.integers(1, 60_000)),
        "maxCost": draw(st.none() | st.integers(0, 500_000)),
        "complexityThresholds": [
            {"atLeast": draw(st.sampled_from([0.3, 0.5, 0.8])), "minTier": t}
            for t in draw(st.lists(st.sampled_from(TIER_ORDER), max_size=2))
        ],
    }
    if not default:
        route["match"] = {"useCases": draw(st.lists(st.sampled_from(USE_CASES), min_size=1))}
        if draw(st.booleans()):
            route["deployments"] = draw(st.lists(st.sampled_from(deployment_ids), unique=True))
    return route


@st.composite
def policies(draw: st.DrawFn, catalog: ModelCatalog) -> RoutingPolicy:
    ids = [d.id for d in catalog.spec.deployments]
    classes = [
        {"id": "eu", "regions": draw(st.lists(st.sampled_from(REGIONS), min_size=1, unique=True))},
        {"id": "us", "regions": draw(st.lists(st.sampled_from(REGIONS), min_size=1, unique=True))},
    ]
    guardrails = [
        {
            "id": f"g{i}",
            "when": draw(st.none() | st.just({"dataClasses": ["restricted", "confidential"]})),
            "deny": {
                "providers": draw(st.lists(st.sampled_from(PROVIDERS), max_size=1)),
                "regions": draw(st.lists(st.sampled_from(REGIONS), max_size=1)),
                "tiers": draw(st.lists(st.sampled_from(TIER_ORDER), max_size=1)),
            },
            # Allow-lists: everything unlisted is out (Guardrail.denies), router and replay alike.
            **draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "allowRegions": st.lists(
                            st.sampled_from(REGIONS), min_size=1, max_size=3, unique=True
                        ),
                        "allowProviders": st.lists(
                            st.sampled_from(PROVIDERS), min_size=1, max_size=3, unique=True
                        ),
                    },
                )
            ),
        }
        for i in range(draw(st.integers(0, 2)))
    ]
    escalation: list[dict[str, Any]] = []
    if draw(st.booleans()):
        escalation.append(
            {
                "id": "high-risk",
                "reason": "humans decide",
                "when": {"riskClasses": ["high"]},
                "action": draw(st.sampled_from(["escalate", "refuse"])),
            }
        )
    if draw(st.booleans()):
        escalation.append({"id": "unsure", "reason": "low confidence", "confidenceBelow": 0.4})
    if draw(st.booleans()):
        escalation.append(
            {
                "id": "none-left",
                "reason": "nothing fits",
                "onNoEligible": True,
                "action": draw(st.sampled_from(["escalate", "refuse"])),
            }
        )
    routes = [_route(draw, f"route{i}", False, ids) for i in range(draw(st.integers(0, 3)))]
    return RoutingPolicy.model_validate(
        {
            "metadata": {"name": "pol", "version": 1},
            "spec": {
                "catalog": "catalog.yaml",
                "residencyClasses": classes,
                "guardrails": guardrails,
                "routes": routes,
                "default": _route(draw, "default", True, ids),
                "escalation": escalation,
            },
        }
    )


@st.composite
def requests(draw: st.DrawFn) -> RoutingRequest:
    return RoutingRequest(
        request_id="q",
        tenant="t",
        app="a",
        use_case=draw(st.sampled_from((*USE_CASES, "general"))),
        data_class=draw(st.sampled_from(("public", "internal", "confidential", "restricted"))),
        residency_class=draw(st.sampled_from(("eu", "us", "unknown"))),
        risk_class=draw(st.sampled_from(("low", "medium", "high"))),
        input_tokens=(inp := draw(st.integers(0, 150_000))),
        cached_input_tokens=draw(st.integers(0, inp)),
        output_tokens=draw(st.integers(0, 20_000)),
        reasoning_tokens=draw(st.integers(0, 5_000)),
        capabilities=draw(st.lists(st.sampled_from(CAPS), unique=True, max_size=2)),
        complexity=draw(st.floats(0, 1)),
        confidence=draw(st.none() | st.floats(0, 1)),
    )


loads = st.integers(1, 4) | st.integers(1, 80)  # low loads let speculation switch on


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[RoutingPolicy, ModelCatalog, RoutingRequest, int]:
    catalog = draw(catalogs())
    policy = draw(policies(catalog))
    return policy, catalog, draw(requests()), draw(loads)


def _matches(match: Match | None, r: RoutingRequest) -> bool:
    if match is None:
        return True
    checks = [
        (match.tenants, r.tenant),
        (match.apps, r.app),
        (match.use_cases, r.use_case),
        (match.data_classes, r.data_class),
        (match.residency_classes, r.residency_class),
        (match.risk_classes, r.risk_class),
    ]
    if any(values is not None and value not in values for values, value in checks):
        return False
    return match.capabilities is None or set(match.capabilities) <= set(r.capabilities)


def assert_lawful(
    policy: RoutingPolicy, catalog: ModelCatalog, r: RoutingRequest, load: int, d: Decision
) -> None:
    """The oracle: a decision never crosses a hard constraint; a refusal says why."""
    if d.outcome == "refused" or d.deployment_id is None:
        assert d.reason, "every refusal or unserved escalation carries a reason"
        assert d.deployment_id is None or d.outcome != "refused"
        return
    dep = catalog.deployment(d.deployment_id)
    route_ = policy.route_by_id(d.route_id)
    assert dep is not None
    assert route_ is not None
    regions = {rc.id: rc.regions for rc in policy.spec.residency_classes}
    assert r.residency_class in regions, "served a request of an unknown residency class"
    assert dep.region in regions[r.residency_class], "outside the residency regions"
    assert dep.tier in route_.tiers
    assert route_.deployments is None or dep.id in route_.deployments
    for g in policy.spec.guardrails:
        if _matches(g.when, r):
            deny = g.deny
            assert dep.provider not in deny.providers
            assert dep.region not in deny.regions
            assert dep.tier not in deny.tiers
            assert dep.id not in deny.deployments
            assert g.allow_regions is None or dep.region in g.allow_regions
            assert g.allow_providers is None or dep.provider in g.allow_providers
    assert set(r.capabilities) <= set(dep.capabilities)
    assert r.input_tokens + r.output_tokens + r.reasoning_tokens <= dep.context_window
    floor = RANK[route_.min_tier] if route_.min_tier else -1
    for t in route_.complexity_thresholds:
        if r.complexity >= t.at_least:
            floor = max(floor, RANK[t.min_tier])
    assert RANK[dep.tier] >= floor
    cost = predict(
        decode_factors(dep),
        load,
        r.input_tokens,
        r.cached_input_tokens,
        r.output_tokens,
        r.reasoning_tokens,
        d.draft_tokens,
    )[2]
    assert d.predicted_cost_pusd == cost
    if route_.max_cost is not None:
        assert cost <= route_.max_cost * 1_000_000, "over the cost cap"
    spec = dep.speculative
    if d.draft_tokens:
        assert spec is not None
        assert load <= spec.disable_above_load


@SETTINGS
@given(scenarios())
def test_prop_router_decisions_are_lawful_and_deterministic(
    scenario: tuple[RoutingPolicy, ModelCatalog, RoutingRequest, int],
) -> None:
    policy, catalog, request, load = scenario
    d = route((policy, catalog), request, load)
    assert_lawful(policy, catalog, request, load, d)
    # same input, same output: the cached plan, a fresh plan, and a re-validated copy
    assert route((policy, catalog), request, load) == d
    assert route(build_plan(policy, catalog), request, load) == d
    assert Decision.model_validate_json(d.model_dump_json()) == d
    # every eliminated candidate says why
    assert all(c.reason for c in d.candidates if c.status == "eliminated")


@SETTINGS
@given(scenarios(), st.floats(0, 1))
def test_prop_router_more_complexity_never_lowers_tier(
    scenario: tuple[RoutingPolicy, ModelCatalog, RoutingRequest, int], other: float
) -> None:
    policy, catalog, request, load = scenario
    low, high = sorted([request.complexity, other])
    a = route((policy, catalog), request.model_copy(update={"complexity": low}), load)
    b = route((policy, catalog), request.model_copy(update={"complexity": high}), load)
    assert a.route_id == b.route_id
    floor_a = RANK[a.tier_floor] if a.tier_floor else -1
    floor_b = RANK[b.tier_floor] if b.tier_floor else -1
    assert floor_b >= floor_a
    if a.tier is not None and b.tier is not None:
        assert RANK[b.tier] >= RANK[a.tier]


@SETTINGS
@given(scenarios(), st.integers(0, 5))
def test_prop_router_removing_a_deployment_stays_lawful(
    scenario: tuple[RoutingPolicy, ModelCatalog, RoutingRequest, int], which: int
) -> None:
    policy, catalog, request, load = scenario
    deployments = catalog.spec.deployments
    if len(deployments) < 2:
        return
    gone = deployments[which % len(deployments)].id
    fewer = catalog.model_copy(
        update={
            "spec": catalog.spec.model_copy(
                update={"deployments": [d for d in deployments if d.id != gone]}
            )
        }
    )
    d = route((policy, fewer), request, load)
    assert d.deployment_id != gone
    assert_lawful(policy, fewer, request, load, d)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.lists(st.tuples(requests(), st.integers(0, 1500)), min_size=1, max_size=25))
def test_prop_router_vectorised_equals_scalar(
    scenario: tuple[RoutingPolicy, ModelCatalog, RoutingRequest, int],
    batch: list[tuple[RoutingRequest, int]],
) -> None:
    from nexusctl.replay import arrivals_load

    policy, catalog, _, _ = scenario
    times = []
    clock = 0
    for _, gap in batch:
        clock += gap
        times.append(clock)
    records = [r.model_dump() for r, _ in batch]
    table = pa.Table.from_pylist(records).drop_columns(["request_id"])
    table = table.append_column("request_id", pa.array([f"q{i}" for i in range(len(batch))]))
    table = table.append_column("time", pa.array(times, type=pa.timestamp("ms", tz="UTC")))
    table = table.set_column(
        table.schema.get_field_index("capabilities"),
        "capabilities",
        pa.array([r.capabilities for r, _ in batch], type=pa.list_(pa.string())),
    )
    vector = pa.Table.from_batches(list(replay((policy, catalog), table, batch_rows=7)))
    load = arrivals_load(times)
    scalar_rows = []
    for i, (r, _) in enumerate(batch):
        request = r.model_copy(update={"request_id": f"q{i}"})
        scalar_rows.append(route((policy, catalog), request, int(load[i])).decision_row(i))
    scalar = pa.Table.from_pylist(scalar_rows, schema=decision_schema())
    assert vector.to_pylist() == scalar.to_pylist()
