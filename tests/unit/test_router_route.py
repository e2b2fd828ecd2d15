"""The reference router on the Nebula policies: every branch of the decision, and its record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nexusctl.errors import InputError
from nexusctl.policy import RoutingRequest, load_policy
from nexusctl.policy.loader import LoadedPolicy
from nexusctl.replay import decision_schema
from nexusctl.router import Decision, compile_plan, route
from nexusctl.router.plan import build_plan
from tests.conftest import ASSETS, POLICIES

REQUESTS = ASSETS / "router"


def policy(name: str) -> LoadedPolicy:
    return load_policy(POLICIES / f"{name}.yaml")


def request(name: str, **changes: object) -> RoutingRequest:
    data = json.loads((REQUESTS / f"{name}.json").read_text())
    return RoutingRequest.model_validate(data).model_copy(update=changes)


def fate(decision: Decision, deployment_id: str) -> tuple[str, str | None]:
    for c in decision.candidates:
        if c.deployment_id == deployment_id:
            return c.status, c.reason
    raise AssertionError(f"{deployment_id} is not a candidate")


def test_router_matched_route_and_complexity_raise() -> None:
    d = route(policy("retail-chat"), request("retail-advice-complex"), 4)
    assert d.route_id == "advice"
    assert d.outcome == "routed"
    assert d.tier_floor == "mid"
    assert d.tier_floor_raised_by == ("complexity>=0.6",)
    assert d.tier == "mid"
    assert fate(d, "azure-eu-gpt4o-mini") == ("eliminated", "BELOW_TIER_FLOOR")
    assert fate(d, "azure-eu-gpt5") == ("considered", "HIGHER_TIER")


def test_router_complexity_below_threshold_stays_small() -> None:
    d = route(policy("retail-chat"), request("retail-advice-complex", complexity=0.3), 4)
    assert d.tier_floor is None
    assert d.tier_floor_raised_by == ()
    assert d.tier == "small"


def test_router_route_min_tier_recorded() -> None:
    d = route(policy("credit-underwriting"), request("credit-memo-high-risk"), 2)
    assert d.route_id == "memo"
    assert d.tier_floor_raised_by == ("route.minTier",)


def test_router_residency_elimination() -> None:
    d = route(policy("retail-chat"), request("retail-faq-ca"), 1)
    assert d.region == "ca-central"
    assert d.deployment_id == "bedrock-ca-llama3-8b"
    assert fate(d, "azure-eu-gpt4o-mini") == ("eliminated", "RESIDENCY_REGION")
    assert fate(d, "mistral-eu-small") == ("eliminated", "RESIDENCY_REGION")


def test_router_unknown_residency_class_eliminates_everything() -> None:
    d = route(policy("retail-chat"), request("retail-unknown-residency"), 1)
    assert d.deployment_id is None
    assert d.reason == "NO_ELIGIBLE_DEPLOYMENT"
    assert d.outcome == "escalated"  # retail's nothing-eligible rule escalates
    assert d.escalation_target == "retail-ops-review"
    statics = {"TIER_NOT_ALLOWED", "UNKNOWN_RESIDENCY_CLASS"}
    assert {c.reason for c in d.candidates} == statics


def test_router_cost_cap_elimination_and_cap_respected() -> None:
    d = route(policy("retail-chat"), request("retail-faq-long"), 1)
    status, reason = fate(d, "bedrock-eu-haiku")
    assert (status, reason) == ("eliminated", "OVER_COST_CAP")
    haiku = next(c for c in d.candidates if c.deployment_id == "bedrock-eu-haiku")
    assert haiku.predicted_cost_pusd is not None
    assert d.max_cost_pusd is not None
    assert haiku.predicted_cost_pusd > d.max_cost_pusd
    assert d.predicted_cost_pusd is not None
    assert d.predicted_cost_pusd <= d.max_cost_pusd
    assert d.max_cost_pusd == 2000 * 10**6  # maxCost 2000 micro-USD in pico-USD


def test_router_slo_miss_takes_fastest_in_tier() -> None:
    d = route(policy("retail-chat"), request("retail-faq-long"), 1)
    assert d.slo_met is False
    assert d.outcome == "routed"  # the SLO is soft: a miss is flagged, not refused
    eligible = [c for c in d.candidates if c.status != "eliminated"]
    assert d.predicted_latency_us == min(c.predicted_latency_us or 0 for c in eligible)
    assert fate(d, "azure-eu-gpt4o-mini") == ("considered", "NOT_FASTEST")


def test_router_slo_miss_onprem_under_load() -> None:
    d = route(policy("credit-underwriting"), request("credit-bureau-file-long"), 32)
    assert d.deployment_id == "onprem-llama2-70b"
    assert d.slo_met is False
    assert d.predicted_latency_us is not None
    assert d.predicted_latency_us > d.slo_us


def test_router_speculation_on_at_low_load() -> None:
    d = route(policy("credit-underwriting"), request("credit-bureau-file"), 1)
    assert d.route_id == "bureau-file"
    assert d.deployment_id == "onprem-llama2-70b"
    assert d.decode_strategy == "speculative"
    assert d.draft_tokens > 0
    assert d.slo_met is True
    # every hosted provider is denied by the restricted-data guardrail
    assert fate(d, "bedrock-eu-sonnet") == ("eliminated", "GUARDRAIL:restricted-onprem-only")


def test_router_speculation_off_under_load() -> None:
    d = route(policy("credit-underwriting"), request("credit-bureau-file"), 32)
    assert d.deployment_id == "onprem-llama2-70b"
    assert d.draft_tokens == 0
    assert d.decode_strategy == "standard"


def test_router_escalation_keeps_the_deployment() -> None:
    d = route(policy("credit-underwriting"), request("credit-memo-high-risk"), 2)
    assert d.outcome == "escalated"
    assert d.escalation_rule == "high-risk-application"
    assert d.escalation_target == "credit-underwriters"
    assert d.reason == "MATCHED_ESCALATION_RULE"
    assert d.deployment_id is not None


def test_router_low_confidence_escalates() -> None:
    req = request("credit-memo-high-risk", risk_class="low", confidence=0.2)
    d = route(policy("credit-underwriting"), req, 2)
    assert d.escalation_rule == "low-confidence"
    assert d.reason == "LOW_CONFIDENCE"
    # the rule is attribute-free: a confident request is simply routed
    confident = route(policy("credit-underwriting"), req.model_copy(update={"confidence": 0.9}), 2)
    assert confident.outcome == "routed"


def test_router_refusal_nothing_eligible() -> None:
    d = route(policy("code-assistant"), request("code-audio-nothing-eligible"), 1)
    assert d.outcome == "refused"
    assert d.reason == "NO_ELIGIBLE_DEPLOYMENT"
    assert d.escalation_rule == "nothing-eligible"
    assert d.escalation_target == "devex-oncall"
    assert d.deployment_id is None
    assert d.predicted_cost_pusd is None
    assert d.draft_tokens == 0
    assert fate(d, "azure-eu-gpt4o-mini") == ("eliminated", "MISSING_CAPABILITY:audio")


def test_router_refusal_without_rule(tmp_path: Path) -> None:
    text = (POLICIES / "code-assistant.yaml").read_text()
    cut = text.index("  escalation:")
    (tmp_path / "p.yaml").write_text(text[:cut])
    (tmp_path / "catalog.yaml").write_text((POLICIES / "catalog.yaml").read_text())
    prices = tmp_path / "prices"
    prices.mkdir()
    for f in (POLICIES / "prices").iterdir():
        (prices / f.name).write_bytes(f.read_bytes())
    d = route(load_policy(tmp_path / "p.yaml"), request("code-audio-nothing-eligible"), 1)
    assert d.outcome == "refused"
    assert d.reason == "NO_ELIGIBLE_DEPLOYMENT"
    assert d.escalation_rule is None


def test_router_refusing_trigger_refuses_even_if_eligible() -> None:
    loaded = policy("credit-underwriting")
    spec = loaded.policy.spec
    rules = [
        r.model_copy(update={"action": "refuse"}) if r.id == "high-risk-application" else r
        for r in spec.escalation
    ]
    changed = loaded.policy.model_copy(
        update={"spec": spec.model_copy(update={"escalation": rules})}
    )
    d = route((changed, loaded.catalog.catalog), request("credit-memo-high-risk"), 2)
    assert d.outcome == "refused"
    assert d.reason == "MATCHED_ESCALATION_RULE"
    assert d.deployment_id is None
    assert all(c.status != "chosen" for c in d.candidates)


def test_router_candidates_cover_catalog_sorted() -> None:
    loaded = policy("retail-chat")
    d = route(loaded, request("retail-advice-complex"), 4)
    ids = [c.deployment_id for c in d.candidates]
    assert ids == sorted(dep.id for dep in loaded.catalog.catalog.spec.deployments)
    assert sum(c.status == "chosen" for c in d.candidates) == 1


def test_router_tie_break_by_deployment_id() -> None:
    loaded = policy("retail-chat")
    catalog = loaded.catalog.catalog
    req = request("retail-faq-ca", residency_class="eu")
    original = route(loaded, req, 1)
    assert original.deployment_id is not None
    chosen = catalog.deployment(original.deployment_id)
    assert chosen is not None
    twin = chosen.model_copy(update={"id": "aaa-twin"})  # same cost, same latency
    doubled = catalog.model_copy(
        update={
            "spec": catalog.spec.model_copy(
                update={"deployments": [*catalog.spec.deployments, twin]}
            )
        }
    )
    d = route((loaded.policy, doubled), req, 1)
    assert d.deployment_id == "aaa-twin"  # the lower id wins the tie
    assert fate(d, original.deployment_id) == ("considered", "NOT_CHEAPEST")


def test_router_deterministic_and_revalidates() -> None:
    loaded = policy("retail-chat")
    a = route(loaded, request("retail-advice-complex"), 4)
    b = route(load_policy(POLICIES / "retail-chat.yaml"), request("retail-advice-complex"), 4)
    assert a == b
    again = Decision.model_validate_json(a.model_dump_json())
    assert again == a
    assert again.candidates == a.candidates


def test_router_decision_row_matches_schema() -> None:
    d = route(policy("retail-chat"), request("retail-advice-complex"), 4)
    row = d.decision_row(7)
    assert list(row) == decision_schema().names
    assert row["row"] == 7
    assert row["request_id"] == "retail-advice-complex"


def test_router_rejects_bad_load_and_cached_tokens() -> None:
    loaded = policy("retail-chat")
    with pytest.raises(InputError, match="load must be at least 1"):
        route(loaded, request("retail-faq-ca"), 0)
    with pytest.raises(InputError, match="cachedInputTokens"):
        route(loaded, request("retail-faq-ca", cached_input_tokens=10_000), 1)


def test_router_plan_cache_by_identity() -> None:
    loaded = policy("retail-chat")
    first = compile_plan(loaded.policy, loaded.catalog.catalog)
    assert compile_plan(loaded.policy, loaded.catalog.catalog) is first
    other = load_policy(POLICIES / "retail-chat.yaml")
    assert compile_plan(other.policy, other.catalog.catalog) is not first
    assert build_plan(loaded.policy, loaded.catalog.catalog).routes == first.routes
