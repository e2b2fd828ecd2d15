"""The reference router: ``route(policy, request, load) -> Decision``, pure and deterministic.

Order of reasoning (docs/router.md):

1. the first route whose match holds, else the default;
2. the first escalation rule in scope triggered by attributes or low confidence (policy order);
3. hard filters over every deployment of the catalog (sorted by id), recording the first that
   fails: route pool, route tiers, pricing, residency, guardrails, tier floor (route
   ``minTier`` raised by complexity thresholds), capabilities, context window, cost cap (at
   every draft length the Latency Controller may use);
4. the smallest tier with an eligible deployment; inside it the lowest predicted cost among
   those meeting the SLO (ties: lower latency, then deployment id); if none meets the SLO,
   the fastest (ties: lower cost, then id) with ``slo_met = False``;
5. outcome: a refusing rule refuses; nothing eligible applies the ``onNoEligible`` rule in scope
   (escalate to its target or refuse), else refuses with NO_ELIGIBLE_DEPLOYMENT; a triggered
   escalating rule keeps the chosen deployment and marks the decision escalated.

No hard constraint is ever relaxed: the SLO is the only soft one.
"""

from __future__ import annotations

from nexusctl.decode.model import DecodeChoice, choose_draft
from nexusctl.errors import InputError
from nexusctl.policy.request import RoutingRequest
from nexusctl.router import reasons
from nexusctl.router.decision import Candidate, CandidateStatus, Decision
from nexusctl.router.plan import TIER_RANK, DeploymentPlan, PlanSource, plan_for

_TIERS = tuple(TIER_RANK)
_NO_TIER = len(_TIERS)


def route(policy: PlanSource, request: RoutingRequest, load: int) -> Decision:
    """Decide where ``request`` goes under ``policy`` at ``load`` requests in flight.

    ``policy`` is a LoadedPolicy, a ``(RoutingPolicy, ModelCatalog)`` pair or a compiled
    RouterPlan (compiled plans are cached by object identity, so passing the same objects
    again is cheap).

    Raises:
        InputError: ``load < 1`` or cached input tokens exceed input tokens.
    """
    plan = plan_for(policy)
    if load < 1:
        raise InputError(f"load must be at least 1 (requests in flight), got {load}")
    input_tokens = request.input_tokens
    cached = request.cached_input_tokens
    output = request.output_tokens
    reasoning = request.reasoning_tokens
    if cached > input_tokens:
        raise InputError(
            f"cachedInputTokens ({cached}) exceeds inputTokens ({input_tokens})",
            hint="input tokens include the cached ones",
        )
    rp = plan.match_route(request)
    trigger = None
    for candidate_rule in rp.triggers:
        if candidate_rule.fires(request):
            trigger = candidate_rule
            break
    refused_by_rule = trigger is not None and trigger.action == "refuse"
    floor, raised_by = rp.tier_floor(request.complexity)
    required = sorted(request.capabilities)
    total_tokens = input_tokens + output + reasoning
    slo_us = rp.slo_us
    cap = rp.cap_pusd

    # One slot per deployment (id order): a finished Candidate, or None for the eligible
    # ones, whose status is only known after selection. Eliminations that depend only on
    # (route, residency class, applicable guardrails, tier floor) come precomputed.
    template, survivors = plan.static_fates(
        rp, request.residency_class, plan.active_guards(request), floor
    )
    slots: list[Candidate | None] = list(template)
    eligible: list[Eligible] = []
    for slot, dep in survivors:
        # The remaining hard filters, in reasons.HARD_FILTER_ORDER.
        reason = None
        for capability in required:
            if capability not in dep.capabilities:
                reason = f"{reasons.MISSING_CAPABILITY}:{capability}"
                break
        else:
            if total_tokens > dep.context_window:
                reason = reasons.CONTEXT_WINDOW
        if reason is not None:
            slots[slot] = _make(
                Candidate, (dep.id, dep.tier, "eliminated", reason, *_NO_PREDICTION)
            )
            continue
        choice = choose_draft(
            dep.factors, load, input_tokens, cached, output, reasoning, slo_us, cap
        )
        if not choice.within_cap:
            slots[slot] = _predicted(dep, "eliminated", reasons.OVER_COST_CAP, choice)
            continue
        eligible.append((slot, dep, choice))

    chosen = _select_and_fill(slots, eligible, refused_by_rule)
    candidates: tuple[Candidate, ...] = tuple(slots)  # type: ignore[arg-type]  # all filled

    rule_id = target = reason_code = None
    if trigger is not None and refused_by_rule:
        outcome, rule_id, target, reason_code = (
            "refused",
            trigger.id,
            trigger.target,
            (trigger.reason_code),
        )
    elif chosen is None:
        reason_code = reasons.NO_ELIGIBLE_DEPLOYMENT
        rule = rp.no_eligible
        outcome = "refused"
        if rule is not None:
            outcome = "escalated" if rule.action == "escalate" else "refused"
            rule_id, target = rule.id, rule.target
    elif trigger is not None:
        outcome, rule_id, target, reason_code = (
            "escalated",
            trigger.id,
            trigger.target,
            (trigger.reason_code),
        )
    else:
        outcome = "routed"

    fields = {
        "request_id": request.request_id,
        "route_id": rp.id,
        "outcome": outcome,
        "deployment_id": None,
        "tier": None,
        "provider": None,
        "region": None,
        "decode_strategy": None,
        "draft_tokens": 0,
        "predicted_ttft_us": None,
        "predicted_latency_us": None,
        "predicted_cost_pusd": None,
        "slo_met": None,
        "slo_us": slo_us,
        "max_cost_pusd": cap,
        "escalation_rule": rule_id,
        "escalation_target": target,
        "reason": reason_code,
        "load": load,
        "tier_floor": _TIERS[floor] if floor >= 0 else None,
        "tier_floor_raised_by": raised_by,
        "candidates": candidates,
    }
    if chosen is not None:
        _, dep, picked = chosen
        fields["deployment_id"] = dep.id
        fields["tier"] = dep.tier
        fields["provider"] = dep.provider
        fields["region"] = dep.region
        fields["decode_strategy"] = "speculative" if picked.draft_tokens else "standard"
        fields["draft_tokens"] = picked.draft_tokens
        fields["predicted_ttft_us"] = picked.ttft_us
        fields["predicted_latency_us"] = picked.latency_us
        fields["predicted_cost_pusd"] = picked.cost_pusd
        fields["slo_met"] = picked.slo_met
    return Decision.trusted(fields)


_make = tuple.__new__  # builds a NamedTuple without its Python-level __new__ (hot path)
_NO_PREDICTION = (None, None, None, None, None)


def _predicted(
    dep: DeploymentPlan, status: CandidateStatus, reason: str | None, choice: DecodeChoice
) -> Candidate:
    """A candidate with the Latency Controller's prediction (γ, TTFT, latency, cost, SLO)."""
    return _make(Candidate, (dep.id, dep.tier, status, reason, *choice[:5]))


Eligible = tuple[int, DeploymentPlan, DecodeChoice]


def _select_and_fill(
    slots: list[Candidate | None], eligible: list[Eligible], refused_by_rule: bool
) -> Eligible | None:
    """Pick the deployment and fill the eligible candidates' slots.

    Smallest tier; inside it the cheapest meeting the SLO (ties: lower latency), else the
    fastest (ties: lower cost). ``eligible`` is in deployment-id order and only a strictly
    better key replaces the best, so the final tie-break is the deployment id. Nothing is
    chosen when a refusing escalation rule fired.
    """
    if not eligible:
        return None
    rank = _NO_TIER
    tier_meets = False
    for _, dep, choice in eligible:
        if dep.tier_rank < rank:
            rank, tier_meets = dep.tier_rank, choice.slo_met
        elif dep.tier_rank == rank and choice.slo_met:
            tier_meets = True
    chosen: Eligible | None = None
    if not refused_by_rule:
        best_key: tuple[int, int] | None = None
        for entry in eligible:
            choice = entry[2]
            if entry[1].tier_rank != rank or (tier_meets and not choice.slo_met):
                continue
            key = (
                (choice.cost_pusd, choice.latency_us)
                if tier_meets
                else (choice.latency_us, choice.cost_pusd)
            )
            if best_key is None or key < best_key:
                chosen, best_key = entry, key
    for entry in eligible:
        slot, dep, choice = entry
        if entry is chosen:
            slots[slot] = _predicted(dep, "chosen", None, choice)
            continue
        if dep.tier_rank > rank:
            reason = reasons.HIGHER_TIER
        elif not tier_meets:
            reason = reasons.NOT_FASTEST
        elif not choice.slo_met:
            reason = reasons.SLO_MISS
        else:
            reason = reasons.NOT_CHEAPEST
        slots[slot] = _predicted(dep, "considered", reason, choice)
    return chosen
