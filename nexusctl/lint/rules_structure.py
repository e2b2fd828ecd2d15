"""Structural rules: catch-all frontier (NXL001), shadowed routes (NXL002), unknown references
(NXL003), fallback cycles (NXL004), duplicate ids (NXL011) and region deny-lists that could
be allow-lists (NXL018) in a policy."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator

from nexusctl.lint.analysis import all_routes, implies, is_catch_all
from nexusctl.lint.context import PolicyContext, Where
from nexusctl.lint.findings import Finding, finding
from nexusctl.policy.routing import Match

Key = tuple[str | int, ...]
Locator = Callable[[Key], Where]
#: check(kind, value, key, owner kind, owner id) -> a finding when ``value`` does not resolve.
Check = Callable[[str, str | None, Key, str, str], Finding | None]


def check_catch_all_frontier(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL001: a route with no match condition (the default included) allows 'frontier'."""
    for route, key in all_routes(ctx.loaded.policy):
        if "frontier" not in route.tiers or not is_catch_all(route.match):
            continue
        tier_index = route.tiers.index("frontier")
        which = "the default route" if key[1] == "default" else f"route '{route.id}'"
        yield finding(
            "NXL001",
            f"{which} has no match condition but allows the frontier tier; "
            "catch-all traffic must stay on small or mid",
            ctx.at(*key, "tiers", tier_index),
            route.id,
        )


def check_shadowed_routes(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL002: a route whose every request is taken by an earlier route."""
    routes = ctx.loaded.policy.spec.routes
    for index, route in enumerate(routes):
        for earlier_index, earlier in enumerate(routes[:index]):
            if implies(route.match, earlier.match):
                line = ctx.at("spec", "routes", earlier_index)[1]
                yield finding(
                    "NXL002",
                    f"route '{route.id}' can never match: every request it matches is taken "
                    f"by earlier route '{earlier.id}' (line {line})",
                    ctx.at("spec", "routes", index, "id"),
                    route.id,
                    earlier.id,
                )
                break


def check_fallback_cycles(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL004: fallback chains that continue with themselves through ``then``."""
    chains = ctx.loaded.policy.spec.fallback_chains
    index_of = {c.id: i for i, c in reversed(list(enumerate(chains)))}
    then = {c.id: c.then for c in chains}
    reported: set[frozenset[str]] = set()
    for chain in chains:
        path = [chain.id]
        current = chain.then
        while current is not None and current in then and current not in path:
            path.append(current)
            current = then[current]
        if current is None or current not in path:
            continue
        cycle = path[path.index(current) :]
        if frozenset(cycle) in reported:
            continue
        reported.add(frozenset(cycle))
        first = min(cycle, key=lambda c: index_of[c])
        start = cycle.index(first)
        ordered = cycle[start:] + cycle[:start]
        shown = " -> ".join([*ordered, ordered[0]])
        yield finding(
            "NXL004",
            f"fallback chains form a cycle: {shown}",
            ctx.at("spec", "fallbackChains", index_of[first], "then"),
            *ordered,
        )


def check_duplicate_ids(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL011: two routes (default included), chains, classes, tenants, guardrails or rules
    share an id."""
    spec = ctx.loaded.policy.spec
    routes: list[tuple[str, Key]] = [(spec.default.id, ("spec", "default", "id"))]
    routes += [(r.id, ("spec", "routes", i, "id")) for i, r in enumerate(spec.routes)]
    groups: list[tuple[str, list[tuple[str, Key]]]] = [
        ("route", routes),
        _group("fallback chain", "fallbackChains", [c.id for c in spec.fallback_chains]),
        _group("residency class", "residencyClasses", [c.id for c in spec.residency_classes]),
        _group("tenant", "tenants", [t.id for t in spec.tenants]),
        _group("guardrail", "guardrails", [g.id for g in spec.guardrails]),
        _group("escalation rule", "escalation", [e.id for e in spec.escalation]),
    ]
    for kind, items in groups:
        yield from duplicates(kind, items, lambda key: ctx.at(*key))


def _group(kind: str, field: str, ids: list[str]) -> tuple[str, list[tuple[str, Key]]]:
    return kind, [(item, ("spec", field, i, "id")) for i, item in enumerate(ids)]


def duplicates(
    kind: str,
    items: Iterable[tuple[str, Key]],
    locate: Locator,
) -> Iterator[Finding]:
    """Report every item whose id was already used by an earlier item of the same kind."""
    first: dict[str, Where] = {}
    for item_id, key in sorted(items, key=lambda item: locate(item[1])[1] or 0):
        here = locate(key)
        if item_id in first:
            yield finding(
                "NXL011",
                f"duplicate {kind} id '{item_id}' (first defined at line {first[item_id][1]})",
                here,
                item_id,
            )
        else:
            first[item_id] = here


def check_references(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL003: references to deployments, routes, chains, classes, tenants, providers, regions."""
    spec = ctx.loaded.policy.spec
    deployments = ctx.loaded.catalog.catalog.spec.deployments
    known = {
        "deployment": [d.id for d in deployments],
        "fallback chain": [c.id for c in spec.fallback_chains],
        "route": [r.id for r in spec.routes] + [spec.default.id],
        "residency class": [c.id for c in spec.residency_classes],
        "tenant": [t.id for t in spec.tenants],
        "provider": sorted({d.provider for d in deployments}),
        "region": sorted({d.region for d in deployments}),
    }

    def check(kind: str, value: str | None, key: Key, owner: str, owner_id: str) -> Finding | None:
        if value is None or value in known[kind]:
            return None
        near = difflib.get_close_matches(value, known[kind], n=1, cutoff=0.6)
        suffix = f" (did you mean '{near[0]}'?)" if near else ""
        return finding(
            "NXL003",
            f"{owner} '{owner_id}' names {kind} '{value}', which does not exist{suffix}",
            ctx.at(*key),
            value,
            owner_id,
        )

    candidates: list[Finding | None] = []
    for route, key in all_routes(ctx.loaded.policy):
        owner = ("route", route.id)
        candidates.append(check("fallback chain", route.fallback, (*key, "fallback"), *owner))
        for i, dep in enumerate(route.deployments or []):
            candidates.append(check("deployment", dep, (*key, "deployments", i), *owner))
        candidates += _match_refs(check, route.match, (*key, "match"), owner)
    for index, chain in enumerate(spec.fallback_chains):
        key = ("spec", "fallbackChains", index)
        owner = ("fallback chain", chain.id)
        for i, dep in enumerate(chain.deployments):
            candidates.append(check("deployment", dep, (*key, "deployments", i), *owner))
        candidates.append(check("fallback chain", chain.then, (*key, "then"), *owner))
    for index, guardrail in enumerate(spec.guardrails):
        key = ("spec", "guardrails", index)
        owner = ("guardrail", guardrail.id)
        candidates += _match_refs(check, guardrail.when, (*key, "when"), owner)
        deny = guardrail.deny
        for field, kind, values in (
            ("deployments", "deployment", deny.deployments),
            ("providers", "provider", deny.providers),
            ("regions", "region", deny.regions),
        ):
            for i, value in enumerate(values):
                candidates.append(check(kind, value, (*key, "deny", field, i), *owner))
        for field, kind, allowed in (
            ("allowProviders", "provider", guardrail.allow_providers),
            ("allowRegions", "region", guardrail.allow_regions),
        ):
            for i, value in enumerate(allowed or []):
                candidates.append(check(kind, value, (*key, field, i), *owner))
    for index, rule in enumerate(spec.escalation):
        key = ("spec", "escalation", index)
        owner = ("escalation rule", rule.id)
        for i, route_id in enumerate(rule.routes or []):
            candidates.append(check("route", route_id, (*key, "routes", i), *owner))
        candidates += _match_refs(check, rule.when, (*key, "when"), owner)
    yield from (c for c in candidates if c is not None)


def _match_refs(
    check: Check, match: Match | None, key: Key, owner: tuple[str, str]
) -> list[Finding | None]:
    if match is None:
        return []
    out = [
        check("tenant", tenant, (*key, "tenants", i), *owner)
        for i, tenant in enumerate(match.tenants or [])
    ]
    out += [
        check("residency class", cls, (*key, "residencyClasses", i), *owner)
        for i, cls in enumerate(match.residency_classes or [])
    ]
    return out


def check_region_deny_lists(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL018: a guardrail denies regions without an allow-list; a new region would pass it.

    A note, not a defect: "never in these regions" is sometimes the intent. The message
    offers the allow-list that decides the same today (the catalog's other regions).
    """
    regions = sorted({d.region for d in ctx.loaded.catalog.catalog.spec.deployments})
    for index, guardrail in enumerate(ctx.loaded.policy.spec.guardrails):
        denied = guardrail.deny.regions
        if not denied or guardrail.allow_regions is not None:
            continue
        rest = [r for r in regions if r not in denied]
        yield finding(
            "NXL018",
            f"guardrail '{guardrail.id}' denies regions {', '.join(denied)}: a region added to "
            "the catalog later passes it; if only the others may serve, write allowRegions: "
            f"[{', '.join(rest)}]",
            ctx.at("spec", "guardrails", index, "deny", "regions"),
            guardrail.id,
        )
