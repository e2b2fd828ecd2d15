"""A policy compiled for routing: the per-policy structures both engines share.

Compiling does every lookup that does not depend on the request once: deployments sorted by
id with their integer decode factors, each route's static eliminations (pool, tiers), tier
floors, residency region sets, guardrail deny masks and the escalation rules in scope.
Plans are cached by the identity of the (policy, catalog) objects.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from nexusctl.decode.factors import DecodeFactors, decode_factors
from nexusctl.policy.catalog import ModelCatalog
from nexusctl.policy.loader import LoadedPolicy
from nexusctl.policy.request import RoutingRequest
from nexusctl.policy.routing import EscalationRule, Match, Route, RoutingPolicy
from nexusctl.policy.vocabulary import TIER_ORDER, Tier
from nexusctl.router import reasons
from nexusctl.router.decision import Candidate

TIER_RANK: dict[str, int] = {tier: rank for rank, tier in enumerate(TIER_ORDER)}


@dataclass(frozen=True, slots=True)
class CompiledMatch:
    """A Match with its lists turned into sets (None = any value)."""

    tenants: frozenset[str] | None
    apps: frozenset[str] | None
    use_cases: frozenset[str] | None
    data_classes: frozenset[str] | None
    residency_classes: frozenset[str] | None
    risk_classes: frozenset[str] | None
    capabilities: frozenset[str] | None
    input_min: int | None
    input_max: int | None
    complexity_min: float | None
    complexity_max: float | None

    def matches(self, request: RoutingRequest) -> bool:
        """Return True when every present condition holds for ``request``."""
        if self.tenants is not None and request.tenant not in self.tenants:
            return False
        if self.apps is not None and request.app not in self.apps:
            return False
        if self.use_cases is not None and request.use_case not in self.use_cases:
            return False
        if self.data_classes is not None and request.data_class not in self.data_classes:
            return False
        if (
            self.residency_classes is not None
            and request.residency_class not in self.residency_classes
        ):
            return False
        if self.risk_classes is not None and request.risk_class not in self.risk_classes:
            return False
        if self.capabilities is not None and not self.capabilities.issubset(request.capabilities):
            return False
        if self.input_min is not None and request.input_tokens < self.input_min:
            return False
        if self.input_max is not None and request.input_tokens > self.input_max:
            return False
        if self.complexity_min is not None and request.complexity < self.complexity_min:
            return False
        return not (self.complexity_max is not None and request.complexity > self.complexity_max)


def compile_match(match: Match | None) -> CompiledMatch | None:
    """Compile a Match (None stays None: matches everything)."""
    if match is None:
        return None

    def _set(values: list[str] | None) -> frozenset[str] | None:
        return None if values is None else frozenset(values)

    return CompiledMatch(
        tenants=_set(match.tenants),
        apps=_set(match.apps),
        use_cases=_set(match.use_cases),
        data_classes=_set(list(match.data_classes) if match.data_classes is not None else None),
        residency_classes=_set(match.residency_classes),
        risk_classes=_set(list(match.risk_classes) if match.risk_classes is not None else None),
        capabilities=_set(list(match.capabilities) if match.capabilities is not None else None),
        input_min=match.input_tokens.min if match.input_tokens else None,
        input_max=match.input_tokens.max if match.input_tokens else None,
        complexity_min=match.complexity.min if match.complexity else None,
        complexity_max=match.complexity.max if match.complexity else None,
    )


@dataclass(frozen=True, slots=True)
class DeploymentPlan:
    """A deployment with what the router reads on every request."""

    index: int
    id: str
    tier: Tier
    tier_rank: int
    provider: str
    region: str
    context_window: int
    capabilities: frozenset[str]
    factors: DecodeFactors
    speculative: bool


@dataclass(frozen=True, slots=True)
class GuardrailPlan:
    """A guardrail: when it applies, and which deployments (by plan index) it denies."""

    id: str
    reason: str
    when: CompiledMatch | None
    denies: tuple[bool, ...]


@dataclass(frozen=True, slots=True)
class TriggerPlan:
    """An escalation rule triggered by attributes (``when``) or low confidence."""

    id: str
    action: str
    target: str
    reason_code: str
    when: CompiledMatch | None
    confidence_below: float | None

    def fires(self, request: RoutingRequest) -> bool:
        """Return True when this rule applies to ``request``."""
        if self.when is not None:
            return self.when.matches(request)
        return request.confidence is not None and request.confidence < (
            self.confidence_below or 0.0
        )


@dataclass(frozen=True, slots=True)
class NoEligiblePlan:
    """The rule applied when nothing is eligible."""

    id: str
    action: str
    target: str


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """A route compiled: match, limits, tier floor rules and static eliminations."""

    index: int
    id: str
    match: CompiledMatch | None
    slo_us: int
    cap_pusd: int | None
    min_tier_rank: int
    thresholds: tuple[tuple[float, int], ...]  # (at_least, tier rank), in policy order
    static_reasons: tuple[str | None, ...]  # per deployment plan index
    triggers: tuple[TriggerPlan, ...]
    no_eligible: NoEligiblePlan | None

    def tier_floor(self, complexity: float) -> tuple[int, tuple[str, ...]]:
        """Return the floor's tier rank (-1: none) and what raised it."""
        floor = self.min_tier_rank
        raised: list[str] = ["route.minTier"] if floor >= 0 else []
        for at_least, rank in self.thresholds:
            if complexity >= at_least and rank > floor:
                floor = rank
                raised = [f"complexity>={at_least:g}"]
        return floor, tuple(raised)


StaticFates = tuple[tuple[Candidate | None, ...], tuple[tuple[int, DeploymentPlan], ...]]


@dataclass(frozen=True, slots=True)
class RouterPlan:
    """A (policy, catalog) pair compiled for routing."""

    policy: RoutingPolicy
    catalog: ModelCatalog
    deployments: tuple[DeploymentPlan, ...]
    routes: tuple[RoutePlan, ...]  # policy order, the default last
    residency: dict[str, frozenset[str]]
    guardrails: tuple[GuardrailPlan, ...]
    #: (route index, residency class) -> static fates (see ``static_fates``).
    _static: dict[tuple[int, str, int, int], StaticFates] = field(default_factory=dict)

    def active_guards(self, request: RoutingRequest) -> int:
        """Return the bit set of the guardrails that apply to ``request`` (bit i: guardrail i)."""
        mask = 0
        for bit, guard in enumerate(self.guardrails):
            if guard.when is None or guard.when.matches(request):
                mask |= 1 << bit
        return mask

    def static_fates(
        self, route: RoutePlan, residency_class: str, guards: int, floor: int
    ) -> StaticFates:
        """Return the fates that depend only on route, residency class, guardrails and floor.

        ``template`` has one slot per deployment (id order): the shared, immutable Candidate
        of a deployment eliminated by the route's pool/tiers/pricing, the residency class, an
        applicable guardrail (``guards``, from ``active_guards``) or the tier floor, else None;
        ``survivors`` lists the (slot, deployment) pairs whose capabilities, context window
        and cost remain to be checked. Cached: these combinations are few.
        """
        key = (route.index, residency_class, guards, floor)
        fates = self._static.get(key)
        if fates is None:
            regions = self.residency.get(residency_class)
            template: list[Candidate | None] = []
            survivors = []
            for dep in self.deployments:
                reason = route.static_reasons[dep.index]
                if reason is None:
                    if regions is None:
                        reason = reasons.UNKNOWN_RESIDENCY_CLASS
                    elif dep.region not in regions:
                        reason = reasons.RESIDENCY_REGION
                if reason is None:
                    for bit, guard in enumerate(self.guardrails):
                        if guards >> bit & 1 and guard.denies[dep.index]:
                            reason = f"{reasons.GUARDRAIL}:{guard.id}"
                            break
                if reason is None and dep.tier_rank < floor:
                    reason = reasons.BELOW_TIER_FLOOR
                if reason is None:
                    survivors.append((dep.index, dep))
                    template.append(None)
                else:
                    template.append(Candidate(dep.id, dep.tier, "eliminated", reason))
            fates = (tuple(template), tuple(survivors))
            if len(self._static) < 4096:  # bounded: residency classes come from requests
                self._static[key] = fates
        return fates

    def match_route(self, request: RoutingRequest) -> RoutePlan:
        """Return the first route whose match holds (the default when none does)."""
        for route in self.routes:
            if route.match is None or route.match.matches(request):
                return route
        return self.routes[-1]


def _rule_in_scope(rule: EscalationRule, route_id: str) -> bool:
    return rule.routes is None or route_id in rule.routes


def _compile_route(
    index: int, route: Route, policy: RoutingPolicy, deps: tuple[DeploymentPlan, ...]
) -> RoutePlan:
    allowed = {TIER_RANK[t] for t in route.tiers}
    pool = set(route.deployments) if route.deployments is not None else None
    static: list[str | None] = []
    for dep in deps:
        if pool is not None and dep.id not in pool:
            static.append(reasons.NOT_IN_ROUTE_POOL)
        elif dep.tier_rank not in allowed:
            static.append(reasons.TIER_NOT_ALLOWED)
        elif dep.factors.pricing_kind == "none":
            static.append(reasons.NO_PRICING)
        else:
            static.append(None)
    triggers = []
    no_eligible = None
    for rule in policy.spec.escalation:
        if not _rule_in_scope(rule, route.id):
            continue
        if rule.on_no_eligible:
            if no_eligible is None:
                no_eligible = NoEligiblePlan(rule.id, rule.action, rule.target)
            continue
        code = (
            reasons.LOW_CONFIDENCE
            if rule.confidence_below is not None
            else reasons.MATCHED_ESCALATION_RULE
        )
        triggers.append(
            TriggerPlan(
                rule.id,
                rule.action,
                rule.target,
                code,
                compile_match(rule.when),
                rule.confidence_below,
            )
        )
    return RoutePlan(
        index=index,
        id=route.id,
        match=compile_match(route.match) if index < len(policy.spec.routes) else None,
        slo_us=route.slo_ms * 1000,
        cap_pusd=route.max_cost * 1_000_000 if route.max_cost is not None else None,
        min_tier_rank=TIER_RANK[route.min_tier] if route.min_tier is not None else -1,
        thresholds=tuple((t.at_least, TIER_RANK[t.min_tier]) for t in route.complexity_thresholds),
        static_reasons=tuple(static),
        triggers=tuple(triggers),
        no_eligible=no_eligible,
    )


def build_plan(policy: RoutingPolicy, catalog: ModelCatalog) -> RouterPlan:
    """Compile ``policy`` over ``catalog`` (no caching; see ``compile_plan``)."""
    ordered = sorted(catalog.spec.deployments, key=lambda d: d.id)
    deps = tuple(
        DeploymentPlan(
            index=i,
            id=d.id,
            tier=d.tier,
            tier_rank=TIER_RANK[d.tier],
            provider=d.provider,
            region=d.region,
            context_window=d.context_window,
            capabilities=frozenset(d.capabilities),
            factors=decode_factors(d),
            speculative=d.speculative is not None,
        )
        for i, d in enumerate(ordered)
    )
    routes = tuple(
        _compile_route(i, r, policy, deps)
        for i, r in enumerate([*policy.spec.routes, policy.spec.default])
    )
    guardrails = tuple(
        GuardrailPlan(
            id=g.id,
            reason=g.description or g.id,
            when=compile_match(g.when),
            denies=tuple(g.denies(d) for d in ordered),
        )
        for g in policy.spec.guardrails
    )
    residency = {rc.id: frozenset(rc.regions) for rc in policy.spec.residency_classes}
    return RouterPlan(policy, catalog, deps, routes, residency, guardrails)


_CACHE: OrderedDict[tuple[int, int], RouterPlan] = OrderedDict()
_CACHE_SIZE = 64


def compile_plan(policy: RoutingPolicy, catalog: ModelCatalog) -> RouterPlan:
    """Return the compiled plan for (policy, catalog), cached by object identity.

    The cache holds the objects themselves, so an id is never reused while cached.
    """
    key = (id(policy), id(catalog))
    plan = _CACHE.get(key)
    if plan is not None and plan.policy is policy and plan.catalog is catalog:
        _CACHE.move_to_end(key)
        return plan
    plan = build_plan(policy, catalog)
    _CACHE[key] = plan
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return plan


PlanSource = LoadedPolicy | tuple[RoutingPolicy, ModelCatalog] | RouterPlan


def plan_for(source: PlanSource) -> RouterPlan:
    """Return the plan for a LoadedPolicy, a (policy, catalog) pair or a plan."""
    if isinstance(source, RouterPlan):
        return source
    if isinstance(source, LoadedPolicy):
        return compile_plan(source.policy, source.catalog.catalog)
    policy, catalog = source
    return compile_plan(policy, catalog)
