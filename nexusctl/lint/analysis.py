"""Static reasoning over a policy: match implication, pools, fallback closure, reference cost.

Everything here is a pure function of the models. The reference request the budget rules use
is explicit (``REFERENCE_INPUT_TOKENS`` / ``REFERENCE_OUTPUT_TOKENS``, at load 1) and
documented in ``docs/rules/NXL008.md`` and ``NXL009.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from nexusctl.decode import DecodeFactors, decode_factors, predict, ttft_us
from nexusctl.policy.catalog import Deployment, ModelCatalog
from nexusctl.policy.routing import (
    ComplexityThreshold,
    Guardrail,
    IntRange,
    Match,
    Route,
    RoutingPolicy,
    ScoreRange,
)
from nexusctl.policy.vocabulary import TIER_ORDER, Tier

REFERENCE_INPUT_TOKENS = 1_000
REFERENCE_OUTPUT_TOKENS = 500
REFERENCE_LOAD = 1

#: Any-of list fields of Match; a request matches when its value is one of the listed.
_ANY_OF = ("tenants", "apps", "use_cases", "data_classes", "residency_classes", "risk_classes")
#: Fields whose domain is closed: listing every value is the same as not constraining it.
_CLOSED_DOMAINS: dict[str, frozenset[str]] = {
    "data_classes": frozenset({"public", "internal", "confidential", "restricted"}),
    "risk_classes": frozenset({"low", "medium", "high"}),
}


def tier_rank(tier: Tier) -> int:
    """Position of ``tier`` in ascending order (small=0)."""
    return TIER_ORDER.index(tier)


def is_catch_all(match: Match | None) -> bool:
    """True when ``match`` places no condition on requests."""
    return match is None or all(getattr(match, name) is None for name in Match.model_fields)


def implies(narrow: Match | None, broad: Match | None) -> bool:
    """Return True when every request that matches ``narrow`` also matches ``broad``.

    Sound but not complete: True is a proof, False means "not proven".
    """
    if is_catch_all(broad):
        return True
    assert broad is not None
    narrow = narrow or Match()
    for name in _ANY_OF:
        wanted: list[str] | None = getattr(broad, name)
        if wanted is None:
            continue
        have: list[str] | None = getattr(narrow, name)
        if have is None:
            if name in _CLOSED_DOMAINS and _CLOSED_DOMAINS[name] <= set(wanted):
                continue
            return False
        if not set(have) <= set(wanted):
            return False
    if broad.capabilities is not None and not set(broad.capabilities) <= set(
        narrow.capabilities or []
    ):
        return False
    return _range_within(narrow.input_tokens, broad.input_tokens, 0, math.inf) and _range_within(
        narrow.complexity, broad.complexity, 0.0, 1.0
    )


def _range_within(
    narrow: IntRange | ScoreRange | None,
    broad: IntRange | ScoreRange | None,
    low: float,
    high: float,
) -> bool:
    if broad is None:
        return True
    n_min = low if narrow is None or narrow.min is None else narrow.min
    n_max = high if narrow is None or narrow.max is None else narrow.max
    b_min = low if broad.min is None else broad.min
    b_max = high if broad.max is None else broad.max
    return b_min <= n_min and n_max <= b_max


def conjoin(first: Match | None, second: Match | None) -> Match | None:
    """The match of requests matching both, or None when provably no request can."""
    if first is None or second is None:
        return first or second or Match()
    fields: dict[str, object] = {}
    for name in _ANY_OF:
        mine: list[str] | None = getattr(first, name)
        theirs: list[str] | None = getattr(second, name)
        if mine is not None and theirs is not None:
            both = [value for value in mine if value in theirs]
            if not both:
                return None
            fields[name] = both
        else:
            fields[name] = mine if mine is not None else theirs
    if first.capabilities is not None or second.capabilities is not None:
        caps = [*(first.capabilities or [])]
        fields["capabilities"] = caps + [c for c in second.capabilities or [] if c not in caps]
    for name, kind in (("input_tokens", IntRange), ("complexity", ScoreRange)):
        a, b = getattr(first, name), getattr(second, name)
        if a is None or b is None:
            fields[name] = a or b
            continue
        lows = [v for v in (a.min, b.min) if v is not None]
        highs = [v for v in (a.max, b.max) if v is not None]
        low = max(lows) if lows else None
        high = min(highs) if highs else None
        if low is not None and high is not None and low > high:
            return None
        fields[name] = kind(min=low, max=high)
    return Match.model_validate(fields)


def with_residency(match: Match | None, residency_class: str) -> Match:
    """The conjunction of ``match`` and "the request's residency class is ``residency_class``"."""
    base = match or Match()
    listed = base.residency_classes
    classes = [residency_class] if listed is None or residency_class in listed else []
    return base.model_copy(update={"residency_classes": classes})


def allowed_tiers(route: Route, floor: Tier | None = None) -> list[Tier]:
    """The route's tiers at or above its ``minTier`` (and ``floor``), in ascending order."""
    lowest = max(tier_rank(t) for t in (route.min_tier, floor, TIER_ORDER[0]) if t is not None)
    return [t for t in TIER_ORDER if t in route.tiers and tier_rank(t) >= lowest]


@dataclass(frozen=True)
class RaisedFloor:
    """A tier floor a complexity threshold raises a route to, above the route's own floor."""

    index: int
    threshold: ComplexityThreshold
    floor: Tier
    match: Match


def raised_floors(route: Route) -> list[RaisedFloor]:
    """Every tier floor above the route's own that some matching complexity score reaches.

    The router takes the highest floor among the thresholds a score meets, so the floors
    change only at thresholds; each floor is attributed to the lowest threshold that reaches
    it, with the match "route's match and complexity >= that threshold". A threshold the
    route's complexity range never reaches is left out.
    """
    base = tier_rank(route.min_tier) if route.min_tier is not None else -1
    bounds = route.match.complexity if route.match is not None else None
    low = bounds.min if bounds is not None and bounds.min is not None else 0.0
    high = bounds.max if bounds is not None and bounds.max is not None else 1.0
    out: list[RaisedFloor] = []
    seen: set[Tier] = set()
    ordered = sorted(enumerate(route.complexity_thresholds), key=lambda p: p[1].at_least)
    for index, threshold in ordered:
        if threshold.at_least > high:
            continue
        score = max(threshold.at_least, low)
        floor = max(
            (t.min_tier for t in route.complexity_thresholds if t.at_least <= score),
            key=tier_rank,
        )
        if tier_rank(floor) <= base or floor in seen:
            continue
        seen.add(floor)
        match = conjoin(route.match, Match(complexity=ScoreRange(min=score)))
        assert match is not None  # score lies inside the route's own range
        out.append(RaisedFloor(index, threshold, floor, match))
    return out


def unconditional_guardrails(policy: RoutingPolicy, match: Match | None) -> list[Guardrail]:
    """Guardrails that apply to every request matching ``match``."""
    return [g for g in policy.spec.guardrails if implies(match, g.when)]


@dataclass(frozen=True)
class Pool:
    """A route's static pool, and what removed the rest (for messages)."""

    deployments: tuple[Deployment, ...]
    tiers: tuple[Tier, ...]
    guardrails: tuple[str, ...]


def route_pool(
    policy: RoutingPolicy,
    catalog: ModelCatalog,
    route: Route,
    match: Match | None,
    floor: Tier | None = None,
) -> Pool:
    """Deployments a request matching ``match`` on ``route`` may use, before residency.

    Filters: allowed tiers (with the minTier floor, raised to ``floor`` when given),
    ``route.deployments``, capabilities the match requires, a context window above the
    match's minimum input size, and every guardrail that applies unconditionally to ``match``.
    """
    tiers = allowed_tiers(route, floor)
    guardrails = unconditional_guardrails(policy, match)
    required = set(match.capabilities or []) if match is not None else set()
    min_input = match.input_tokens.min if match and match.input_tokens else None
    kept = []
    for dep in catalog.spec.deployments:
        if dep.tier not in tiers:
            continue
        if route.deployments is not None and dep.id not in route.deployments:
            continue
        if not required <= set(dep.capabilities):
            continue
        if min_input is not None and dep.context_window <= min_input:
            continue
        if any(g.denies(dep) for g in guardrails):
            continue
        kept.append(dep)
    return Pool(tuple(kept), tuple(tiers), tuple(g.id for g in guardrails))


def all_routes(policy: RoutingPolicy) -> list[tuple[Route, tuple[str | int, ...]]]:
    """Every route in evaluation order (the default last) with its path in the document."""
    routes: list[tuple[Route, tuple[str | int, ...]]] = [
        (route, ("spec", "routes", index)) for index, route in enumerate(policy.spec.routes)
    ]
    routes.append((policy.spec.default, ("spec", "default")))
    return routes


def receiving_classes(policy: RoutingPolicy, position: int) -> list[str]:
    """Residency classes whose requests can reach the route at ``position`` (default = last).

    A class reaches a route when the route's match admits it and no earlier route takes
    every request of that class (an earlier route whose match is implied by "residency
    class = R").
    """
    routes = [route for route, _ in all_routes(policy)]
    route = routes[position]
    out = []
    for residency in policy.spec.residency_classes:
        only = with_residency(None, residency.id)
        listed = route.match.residency_classes if route.match is not None else None
        if listed is not None and residency.id not in listed:
            continue
        if any(implies(only, earlier.match) for earlier in routes[:position]):
            continue
        out.append(residency.id)
    return out


def chain_paths(policy: RoutingPolicy, chain_id: str) -> Iterator[tuple[list[str], str]]:
    """Yield (chain path, deployment id) for every deployment in ``chain_id``'s closure.

    Follows ``then`` links, each chain once (cycles end the walk; NXL004 reports them).
    """
    chains = {c.id: c for c in policy.spec.fallback_chains}
    seen: set[str] = set()
    path: list[str] = []
    current: str | None = chain_id
    while current is not None and current in chains and current not in seen:
        seen.add(current)
        path.append(current)
        chain = chains[current]
        for dep_id in chain.deployments:
            yield list(path), dep_id
        current = chain.then


_FACTORS: dict[int, tuple[Deployment, DecodeFactors]] = {}


def _factors(dep: Deployment) -> DecodeFactors:
    """``decode_factors`` once per deployment object (the rules ask for each one many times)."""
    hit = _FACTORS.get(id(dep))
    if hit is not None and hit[0] is dep:
        return hit[1]
    if len(_FACTORS) > 4096:
        _FACTORS.clear()
    factors = decode_factors(dep)
    _FACTORS[id(dep)] = (dep, factors)
    return factors


def best_latency_us(dep: Deployment, input_tokens: int, output_tokens: int) -> int:
    """Fastest predicted latency at the reference load over the decode options it offers.

    The router's own model (``nexusctl.decode``: integer decode factors, speculative decoding
    per Leviathan, Kalman, Matias, ICML 2023), so lint and the router never disagree.
    """
    factors = _factors(dep)
    point = factors.points[factors.point_index(REFERENCE_LOAD)]
    first = ttft_us(point, input_tokens)
    return min(
        first + output_tokens * point.tpot_eff_us[gamma]
        for gamma in factors.draft_lengths(REFERENCE_LOAD)
    )


def cost_pusd(dep: Deployment, input_tokens: int, output_tokens: int) -> int | None:
    """Cheapest predicted cost of the reference request in pico-USD, or None when unpriced.

    Per-token: tokens x micro-USD per Mtok. GPU time: the replica's busy time shared by its
    ``maxLoad`` requests, cheapest over the decode options. Both from ``nexusctl.decode``.
    """
    factors = _factors(dep)
    if factors.pricing_kind == "none":
        return None
    return min(
        predict(factors, REFERENCE_LOAD, input_tokens, 0, output_tokens, 0, gamma)[2]
        for gamma in factors.draft_lengths(REFERENCE_LOAD)
    )


def reference_input(route: Route) -> int:
    """The reference input size, moved inside the route's inputTokens range when it has one."""
    size = REFERENCE_INPUT_TOKENS
    match = route.match
    if match is not None and match.input_tokens is not None:
        if match.input_tokens.min is not None:
            size = max(size, match.input_tokens.min)
        if match.input_tokens.max is not None:
            size = min(size, match.input_tokens.max)
    return size


def usd(pusd: Fraction | int) -> str:
    """Format pico-USD as dollars with six decimals (micro-USD precision)."""
    return f"${float(pusd) / 1e12:.6f}"
