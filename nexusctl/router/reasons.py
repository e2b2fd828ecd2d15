"""Reason codes: why a candidate was eliminated or passed over, and why a request escalated.

Hard-filter codes are checked in the order listed; a candidate records the FIRST that fails.
Codes with a ``:<suffix>`` carry the guardrail id or the missing capability.
"""

from __future__ import annotations

from typing import Final

# Hard filters, in evaluation order.
NOT_IN_ROUTE_POOL: Final = "NOT_IN_ROUTE_POOL"
TIER_NOT_ALLOWED: Final = "TIER_NOT_ALLOWED"
NO_PRICING: Final = "NO_PRICING"
UNKNOWN_RESIDENCY_CLASS: Final = "UNKNOWN_RESIDENCY_CLASS"
RESIDENCY_REGION: Final = "RESIDENCY_REGION"
GUARDRAIL: Final = "GUARDRAIL"  # GUARDRAIL:<guardrail id>
BELOW_TIER_FLOOR: Final = "BELOW_TIER_FLOOR"
MISSING_CAPABILITY: Final = "MISSING_CAPABILITY"  # MISSING_CAPABILITY:<capability>
CONTEXT_WINDOW: Final = "CONTEXT_WINDOW"
OVER_COST_CAP: Final = "OVER_COST_CAP"

HARD_FILTER_ORDER: Final = (
    NOT_IN_ROUTE_POOL,
    TIER_NOT_ALLOWED,
    NO_PRICING,
    UNKNOWN_RESIDENCY_CLASS,
    RESIDENCY_REGION,
    GUARDRAIL,
    BELOW_TIER_FLOOR,
    MISSING_CAPABILITY,
    CONTEXT_WINDOW,
    OVER_COST_CAP,
)

# Eligible candidates that were not chosen.
HIGHER_TIER: Final = "HIGHER_TIER"  # a smaller tier had an eligible deployment
SLO_MISS: Final = "SLO_MISS"  # another deployment in the tier meets the SLO
NOT_CHEAPEST: Final = "NOT_CHEAPEST"  # lost on cost, then latency, then id
NOT_FASTEST: Final = "NOT_FASTEST"  # nobody in the tier meets the SLO; lost on latency

# Decision-level reasons (the ``reason`` column when escalated or refused).
NO_ELIGIBLE_DEPLOYMENT: Final = "NO_ELIGIBLE_DEPLOYMENT"
MATCHED_ESCALATION_RULE: Final = "MATCHED_ESCALATION_RULE"
LOW_CONFIDENCE: Final = "LOW_CONFIDENCE"

DESCRIPTIONS: Final[dict[str, str]] = {
    NOT_IN_ROUTE_POOL: "the route restricts its pool and this deployment is not in it",
    TIER_NOT_ALLOWED: "the route does not allow this deployment's tier",
    NO_PRICING: "the deployment has no pricing, so its cost cannot be predicted",
    UNKNOWN_RESIDENCY_CLASS: "the request's residency class is not declared by the policy",
    RESIDENCY_REGION: "the deployment's region is not allowed for the residency class",
    GUARDRAIL: "a guardrail denies this deployment for this request",
    MISSING_CAPABILITY: "the deployment lacks a capability the request requires",
    CONTEXT_WINDOW: "input + output + reasoning tokens exceed the context window",
    BELOW_TIER_FLOOR: "the tier is below the floor set by the route and complexity",
    OVER_COST_CAP: "the predicted cost exceeds the route's per-request cap at every draft length",
    HIGHER_TIER: "eligible, but a smaller tier has an eligible deployment",
    SLO_MISS: "eligible, but misses the SLO while another deployment in the tier meets it",
    NOT_CHEAPEST: "eligible, but another deployment in the tier is cheaper (then faster)",
    NOT_FASTEST: "eligible, but nothing in the tier meets the SLO and another is faster",
    NO_ELIGIBLE_DEPLOYMENT: "no deployment passes every hard constraint",
    MATCHED_ESCALATION_RULE: "an escalation rule matches the request's attributes",
    LOW_CONFIDENCE: "the caller's confidence is below an escalation rule's threshold",
}


def describe(code: str) -> str:
    """Return a one-line explanation of a reason code (suffixes like ``:tools`` allowed)."""
    base, _, suffix = code.partition(":")
    text = DESCRIPTIONS.get(base, code)
    return f"{text} ({suffix})" if suffix else text
