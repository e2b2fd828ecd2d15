"""NXL017: which tier floors a route's complexity thresholds reach, and when one is dead."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusctl.lint.analysis import raised_floors
from nexusctl.lint.context import PolicyContext
from nexusctl.lint.rules_reach import check_dead_floors, check_slos
from nexusctl.policy.loader import LoadedPolicy, load_policy
from nexusctl.policy.routing import Route

ASSET = Path(__file__).resolve().parents[1] / "assets" / "lint" / "NXL017-dead-complexity-floor"


def _route(**fields: object) -> Route:
    return Route.model_validate(
        {"id": "r", "tiers": ["small", "mid", "frontier"], "sloMs": 1000, **fields}
    )


def test_each_floor_is_attributed_to_the_lowest_threshold_reaching_it() -> None:
    route = _route(
        complexityThresholds=[
            {"atLeast": 0.9, "minTier": "frontier"},
            {"atLeast": 0.5, "minTier": "mid"},
            {"atLeast": 0.95, "minTier": "mid"},  # never raises past frontier
        ]
    )
    floors = [(r.index, r.floor, r.match.complexity.min) for r in raised_floors(route)]
    assert floors == [(1, "mid", 0.5), (0, "frontier", 0.9)]


def test_thresholds_outside_the_routes_range_or_below_its_floor_are_skipped() -> None:
    route = _route(
        minTier="mid",
        match={"complexity": {"max": 0.8}},
        complexityThresholds=[
            {"atLeast": 0.3, "minTier": "mid"},  # the route's own floor already
            {"atLeast": 0.9, "minTier": "frontier"},  # no matching score reaches it
        ],
    )
    assert raised_floors(route) == []


def test_a_threshold_below_the_routes_minimum_score_applies_from_that_minimum() -> None:
    route = _route(
        match={"complexity": {"min": 0.6}},
        complexityThresholds=[{"atLeast": 0.2, "minTier": "mid"}],
    )
    (raised,) = raised_floors(route)
    assert raised.match.complexity is not None
    assert raised.match.complexity.min == 0.6


def _with(loaded: LoadedPolicy, **route_fields: object) -> PolicyContext:
    policy = loaded.policy
    routes = [policy.spec.routes[0].model_copy(update=route_fields)]
    spec = policy.spec.model_copy(update={"routes": routes})
    return PolicyContext(
        LoadedPolicy(
            policy.model_copy(update={"spec": spec}), loaded.path, loaded.source, loaded.catalog
        )
    )


def test_the_asset_is_dead_and_a_cap_covering_mid_revives_it() -> None:
    loaded = load_policy(ASSET / "policy.yaml")
    (item,) = check_dead_floors(PolicyContext(loaded))
    assert item.rule == "NXL017"
    assert (item.line, item.column) == (22, 11)
    assert item.targets == ("chat",)
    assert list(check_dead_floors(_with(loaded, max_cost=10_000))) == []


def test_a_floor_above_every_allowed_tier_is_dead() -> None:
    loaded = load_policy(ASSET / "policy.yaml")
    ctx = _with(
        loaded,
        max_cost=None,
        complexity_thresholds=[
            loaded.policy.spec.routes[0]
            .complexity_thresholds[0]
            .model_copy(update={"min_tier": "frontier"})
        ],
    )
    (item,) = check_dead_floors(ctx)
    assert "no deployment of tiers [none] survives" in item.message


@pytest.mark.parametrize(("cap", "named"), [(1000, None), (100_000, "mid-eu")])
def test_nxl009_names_only_deployments_within_the_cap(cap: int, named: str | None) -> None:
    loaded = load_policy(ASSET / "policy.yaml")
    # Only mid-eu ($0.006 on the reference request) is in the pool: over a $0.001 cap the
    # router eliminates it first, so NXL009 has nothing to name (NXL008 reports the cap).
    ctx = _with(loaded, tiers=["mid"], slo_ms=1, max_cost=cap, complexity_thresholds=[])
    found = [f for f in check_slos(ctx) if f.targets == ("chat",)]
    if named is None:
        assert found == []
    else:
        (item,) = found
        assert f"'{named}'" in item.message
