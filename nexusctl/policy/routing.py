"""RoutingPolicy: the signed, promotable document that decides where each LLM request may go."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from nexusctl.document import API_VERSION, Identifier, Metadata, MicroUsd, Model
from nexusctl.policy.vocabulary import Capability, DataClass, RiskClass, Tier

if TYPE_CHECKING:
    from nexusctl.policy.catalog import Deployment


class IntRange(Model):
    """An inclusive integer range; either bound may be absent."""

    min: int | None = Field(default=None, ge=0, description="Lowest value that matches.")
    max: int | None = Field(default=None, ge=0, description="Highest value that matches.")

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must be <= max")
        return self


class ScoreRange(Model):
    """An inclusive range of a score in [0, 1]; either bound may be absent."""

    min: float | None = Field(default=None, ge=0, le=1, description="Lowest score that matches.")
    max: float | None = Field(default=None, ge=0, le=1, description="Highest score that matches.")

    @model_validator(mode="after")
    def _ordered(self) -> ScoreRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must be <= max")
        return self


class Match(Model):
    """Conditions on request attributes. Every present field must hold; a list is any-of.

    An absent field matches anything. ``capabilities`` matches when the request requires
    all of the listed capabilities.
    """

    tenants: list[Identifier] | None = Field(default=None, description="Any of these tenants.")
    apps: list[Identifier] | None = Field(default=None, description="Any of these apps.")
    use_cases: list[Identifier] | None = Field(default=None, description="Any of these use cases.")
    data_classes: list[DataClass] | None = Field(
        default=None, description="Any of these data classes."
    )
    residency_classes: list[Identifier] | None = Field(
        default=None, description="Any of these residency classes (ids in residencyClasses)."
    )
    risk_classes: list[RiskClass] | None = Field(
        default=None, description="Any of these risk classes."
    )
    capabilities: list[Capability] | None = Field(
        default=None, description="The request requires all of these capabilities."
    )
    input_tokens: IntRange | None = Field(
        default=None, description="Input token count (cached included) in this range."
    )
    complexity: ScoreRange | None = Field(
        default=None, description="Complexity score in this range."
    )


class ComplexityThreshold(Model):
    """A complexity score at or above ``at_least`` raises the tier floor to ``min_tier``."""

    at_least: float = Field(
        ge=0, le=1, description="Complexity score at or above which it applies."
    )
    min_tier: Tier = Field(description="The tier floor it raises to.")


class Route(Model):
    """Where a class of requests may go and under which limits."""

    id: Identifier
    description: str | None = None
    match: Match | None = Field(
        default=None, description="Conditions; a route without a match catches everything."
    )
    tiers: list[Tier] = Field(min_length=1, description="Tiers this route may use.")
    min_tier: Tier | None = Field(default=None, description="Tier floor before complexity.")
    slo_ms: int = Field(ge=1, description="Latency SLO for the whole response, milliseconds.")
    max_cost: MicroUsd | None = Field(default=None, description="Per-request cost cap, micro-USD.")
    complexity_thresholds: list[ComplexityThreshold] = Field(
        default_factory=list, description="Scores that raise the tier floor; the highest hit wins."
    )
    fallback: Identifier | None = Field(default=None, description="Fallback chain id.")
    deployments: list[Identifier] | None = Field(
        default=None, description="Restrict the pool to these deployments (default: all)."
    )


class DefaultRoute(Route):
    """The route taken when no other matches. It has no match and may not allow 'frontier'."""

    id: Identifier = "default"


class ResidencyClass(Model):
    """A data-residency class and the regions its requests may be served from (hard)."""

    id: Identifier
    regions: list[Identifier] = Field(
        min_length=1, description="Regions (deployment.region) its requests may be served from."
    )
    description: str | None = None


class GuardrailDeny(Model):
    """What a guardrail forbids: any deployment matching one of these is out."""

    providers: list[Identifier] = Field(default_factory=list, description="Providers denied.")
    regions: list[Identifier] = Field(default_factory=list, description="Regions denied.")
    tiers: list[Tier] = Field(default_factory=list, description="Tiers denied.")
    deployments: list[Identifier] = Field(
        default_factory=list, description="Deployment ids denied."
    )


class Guardrail(Model):
    """A boundary no route may cross, e.g. 'restricted data never reaches provider X'.

    ``deny`` lists what is out; ``allowRegions`` / ``allowProviders`` list the only regions /
    providers that stay in. An allow-list is the safer way to write "never leaves the EU": a
    region or provider added to the catalog later is out until someone adds it here, where a
    deny-list would let it in silently.
    """

    id: Identifier
    description: str | None = None
    when: Match | None = Field(default=None, description="Requests it applies to (default: all).")
    deny: GuardrailDeny = Field(
        default_factory=GuardrailDeny, description="Deployments out if any listed value matches."
    )
    allow_regions: list[Identifier] | None = Field(
        default=None,
        min_length=1,
        description="Allow-list: only deployments in these regions stay in (all others out).",
    )
    allow_providers: list[Identifier] | None = Field(
        default=None,
        min_length=1,
        description="Allow-list: only deployments of these providers stay in (all others out).",
    )

    def denies(self, deployment: Deployment) -> bool:
        """True when this guardrail puts ``deployment`` out (whatever the request).

        The one statement of guardrail semantics: any provider, region, tier or deployment id
        on the deny list puts the deployment out, and so does a region or provider missing
        from an allow-list. The router compiles it into per-deployment masks; lint proves
        routes and fallback chains against it.
        """
        deny = self.deny
        return (
            deployment.provider in deny.providers
            or deployment.region in deny.regions
            or deployment.tier in deny.tiers
            or deployment.id in deny.deployments
            or (self.allow_regions is not None and deployment.region not in self.allow_regions)
            or (
                self.allow_providers is not None and deployment.provider not in self.allow_providers
            )
        )


class Limits(Model):
    """Aggregate limits over traffic, enforced by simulation gates and evidence checks."""

    frontier_share_max_pct: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Highest share of requests (percent) the frontier tier may serve.",
    )


class Tenant(Model):
    """A tenant that may send traffic, with its budget."""

    id: Identifier
    monthly_budget: MicroUsd | None = Field(default=None, description="Micro-USD per month.")


class FallbackChain(Model):
    """Deployments tried in order when the chosen one fails at run time."""

    id: Identifier
    deployments: list[Identifier] = Field(
        min_length=1, description="Deployment ids, tried in this order."
    )
    then: Identifier | None = Field(default=None, description="Another chain to continue with.")


class EscalationRule(Model):
    """When to hand a request to a human (or refuse it), and why.

    Exactly one trigger: ``when`` (request attributes), ``confidence_below`` (the caller's
    confidence in its complexity score) or ``on_no_eligible`` (nothing may serve it).
    """

    id: Identifier
    reason: str = Field(min_length=1, description="Why; recorded in every decision it triggers.")
    action: Literal["escalate", "refuse"] = Field(
        default="escalate",
        description="escalate: flag for review (a deployment may still answer); refuse: no answer.",
    )
    target: str = Field(default="human-review", description="Queue or team that reviews it.")
    routes: list[Identifier] | None = Field(default=None, description="Limit to these routes.")
    when: Match | None = Field(default=None, description="Trigger: requests matching this.")
    confidence_below: float | None = Field(
        default=None, gt=0, le=1, description="Trigger: caller confidence below this value."
    )
    on_no_eligible: bool = Field(
        default=False, description="Trigger: no deployment may serve the request."
    )

    @model_validator(mode="after")
    def _one_trigger(self) -> EscalationRule:
        triggers = [self.when is not None, self.confidence_below is not None, self.on_no_eligible]
        if sum(triggers) != 1:
            raise ValueError("set exactly one of when, confidenceBelow, onNoEligible")
        return self


class Suppression(Model):
    """An explicit, justified exception to a lint rule."""

    rule: str = Field(pattern=r"^NXL\d{3}$", description="Lint rule id, e.g. NXL009.")
    reason: str = Field(min_length=10, description="Why this finding is accepted.")
    target: str | None = Field(default=None, description="Route/deployment id it applies to.")
    expires: dt.date | None = Field(default=None, description="After this date it lapses.")


class PolicySpec(Model):
    """The body of a RoutingPolicy."""

    catalog: str = Field(
        description="Path to the ModelCatalog, relative to this file; it may cross folders "
        "inside the repository root (docs/repository-root.md), never leave it or pass a symlink."
    )
    tenants: list[Tenant] = Field(default_factory=list)
    residency_classes: list[ResidencyClass] = Field(default_factory=list)
    guardrails: list[Guardrail] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list, description="Ordered; first match wins.")
    default: DefaultRoute
    fallback_chains: list[FallbackChain] = Field(default_factory=list)
    escalation: list[EscalationRule] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    suppressions: list[Suppression] = Field(default_factory=list)


class RoutingPolicy(Model):
    """A versioned routing policy: routes, boundaries, budgets and escalation."""

    api_version: Literal["nexuscore.io/v1"] = Field(default=API_VERSION)
    kind: Literal["RoutingPolicy"] = "RoutingPolicy"
    metadata: Metadata
    spec: PolicySpec

    def route_by_id(self, route_id: str) -> Route | None:
        """Return the route (or the default) with this id, or None."""
        if route_id == self.spec.default.id:
            return self.spec.default
        return next((r for r in self.spec.routes if r.id == route_id), None)
