"""A readable summary of a loaded policy (what ``nexusctl policy show`` prints).

``summarize`` returns plain JSON-ready data: routes in evaluation order (the default last),
residency classes, guardrails, escalation rules, tenants and budgets, fallback chains,
limits and suppressions. Money is shown both as exact micro-USD integers and as USD text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from nexusctl.policy.loader import LoadedPolicy
from nexusctl.policy.routing import Match, Route, RoutingPolicy


def format_usd(micro_usd: int | None) -> str | None:
    """Exact USD text for integer micro-USD: 2000 -> '$0.002', 40000000000 -> '$40,000.00'."""
    if micro_usd is None:
        return None
    value = Decimal(micro_usd).scaleb(-6)
    text = f"{value:,.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def describe_match(match: Match | None) -> str:
    """One line for a match: 'useCases=faq,advice; capabilities=vision' or '(any request)'."""
    if match is None:
        return "(any request)"
    parts = []
    data = match.model_dump(by_alias=True, exclude_none=True)
    for name, value in data.items():
        if isinstance(value, dict):
            low, high = value.get("min"), value.get("max")
            shown = f"{'' if low is None else low}..{'' if high is None else high}"
        else:
            shown = ", ".join(str(v) for v in value) if value else "(none)"
        parts.append(f"{name}={shown}")
    return "; ".join(parts) or "(any request)"


def _chain_closure(policy: RoutingPolicy, chain_id: str | None) -> list[str]:
    chains = {c.id: c for c in policy.spec.fallback_chains}
    out: list[str] = []
    while chain_id is not None and chain_id not in out:
        out.append(chain_id)
        chain = chains.get(chain_id)
        chain_id = chain.then if chain is not None else None
    return out


def _route(policy: RoutingPolicy, route: Route, is_default: bool) -> dict[str, Any]:
    return {
        "id": route.id,
        "default": is_default,
        "description": route.description,
        "match": describe_match(route.match),
        "tiers": list(route.tiers),
        "minTier": route.min_tier,
        "complexityThresholds": [
            {"atLeast": t.at_least, "minTier": t.min_tier} for t in route.complexity_thresholds
        ],
        "sloMs": route.slo_ms,
        "maxCostMicroUsd": route.max_cost,
        "maxCostUsd": format_usd(route.max_cost),
        "deployments": route.deployments,
        "fallback": _chain_closure(policy, route.fallback),
    }


def summarize(loaded: LoadedPolicy) -> dict[str, Any]:
    """Return a JSON-ready summary of ``loaded`` (policy and catalog)."""
    policy = loaded.policy
    spec = policy.spec
    deployments = loaded.catalog.catalog.spec.deployments
    routes = [_route(policy, r, False) for r in spec.routes]
    routes.append(_route(policy, spec.default, True))
    return {
        "policy": {
            "name": policy.metadata.name,
            "version": policy.metadata.version,
            "owner": policy.metadata.owner,
            "description": policy.metadata.description,
            "path": loaded.source.path,
            "catalog": loaded.catalog.source.path,
            "deployments": len(deployments),
        },
        "routes": routes,
        "residencyClasses": [
            {
                "id": c.id,
                "regions": list(c.regions),
                "description": c.description,
                "deployments": [d.id for d in deployments if d.region in c.regions],
            }
            for c in spec.residency_classes
        ],
        "guardrails": [
            {
                "id": g.id,
                "description": g.description,
                "when": describe_match(g.when),
                "deny": g.deny.model_dump(by_alias=True, exclude_defaults=True),
                "allow": g.model_dump(
                    by_alias=True, include={"allow_regions", "allow_providers"}, exclude_none=True
                ),
            }
            for g in spec.guardrails
        ],
        "escalation": [
            {
                "id": e.id,
                "trigger": _trigger(e.when, e.confidence_below, e.on_no_eligible),
                "action": e.action,
                "target": e.target,
                "reason": e.reason,
                "routes": e.routes,
            }
            for e in spec.escalation
        ],
        "tenants": [
            {
                "id": t.id,
                "monthlyBudgetMicroUsd": t.monthly_budget,
                "monthlyBudgetUsd": format_usd(t.monthly_budget),
            }
            for t in spec.tenants
        ],
        "fallbackChains": [
            {"id": c.id, "deployments": list(c.deployments), "then": c.then}
            for c in spec.fallback_chains
        ],
        "limits": spec.limits.model_dump(by_alias=True, exclude_none=True),
        "suppressions": [
            {
                "rule": s.rule,
                "target": s.target,
                "expires": s.expires.isoformat() if s.expires else None,
                "reason": s.reason,
            }
            for s in spec.suppressions
        ],
    }


def _trigger(when: Match | None, confidence_below: float | None, on_no_eligible: bool) -> str:
    if when is not None:
        return f"when {describe_match(when)}"
    if confidence_below is not None:
        return f"confidence below {confidence_below}"
    return "no eligible deployment" if on_no_eligible else "(never)"
