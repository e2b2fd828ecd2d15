"""The simulation result: one frozen pydantic model that *is* the ``--format json`` document.

Units, everywhere in this model:

* money: integer **micro-USD** (1e-6 USD). Each total is the exact pico-USD sum of the
  per-request costs, rounded once to micro-USD half-to-even; every change is a difference of
  two rounded totals, so ``baseline + change == candidate`` and
  ``price_effect + routing_effect == change`` hold exactly, in integers.
* latency: integer microseconds (``*_us``), as the replay predicts them.
* shares: percentages as floats in [0, 100] (never money), ``None`` when the denominator is 0.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nexusctl.document import FrozenModel


class PolicyRef(FrozenModel):
    """Which policy a side of the comparison ran."""

    name: str
    version: int
    path: str = Field(description="The policy file as given on the command line.")
    sha256: str = Field(description="SHA-256 of the policy file's bytes (hex).")
    catalog_sha256: str = Field(description="SHA-256 of its catalog file's bytes (hex).")


class TrafficRef(FrozenModel):
    """The recorded traffic that was replayed."""

    path: str
    rows: int = Field(ge=0)
    sha256: str = Field(description="SHA-256 of the traffic file's bytes (hex).")
    metadata: dict[str, object] | None = Field(
        default=None, description="The file's 'nexusctl.traffic' key-value metadata, if any."
    )


class Transition(FrozenModel):
    """How many requests moved from one label (baseline) to another (candidate)."""

    baseline: str
    candidate: str
    requests: int = Field(ge=0)


class DecisionChanges(FrozenModel):
    """How many decisions changed, and where they went."""

    requests: int = Field(ge=0, description="Requests replayed under each policy.")
    changed: int = Field(
        ge=0, description="Requests whose outcome or deployment differs between the policies."
    )
    changed_pct: float | None
    route_changed: int = Field(ge=0, description="Requests matched to a different route id.")
    decode_changed: int = Field(
        ge=0, description="Same deployment, different speculative draft length."
    )
    by_deployment: list[Transition] = Field(
        description="Transition matrix by deployment; '(escalated)'/'(refused)' when none."
    )
    by_tier: list[Transition] = Field(
        description="Transition matrix by tier; 'escalated'/'refused'/'none' when no tier."
    )
    by_route: list[Transition] = Field(
        description="Changed decisions only, by (baseline route, candidate route), most first."
    )


class SpendRow(FrozenModel):
    """Spend of one group (tenant, app, route, deployment or tier), micro-USD."""

    key: str
    baseline: int
    candidate: int
    change: int
    price_effect: int
    routing_effect: int
    baseline_requests: int = Field(ge=0)
    candidate_requests: int = Field(ge=0)


class Spend(FrozenModel):
    """Predicted spend under each policy, and the split of its change."""

    unit: Literal["micro-USD"] = "micro-USD"
    rounding: Literal["exact pico-USD sums, rounded half-to-even once per total"] = (
        "exact pico-USD sums, rounded half-to-even once per total"
    )
    baseline: int = Field(description="Baseline routing at baseline prices.")
    candidate: int = Field(description="Candidate routing at candidate prices.")
    baseline_repriced: int = Field(description="Baseline routing at candidate prices.")
    change: int = Field(description="candidate - baseline.")
    change_pct: float | None
    price_effect: int = Field(description="baseline_repriced - baseline: same routing, new prices.")
    routing_effect: int = Field(description="candidate - baseline_repriced: new routing.")
    unrepriced_requests: int = Field(
        ge=0,
        description="Baseline decisions whose deployment the candidate catalog lacks; they are "
        "carried at baseline prices in baseline_repriced (no price effect).",
    )
    by_tenant: list[SpendRow]
    by_app: list[SpendRow]
    by_route: list[SpendRow] = Field(description="Each side grouped by its own route id.")
    by_deployment: list[SpendRow]
    by_tier: list[SpendRow]


class LatencyStats(FrozenModel):
    """Predicted latency and SLO attainment of one policy over a set of requests."""

    requests: int = Field(ge=0)
    served: int = Field(ge=0, description="Requests with a predicted latency (routed).")
    p50_us: int | None
    p95_us: int | None
    p99_us: int | None
    slo_met: int = Field(ge=0)
    slo_attainment_pct: float | None = Field(description="slo_met / served x 100.")


class RouteLatency(FrozenModel):
    """Latency of one route id under each policy (None: the route does not exist there)."""

    route_id: str
    baseline: LatencyStats | None
    candidate: LatencyStats | None


class HistogramBucket(FrozenModel):
    """Requests whose predicted latency is <= ``le_ms`` (and above the previous bucket)."""

    le_ms: int | None = Field(description="Upper bound in ms; None is the overflow bucket.")
    baseline: int = Field(ge=0)
    candidate: int = Field(ge=0)


class Latency(FrozenModel):
    """Predicted latency percentiles (nearest-rank, exact) and SLO attainment."""

    baseline: LatencyStats
    candidate: LatencyStats
    by_route: list[RouteLatency]
    histogram: list[HistogramBucket]


class ResidencyViolation(FrozenModel):
    """A request served outside the regions of its residency class."""

    row: int
    request_id: str
    residency_class: str
    deployment_id: str
    region: str


class Residency(FrozenModel):
    """Residency re-checked from the policies' residency classes, not the router's flags."""

    baseline_violations: int = Field(ge=0)
    candidate_violations: int = Field(ge=0)
    baseline_examples: list[ResidencyViolation] = Field(description="First 100, by row.")
    candidate_examples: list[ResidencyViolation] = Field(description="First 100, by row.")


class Frontier(FrozenModel):
    """Share of all requests served by a frontier-tier deployment."""

    baseline: int = Field(ge=0)
    candidate: int = Field(ge=0)
    baseline_pct: float | None
    candidate_pct: float | None
    baseline_limit_pct: float | None = Field(description="Baseline limits.frontierShareMaxPct.")
    candidate_limit_pct: float | None = Field(description="Candidate limits.frontierShareMaxPct.")


class ReasonCount(FrozenModel):
    """Requests not routed to a model, by outcome and reason."""

    outcome: Literal["escalated", "refused"]
    reason: str
    rule: str | None
    target: str | None
    requests: int = Field(ge=0)


class Outcomes(FrozenModel):
    """What one policy did with the requests."""

    routed: int = Field(ge=0)
    escalated: int = Field(ge=0)
    refused: int = Field(ge=0)
    escalation_share_pct: float | None = Field(description="(escalated + refused) / requests.")
    reasons: list[ReasonCount]


class OutcomeDiff(FrozenModel):
    """Escalations and refusals under each policy."""

    baseline: Outcomes
    candidate: Outcomes


class Quality(FrozenModel):
    """Accuracy where quality labels exist, and RouteLLM's performance gap recovered (PGR).

    Measured on the requests that carry both labels and that BOTH policies serve with a model
    (escalated or refused requests have no model answer; their share is reported and gated
    separately). A request is correct under a policy when it goes to a 'small' tier deployment
    and small_model_correct is true, or to a 'mid'/'frontier' one and large_model_correct is
    true. PGR = (acc_policy - acc_small) / (acc_large - acc_small) (Ong et al., 2024).
    """

    labelled: int = Field(ge=0, description="Labelled requests served by both policies.")
    labelled_unserved: int = Field(
        ge=0, description="Labelled requests escalated or refused by at least one policy."
    )
    small_accuracy: float | None = Field(description="Accuracy if all went to the small model.")
    large_accuracy: float | None = Field(description="Accuracy if all went to the large model.")
    baseline_accuracy: float | None
    candidate_accuracy: float | None
    baseline_pgr: float | None
    candidate_pgr: float | None
    baseline_large_share_pct: float | None = Field(
        description="Labelled requests sent above small."
    )
    candidate_large_share_pct: float | None


class GateResult(FrozenModel):
    """One gate: the measured value, the threshold, and whether it held."""

    name: str
    description: str
    comparison: Literal["<=", ">="]
    threshold: float
    value: float | None = Field(description="None when there is no data to measure it on.")
    passed: bool
    source: Literal["file", "flag", "default", "policy"]


class Verdict(FrozenModel):
    """All gates together: pass only if every enabled gate passed."""

    passed: bool
    gates: list[GateResult]


class TrafficWindow(FrozenModel):
    """When the replayed requests were made: the span spend is projected from."""

    first: str = Field(description="Time of the earliest request, RFC 3339 UTC.")
    last: str = Field(description="Time of the latest request, RFC 3339 UTC.")
    duration_ms: int = Field(ge=0, description="last - first, milliseconds.")


class TenantBudget(FrozenModel):
    """One tenant's spend in the window, projected to a month, against its monthlyBudget."""

    tenant: str
    baseline_monthly_budget: int | None = Field(
        description="The baseline policy's monthlyBudget for the tenant, micro-USD (None: none)."
    )
    candidate_monthly_budget: int | None = Field(
        description="The candidate policy's monthlyBudget, micro-USD (None: none)."
    )
    baseline: int = Field(description="Baseline spend over the window, micro-USD.")
    candidate: int = Field(description="Candidate spend over the window, micro-USD.")
    baseline_month: int | None = Field(
        description="Baseline spend x month_ms / duration_ms, micro-USD rounded half-to-even "
        "(None: a window of zero length)."
    )
    candidate_month: int | None
    baseline_budget_pct: float | None = Field(
        description="baseline_month / baseline_monthly_budget x 100."
    )
    candidate_budget_pct: float | None = Field(
        description="candidate_month / candidate_monthly_budget x 100."
    )


RouteAttention = Literal["no_traffic", "slo_below_target", "unanswered_high", "unanswered_rise"]


class RouteReview(FrozenModel):
    """One route of one policy, as a reviewer reads it (every route, traffic or not)."""

    route_id: str
    side: Literal["baseline", "candidate"]
    requests: int = Field(ge=0, description="Requests this policy matched to the route.")
    slo_ms: int = Field(description="The route's latency SLO, milliseconds.")
    slo_attainment_pct: float | None = Field(description="Answered requests within the SLO.")
    unanswered: int = Field(
        ge=0, description="Requests of the route no model answered (escalated or refused)."
    )
    unanswered_pct: float | None = Field(description="unanswered / requests x 100.")
    attention: list[RouteAttention] = Field(
        description="Why a reviewer should look: no_traffic (matched 0 requests), "
        "slo_below_target (attainment under slo_target_pct), unanswered_high (unanswered "
        "share over unanswered_max_pct), unanswered_rise (up by unanswered_rise_points or "
        "more against the baseline's route of the same id)."
    )


class Review(FrozenModel):
    """What a finance or risk reviewer reads first: window, budgets, routes to look at."""

    window: TrafficWindow | None = Field(description="None when the traffic is empty.")
    month_ms: int = Field(description="The month spend is projected to: 365.2425 / 12 days.")
    tenants: list[TenantBudget] = Field(
        description="Every tenant of either policy or of the traffic, by id."
    )
    routes: list[RouteReview] = Field(description="Baseline routes, then candidate routes.")
    slo_target_pct: float = Field(description="A route's SLO attainment below this is flagged.")
    unanswered_max_pct: float = Field(description="A route's unanswered share above is flagged.")
    unanswered_rise_points: float = Field(
        description="A rise of the unanswered share by this many points is flagged."
    )


class SimulationResult(FrozenModel):
    """The diff of one traffic replay under a baseline and a candidate policy, with a verdict."""

    api_version: Literal["nexuscore.io/v1"] = "nexuscore.io/v1"
    kind: Literal["SimulationResult"] = "SimulationResult"
    baseline: PolicyRef
    candidate: PolicyRef
    traffic: TrafficRef
    catalog_changed: bool
    catalog_changes: list[str] = Field(description="Deployments added, removed or changed.")
    decisions: DecisionChanges
    spend: Spend
    latency: Latency
    residency: Residency
    frontier: Frontier
    outcomes: OutcomeDiff
    quality: Quality | None = Field(description="None when no request carries both labels.")
    verdict: Verdict
    review: Review | None = Field(
        default=None,
        description="Traffic window, spend against monthly budgets, routes to look at.",
    )
    engine: Literal["numpy", "spark"] = Field(
        default="numpy",
        description="The engine that replayed the traffic; every other field is the same "
        "whichever engine ran (docs/scale.md).",
    )
