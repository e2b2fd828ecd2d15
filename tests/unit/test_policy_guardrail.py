"""Guardrail deny semantics: one rule on the model, used by the router and by lint."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusctl.lint.analysis import route_pool
from nexusctl.policy.loader import load_policy
from nexusctl.policy.routing import Guardrail
from nexusctl.router.plan import build_plan

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "tests" / "assets" / "lint" / "NXL015-guardrail-escape" / "policy.yaml"


@pytest.mark.parametrize(
    ("deny", "denied"),
    [
        ({"providers": ["alpha"]}, {"small-eu", "mid-eu"}),
        ({"regions": ["us-east"]}, {"small-us", "frontier-us"}),
        ({"tiers": ["frontier"]}, {"frontier-us"}),
        ({"deployments": ["small-us"]}, {"small-us"}),
        ({"providers": ["beta"], "tiers": ["small"]}, {"small-eu", "small-us", "frontier-us"}),
        ({}, set()),
    ],
)
def test_any_listed_attribute_denies(deny: dict[str, list[str]], denied: set[str]) -> None:
    catalog = load_policy(POLICY).catalog.catalog
    guardrail = Guardrail.model_validate({"id": "g", "deny": deny})
    assert {d.id for d in catalog.spec.deployments if guardrail.denies(d)} == denied


def test_router_masks_and_lint_pools_follow_the_model() -> None:
    loaded = load_policy(POLICY)
    policy, catalog = loaded.policy, loaded.catalog.catalog
    unconditional = policy.model_copy(
        update={
            "spec": policy.spec.model_copy(
                update={
                    "guardrails": [
                        g.model_copy(update={"when": None}) for g in policy.spec.guardrails
                    ]
                }
            )
        }
    )
    plan = build_plan(unconditional, catalog)
    (guard,) = unconditional.spec.guardrails
    masked = {d.id for d in plan.deployments if plan.guardrails[0].denies[d.index]}
    assert (
        masked
        == {d.id for d in catalog.spec.deployments if guard.denies(d)}
        == {
            "small-eu",
            "mid-eu",
        }
    )
    pool = route_pool(unconditional, catalog, unconditional.spec.default, None)
    assert not {d.id for d in pool.deployments} & masked
    assert pool.guardrails == (guard.id,)


@pytest.mark.parametrize(
    ("guardrail", "denied"),
    [
        ({"allowRegions": ["eu-west"]}, {"small-us", "frontier-us"}),
        ({"allowProviders": ["alpha", "gamma"]}, {"frontier-us"}),
        (
            {"allowRegions": ["eu-west"], "allowProviders": ["gamma"]},
            {"small-eu", "mid-eu", "small-us", "frontier-us"},
        ),
        (
            {"allowRegions": ["eu-west"], "deny": {"tiers": ["mid"]}},
            {"mid-eu", "small-us", "frontier-us"},
        ),
    ],
)
def test_allow_lists_put_everything_unlisted_out(
    guardrail: dict[str, object], denied: set[str]
) -> None:
    catalog = load_policy(POLICY).catalog.catalog
    rule = Guardrail.model_validate({"id": "g", **guardrail})
    assert {d.id for d in catalog.spec.deployments if rule.denies(d)} == denied


def test_a_region_added_later_is_out_under_an_allow_list_and_in_under_a_deny_list() -> None:
    catalog = load_policy(POLICY).catalog.catalog
    new = catalog.spec.deployments[0].model_copy(update={"id": "new-ap", "region": "ap-south"})
    allow = Guardrail.model_validate({"id": "eu-only", "allowRegions": ["eu-west"]})
    deny = Guardrail.model_validate({"id": "not-us", "deny": {"regions": ["us-east"]}})
    assert allow.denies(new)
    assert not deny.denies(new)
