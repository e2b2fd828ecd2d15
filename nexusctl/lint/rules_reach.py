"""Reachability rules: residency (NXL005) and guardrails (NXL015) over fallback chains, budgets
that no deployment fits (NXL008 cost cap, NXL009 SLO), routes left with nothing to serve
them (NXL010) and tier floors, raised by complexity thresholds, left with nothing (NXL017).

Residency: the router filters a route's *pool* by the request's residency class at run time,
so pool deployments outside a class's regions are excused. Fallback chains are not: gateways
replay them blindly when the chosen deployment fails, so every deployment in a route's chain
closure must be allowed for every residency class that can reach the route, and must not be
denied by any guardrail that applies to some request that can reach the route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import partial

from nexusctl.lint.analysis import (
    REFERENCE_OUTPUT_TOKENS,
    all_routes,
    allowed_tiers,
    best_latency_us,
    chain_paths,
    conjoin,
    cost_pusd,
    implies,
    raised_floors,
    receiving_classes,
    reference_input,
    route_pool,
    usd,
    with_residency,
)
from nexusctl.lint.context import PolicyContext, Where
from nexusctl.lint.findings import Finding, finding
from nexusctl.policy.catalog import Deployment
from nexusctl.policy.routing import Guardrail, Match, Route
from nexusctl.policy.vocabulary import Tier


@dataclass(frozen=True)
class _FallbackPath:
    """One route -> chain [-> chain...] -> deployment path a gateway may replay blindly."""

    position: int
    route: Route
    key: tuple[str | int, ...]
    chains: tuple[str, ...]
    deployment: Deployment

    def describe(self) -> str:
        hops = [f"route '{self.route.id}'", *(f"chain '{c}'" for c in self.chains)]
        return " -> ".join([*hops, self.deployment.id])

    def finding(self, ctx: PolicyContext, rule: str, message: str, owner: str) -> Finding:
        """A finding at the route's ``fallback`` key, about every id on the path."""
        return finding(
            rule,
            f"{message} via {self.describe()}",
            ctx.at(*self.key, "fallback"),
            self.route.id,
            *self.chains,
            self.deployment.id,
            owner,
        )


def _fallback_paths(ctx: PolicyContext) -> Iterator[_FallbackPath]:
    """Every fallback path of every route (default last) to a deployment the catalog has."""
    policy = ctx.loaded.policy
    catalog = ctx.loaded.catalog.catalog
    for position, (route, key) in enumerate(all_routes(policy)):
        if route.fallback is None:
            continue
        for chains, dep_id in chain_paths(policy, route.fallback):
            dep = catalog.deployment(dep_id)
            if dep is not None:
                yield _FallbackPath(position, route, key, tuple(chains), dep)


def check_residency_fallbacks(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL005: every route -> chain -> deployment path that leaves a class's regions."""
    policy = ctx.loaded.policy
    classes = {c.id: c for c in policy.spec.residency_classes}
    for path in _fallback_paths(ctx):
        dep = path.deployment
        for class_id in receiving_classes(policy, path.position):
            regions = classes[class_id].regions
            if dep.region not in regions:
                yield path.finding(
                    ctx,
                    "NXL005",
                    f"residency class '{class_id}' (regions {', '.join(regions)}) can reach "
                    f"deployment '{dep.id}' in region '{dep.region}'",
                    class_id,
                )


def check_guardrail_fallbacks(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL015: a route -> chain -> deployment path that a guardrail of the route's requests denies.

    A guardrail matters for a route when some request can reach the route and match the
    guardrail's ``when``: the two matches are not provably disjoint, and no earlier route takes
    every such request.
    """
    policy = ctx.loaded.policy
    routes = all_routes(policy)

    def applies(guardrail: Guardrail, position: int) -> bool:
        both = conjoin(routes[position][0].match, guardrail.when)
        return both is not None and not any(
            implies(both, earlier.match) for earlier, _ in routes[:position]
        )

    for path in _fallback_paths(ctx):
        for guardrail in policy.spec.guardrails:
            if guardrail.denies(path.deployment) and applies(guardrail, path.position):
                yield path.finding(
                    ctx,
                    "NXL015",
                    f"guardrail '{guardrail.id}' denies deployment '{path.deployment.id}', yet "
                    "requests it applies to can reach it",
                    guardrail.id,
                )


def _scopes(
    ctx: PolicyContext,
    position: int,
    route: Route,
    floor: Tier | None = None,
    match: Match | None = None,
) -> list[tuple[str | None, list[Deployment]]]:
    """The route's eligible pool overall (None), then per residency class that reaches it.

    "Overall" is what some request could use: when residency classes reach the route, only
    deployments in one of their regions (a request of any other class is refused outright).
    ``floor`` and ``match`` narrow the pool to a raised tier floor and the requests that
    reach it (default: the route's own floor and match).
    """
    policy = ctx.loaded.policy
    catalog = ctx.loaded.catalog.catalog
    base = route.match if match is None else match
    fits = reference_input(route) + REFERENCE_OUTPUT_TOKENS
    overall = route_pool(policy, catalog, route, base, floor).deployments
    classes = {c.id: c for c in policy.spec.residency_classes}
    receiving = receiving_classes(policy, position)
    reachable = {region for class_id in receiving for region in classes[class_id].regions}
    scopes: list[tuple[str | None, list[Deployment]]] = [
        (
            None,
            [
                d
                for d in overall
                if d.context_window >= fits and (not receiving or d.region in reachable)
            ],
        )
    ]
    for class_id in receiving:
        pool = route_pool(policy, catalog, route, with_residency(base, class_id), floor)
        regions = set(classes[class_id].regions)
        scopes.append(
            (
                class_id,
                [d for d in pool.deployments if d.region in regions and d.context_window >= fits],
            )
        )
    return scopes


def check_empty_routes(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL010: a route (or a residency class reaching it) with no eligible deployment."""
    policy = ctx.loaded.policy
    catalog = ctx.loaded.catalog.catalog
    classes = {c.id: c for c in policy.spec.residency_classes}
    for position, (route, key) in enumerate(all_routes(policy)):
        pool = route_pool(policy, catalog, route, route.match)
        tiers = ", ".join(pool.tiers) or "none"
        if not pool.deployments:
            removed = (
                f"; guardrails applied: {', '.join(pool.guardrails)}" if pool.guardrails else ""
            )
            yield finding(
                "NXL010",
                f"route '{route.id}' has no eligible deployment in its allowed tiers "
                f"[{tiers}] after deployments, capabilities and guardrails{removed}",
                ctx.at(*key, "tiers"),
                route.id,
            )
            continue
        for class_id in receiving_classes(policy, position):
            regions = classes[class_id].regions
            scoped = route_pool(policy, catalog, route, with_residency(route.match, class_id))
            if any(d.region in regions for d in scoped.deployments):
                continue
            yield finding(
                "NXL010",
                f"route '{route.id}' cannot serve residency class '{class_id}': no eligible "
                f"deployment of tiers [{tiers}] is in regions {', '.join(regions)}",
                ctx.at(*key, "tiers"),
                route.id,
                class_id,
            )


def check_cost_caps(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL008: a per-request cost cap below the cheapest eligible deployment."""
    for position, (route, key) in enumerate(all_routes(ctx.loaded.policy)):
        if route.max_cost is None:
            continue
        cap = Fraction(route.max_cost * 1_000_000)
        size = reference_input(route)

        def cost(dep: Deployment, size: int = size) -> Fraction | None:
            value = cost_pusd(dep, size, REFERENCE_OUTPUT_TOKENS)
            return None if value is None else Fraction(value)

        def cost_text(scope: str, best: str, value: Fraction, cap: Fraction = cap) -> str:
            return (
                f"cost cap {usd(cap)} is below the cheapest eligible "
                f"deployment{scope} ('{best}', {usd(value)})"
            )

        yield from _over_limit(
            ctx, position, route, cost, cap, "NXL008", cost_text, ctx.at(*key, "maxCost")
        )


def check_slos(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL009: no eligible deployment meets the route's SLO on the reference request."""
    for position, (route, key) in enumerate(all_routes(ctx.loaded.policy)):
        size = reference_input(route)

        def latency(dep: Deployment, size: int = size) -> Fraction:
            return Fraction(best_latency_us(dep, size, REFERENCE_OUTPUT_TOKENS))

        def slo_text(scope: str, best: str, value: Fraction, slo_ms: int = route.slo_ms) -> str:
            return (
                f"SLO {slo_ms} ms is below the fastest eligible "
                f"deployment{scope} ('{best}', {float(value) / 1000:.0f} ms at load 1)"
            )

        limit = Fraction(route.slo_ms * 1000)
        yield from _over_limit(
            ctx,
            position,
            route,
            latency,
            limit,
            "NXL009",
            slo_text,
            ctx.at(*key, "sloMs"),
            usable=partial(_within_cap, route),
        )


def _over_limit(
    ctx: PolicyContext,
    position: int,
    route: Route,
    measure: Callable[[Deployment], Fraction | None],
    limit: Fraction,
    rule: str,
    describe: Callable[[str, str, Fraction], str],
    where: Where,
    usable: Callable[[Deployment], bool] = lambda dep: True,
) -> Iterator[Finding]:
    """Report each residency scope whose best deployment by ``measure`` exceeds ``limit``.

    Only ``usable`` deployments compete (NXL009: those within the cost cap, so the message
    never names one the router would eliminate first). A route with no residency scopes
    yields at most one finding (scope ``None``).
    """
    size = reference_input(route)
    for class_id, best, value in _cheapest(ctx, position, route, measure, usable):
        if value <= limit:
            continue
        scope = f" for residency class '{class_id}'" if class_id else ""
        yield finding(
            rule,
            f"route '{route.id}' {describe(scope, best, value)} for the reference request "
            f"({size} input / {REFERENCE_OUTPUT_TOKENS} output tokens)",
            where,
            *((route.id, class_id) if class_id else (route.id,)),
        )
        if class_id is None:
            break


def _cheapest(
    ctx: PolicyContext,
    position: int,
    route: Route,
    measure: Callable[[Deployment], Fraction | None],
    usable: Callable[[Deployment], bool],
) -> Iterator[tuple[str | None, str, Fraction]]:
    """Yield (scope, best deployment id, its value) for each non-empty scope of the route."""
    for class_id, pool in _scopes(ctx, position, route):
        values = [(v, d.id) for d in pool if usable(d) and (v := measure(d)) is not None]
        if values:
            value, best = min(values)
            yield class_id, best, value


def _within_cap(route: Route, dep: Deployment) -> bool:
    """The deployment is priced and within the route's cost cap on the reference request."""
    cost = cost_pusd(dep, reference_input(route), REFERENCE_OUTPUT_TOKENS)
    if cost is None:
        return False
    return route.max_cost is None or cost <= route.max_cost * 1_000_000


def check_dead_floors(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL017: a complexity threshold raises the tier floor to where nothing may serve.

    For every floor above the route's own that a complexity threshold reaches
    (``raised_floors``), the route's pool at that floor, for the requests that reach it, must
    keep a deployment that passes residency, guardrails, the context window and the cost cap
    on the reference request; otherwise every such request is refused or escalated. Checked
    overall first, then per residency class reaching the route (reported once per scope).
    """
    for position, (route, key) in enumerate(all_routes(ctx.loaded.policy)):
        size = reference_input(route)
        for raised in raised_floors(route):
            where = ctx.at(*key, "complexityThresholds", raised.index, "minTier")
            tiers = ", ".join(allowed_tiers(route, raised.floor)) or "none"
            for class_id, pool in _scopes(ctx, position, route, raised.floor, raised.match):
                usable = [d for d in pool if _within_cap(route, d)]
                if usable:
                    continue
                scope = f" for residency class '{class_id}'" if class_id else ""
                priced = [
                    (cost, d.id)
                    for d in pool
                    if (cost := cost_pusd(d, size, REFERENCE_OUTPUT_TOKENS)) is not None
                ]
                if priced:
                    value, best = min(priced)
                    cap = usd((route.max_cost or 0) * 1_000_000)
                    why = f"the cheapest, '{best}' at {usd(value)}, is over the cost cap {cap}"
                elif pool:
                    why = "none of its deployments is priced"
                elif class_id:
                    why = f"no deployment of tiers [{tiers}] is in the class's regions"
                else:
                    why = f"no deployment of tiers [{tiers}] survives the pool and guardrails"
                yield finding(
                    "NXL017",
                    f"route '{route.id}': complexity >= {raised.threshold.at_least:g} raises "
                    f"the tier floor to '{raised.floor}', where no deployment{scope} passes "
                    f"residency, guardrails and the cost cap for the reference request "
                    f"({size} input / {REFERENCE_OUTPUT_TOKENS} output tokens): {why}; every "
                    "such request is refused or escalated",
                    where,
                    *((route.id, class_id) if class_id else (route.id,)),
                )
                if class_id is None:
                    break
