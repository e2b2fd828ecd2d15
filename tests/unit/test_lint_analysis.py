"""Static reasoning behind the rules: match implication, pools, reference cost and latency."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusctl.lint.analysis import (
    allowed_tiers,
    best_latency_us,
    chain_paths,
    cost_pusd,
    implies,
    is_catch_all,
    receiving_classes,
    reference_input,
    route_pool,
    usd,
)
from nexusctl.policy.loader import load_policy
from nexusctl.policy.routing import IntRange, Match, Route, ScoreRange

POLICIES = Path(__file__).resolve().parent.parent.parent / "policies" / "nebula"


@pytest.mark.parametrize(
    ("narrow", "broad", "expected"),
    [
        (Match(use_cases=["faq"]), None, True),
        (None, Match(use_cases=["faq"]), False),
        (Match(use_cases=["faq"], risk_classes=["high"]), Match(use_cases=["faq", "x"]), True),
        (Match(use_cases=["faq", "other"]), Match(use_cases=["faq"]), False),
        (Match(capabilities=["vision", "tools"]), Match(capabilities=["vision"]), True),
        (Match(capabilities=["vision"]), Match(capabilities=["vision", "tools"]), False),
        (Match(), Match(data_classes=["public", "internal", "confidential", "restricted"]), True),
        (Match(), Match(risk_classes=["low", "medium"]), False),
        (Match(input_tokens=IntRange(min=10, max=20)), Match(input_tokens=IntRange(max=20)), True),
        (Match(input_tokens=IntRange(min=10)), Match(input_tokens=IntRange(max=20)), False),
        (Match(complexity=ScoreRange(min=0.5)), Match(complexity=ScoreRange(min=0.4)), True),
        (Match(complexity=ScoreRange(min=0.3)), Match(complexity=ScoreRange(min=0.4)), False),
        (Match(use_cases=[]), Match(tenants=["a"]), False),
    ],
)
def test_implies(narrow: Match | None, broad: Match | None, expected: bool) -> None:
    assert implies(narrow, broad) is expected


def test_catch_all() -> None:
    assert is_catch_all(None)
    assert is_catch_all(Match())
    assert not is_catch_all(Match(apps=["x"]))


def test_allowed_tiers_respect_the_floor() -> None:
    route = Route(id="r", tiers=["frontier", "small", "mid"], min_tier="mid", slo_ms=1)
    assert allowed_tiers(route) == ["mid", "frontier"]


def test_reference_input_moves_into_the_match_range() -> None:
    long = Route(id="r", tiers=["mid"], slo_ms=1, match=Match(input_tokens=IntRange(min=50_000)))
    short = Route(id="s", tiers=["mid"], slo_ms=1, match=Match(input_tokens=IntRange(max=200)))
    assert reference_input(long) == 50_000
    assert reference_input(short) == 200


def test_costs_are_exact_pico_usd() -> None:
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    catalog = loaded.catalog.catalog
    mini = catalog.deployment("azure-eu-gpt4o-mini")
    onprem = catalog.deployment("onprem-llama2-70b")
    assert mini is not None
    assert onprem is not None
    # 1000 x 165000 + 500 x 660000 micro-USD/Mtok = pico-USD
    assert cost_pusd(mini, 1000, 500) == 495_000_000
    # 8 GPUs x 2.5 USD/h x busy time / 3600 / maxLoad 1, cheapest over the draft lengths:
    # without speculation 15.13 s of busy time; with alpha=0.7, c=0.05 and draft length 2
    # the replica is busy 7.66 s and the extra draft arithmetic still leaves it cheaper.
    plain = 8 * 2_500_000 * (30_000 + 100_000 + 500 * 30_000) // 3600
    assert cost_pusd(onprem, 1000, 500) == 59_973_744_444 < plain == 84_055_555_555
    assert usd(cost_pusd(mini, 1000, 500) or 0) == "$0.000495"


def test_reference_figures_are_the_routers_own_predictions() -> None:
    """Lint's budget rules use the router's decode model, so the two never disagree."""
    from nexusctl.decode import decode_factors, predict

    loaded = load_policy(POLICIES / "retail-chat.yaml")
    for dep in loaded.catalog.catalog.spec.deployments:
        factors = decode_factors(dep)
        if factors.pricing_kind == "none":
            continue
        options = [predict(factors, 1, 1000, 0, 500, 0, g) for g in factors.draft_lengths(1)]
        assert best_latency_us(dep, 1000, 500) == min(latency for _, latency, _ in options)
        assert cost_pusd(dep, 1000, 500) == min(cost for _, _, cost in options)


def test_speculation_shortens_the_best_latency() -> None:
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    onprem = loaded.catalog.catalog.deployment("onprem-llama2-70b")
    assert onprem is not None
    # alpha=0.7, c=0.05: the best gamma gives a speed-up of about 2.35 (Leviathan et al.)
    decode = 500 * 30_000
    sped = best_latency_us(onprem, 1000, 500) - 130_000
    assert 2.3 < decode / sped < 2.4


def test_residency_reach_and_chain_closure() -> None:
    policy = load_policy(POLICIES / "retail-chat.yaml").policy
    assert receiving_classes(policy, 0) == ["eu", "ca"]
    paths = list(chain_paths(policy, "eu-mid"))
    assert paths[-1] == (["eu-mid", "eu-small"], "bedrock-eu-haiku")
    guarded = Route(id="r", tiers=["frontier"], slo_ms=1, match=Match(use_cases=["faq"]))
    loaded = load_policy(POLICIES / "retail-chat.yaml")
    pool = route_pool(policy, loaded.catalog.catalog, guarded, guarded.match)
    assert pool.deployments == ()
    assert pool.guardrails == ("no-frontier-for-public-faq",)
