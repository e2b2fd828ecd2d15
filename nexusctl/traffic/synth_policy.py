"""The synthetic mix derived from routing policies: every route receives traffic.

Used by ``traffic synth --policy`` (``nexusctl.traffic.synth.segments_from_policies``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nexusctl.traffic.synth import Segment


def policy_segments(policies: Sequence[Any]) -> tuple[Segment, ...]:
    """Derive a mix from RoutingPolicy models in which every route receives traffic.

    Per route (the default included), one segment per (tenant, app) the route matches draws
    every attribute from the route's own match: its apps, use cases, data classes, residency
    and risk classes, required capabilities, input-token and complexity ranges. An attribute
    the route leaves open avoids the values earlier routes match on (where any remain), so the
    route is not shadowed by them; an open tenant or app is every declared tenant and the
    policy's name. Beside the routes, a plain segment per tenant covers the vocabulary, 2 % of
    it in an undeclared residency class ``unknown`` (requests nothing may serve).
    """
    segments: list[Segment] = []
    for policy in policies:
        segments += _route_segments(policy)
        segments += _plain_segments(policy)
    return tuple(segments)


_DATA_MIX = {"public": 0.2, "internal": 0.4, "confidential": 0.3, "restricted": 0.1}
_RISK_MIX = {"low": 0.8, "medium": 0.15, "high": 0.05}


def _route_segments(policy: Any) -> list[Segment]:
    spec = policy.spec
    tenants = [t.id for t in spec.tenants] or ["default"]
    declared = [r.id for r in spec.residency_classes] or ["unknown"]
    taken: dict[str, set[str]] = {}  # values earlier routes match on, per attribute
    out: list[Segment] = []
    for route in [*spec.routes, spec.default]:
        match = getattr(route, "match", None)

        def pick(attribute: str, default: dict[str, float], match: Any = match) -> dict[str, float]:
            listed = getattr(match, attribute, None) if match is not None else None
            if listed:
                return {value: 1.0 for value in listed}
            free = {k: v for k, v in default.items() if k not in taken.get(attribute, set())}
            return free or default

        use_cases = pick("use_cases", {"general": 1.0})
        data_classes = pick("data_classes", _DATA_MIX)
        residency = pick("residency_classes", {r: 1.0 for r in declared})
        risk = pick("risk_classes", _RISK_MIX)
        apps = list(pick("apps", {policy.metadata.name: 1.0}))
        who = list(pick("tenants", {t: 1.0 for t in tenants}))
        required = list(getattr(match, "capabilities", None) or []) if match else []
        tokens = getattr(match, "input_tokens", None) if match else None
        score = getattr(match, "complexity", None) if match else None
        pairs = [(tenant, app) for tenant in who for app in apps]
        for tenant, app in pairs:
            out.append(
                Segment(
                    f"{policy.metadata.name}-{route.id}-{tenant}-{app}",
                    1.0 / len(pairs),
                    tenant,
                    app,
                    use_cases,
                    data_classes,
                    residency,
                    risk,
                    {capability: 1.0 for capability in required},
                    confidence_share=0.5,
                    input_range=_bounds(tokens),
                    complexity_range=None
                    if score is None
                    else (
                        0.0 if score.min is None else score.min,
                        1.0 if score.max is None else score.max,
                    ),
                )
            )
        if match is not None:
            for attribute in ("use_cases", "data_classes", "residency_classes", "risk_classes"):
                taken.setdefault(attribute, set()).update(getattr(match, attribute, None) or [])
    return out


def _bounds(tokens: Any) -> tuple[int | None, int | None] | None:
    if tokens is None or (tokens.min is None and tokens.max is None):
        return None
    return (tokens.min, tokens.max)


def _plain_segments(policy: Any) -> list[Segment]:
    spec = policy.spec
    use_cases = {"general": 1.0}
    capabilities: dict[str, float] = {}
    for route in spec.routes:
        if route.match is None:
            continue
        for use_case in route.match.use_cases or []:
            use_cases[use_case] = 1.0
        for capability in route.match.capabilities or []:
            capabilities[capability] = 0.2
    residency = {r.id: 0.98 / max(1, len(spec.residency_classes)) for r in spec.residency_classes}
    residency["unknown"] = 0.02 if residency else 1.0
    return [
        Segment(
            f"{policy.metadata.name}-{tenant}",
            1.0,
            tenant,
            policy.metadata.name,
            use_cases,
            _DATA_MIX,
            residency,
            _RISK_MIX,
            capabilities,
            confidence_share=0.5,
        )
        for tenant in [t.id for t in spec.tenants] or ["default"]
    ]
