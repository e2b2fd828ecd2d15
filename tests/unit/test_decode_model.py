"""The decode-cost model: Leviathan et al. 2023 anchors, integer pricing, the controller."""

from __future__ import annotations

import math

import pytest

from nexusctl.decode import (
    best_draft_length,
    choose_draft,
    compute_overhead,
    decode_factors,
    expected_tokens,
    predict,
    speedup,
)
from nexusctl.policy.catalog import (
    Deployment,
    GpuTimePricing,
    LatencyPoint,
    LatencyProfile,
    SpeculativeDecoding,
    TokenPricing,
)

# The brief's sanity anchors: (alpha, c) -> (best gamma, speed-up).
ANCHORS = [(0.7, 0.05, 6, 2.35), (0.8, 0.02, 11, 3.82), (0.5, 0.2, 1, 1.25)]

# decode_routing.md §1.4: best gamma in 1..20, speed-up and ops factor, to two decimals.
WORKED_TABLE = {
    (0.5, 0.02): (4, 1.79, 2.62),
    (0.5, 0.05): (3, 1.63, 2.21),
    (0.5, 0.10): (2, 1.46, 1.83),
    (0.5, 0.20): (1, 1.25, 1.47),
    (0.6, 0.02): (6, 2.17, 2.93),
    (0.6, 0.05): (4, 1.92, 2.26),
    (0.6, 0.10): (3, 1.67, 1.98),
    (0.6, 0.20): (2, 1.40, 1.73),
    (0.7, 0.02): (8, 2.76, 2.86),
    (0.7, 0.05): (6, 2.35, 2.39),
    (0.7, 0.10): (4, 1.98, 1.95),
    (0.7, 0.20): (3, 1.58, 1.82),
    (0.8, 0.02): (11, 3.82, 2.62),
    (0.8, 0.05): (8, 3.09, 2.17),
    (0.8, 0.10): (6, 2.47, 1.92),
    (0.8, 0.20): (4, 1.87, 1.73),
    (0.9, 0.02): (19, 6.37, 2.32),
    (0.9, 0.05): (13, 4.67, 1.90),
    (0.9, 0.10): (10, 3.43, 1.75),
    (0.9, 0.20): (7, 2.37, 1.65),
}


@pytest.mark.parametrize(("alpha", "c", "gamma", "s"), ANCHORS)
def test_decode_brief_anchors(alpha: float, c: float, gamma: int, s: float) -> None:
    best = best_draft_length(alpha, c, max_gamma=32)
    assert best == gamma
    assert round(speedup(alpha, best, c), 2) == s


@pytest.mark.parametrize(("alpha", "c"), sorted(WORKED_TABLE))
def test_decode_worked_table(alpha: float, c: float) -> None:
    gamma, s, ops = WORKED_TABLE[(alpha, c)]
    best = best_draft_length(alpha, c, max_gamma=20)
    assert best == gamma
    assert f"{speedup(alpha, best, c):.2f}" == f"{s:.2f}"
    assert f"{compute_overhead(alpha, best, c):.2f}" == f"{ops:.2f}"


def test_decode_expected_tokens_eq1() -> None:
    assert expected_tokens(0.5, 4) == pytest.approx(1.9375)  # (1 - 0.5^5) / 0.5
    assert expected_tokens(0.7, 0) == 1.0
    assert compute_overhead(0.7, 0, 0.05) == 1.0
    # The oracle limit 1/(1-alpha) is approached as gamma grows.
    assert expected_tokens(0.8, 200) == pytest.approx(5.0)


def _deployment(**overrides: object) -> Deployment:
    fields: dict[str, object] = {
        "id": "dep",
        "model": "m",
        "provider": "p",
        "region": "r",
        "tier": "mid",
        "context_window": 100_000,
        "pricing": TokenPricing(input=2_000_000, cached_input=500_000, output=8_000_000),
        "latency": LatencyProfile(
            points=[
                LatencyPoint(
                    max_load=4, ttft_base_us=100_000, ttft_per_1k_input_us=50_000, tpot_us=20_000
                ),
                LatencyPoint(
                    max_load=32, ttft_base_us=200_000, ttft_per_1k_input_us=99_999, tpot_us=40_000
                ),
            ]
        ),
    }
    fields.update(overrides)
    return Deployment.model_validate(fields)


def test_decode_latency_point_selection_and_ttft_floor() -> None:
    f = decode_factors(_deployment())
    assert f.point_index(1) == 0
    assert f.point_index(4) == 0
    assert f.point_index(5) == 1
    assert f.point_index(10_000) == 1  # beyond the last point: the last one
    # 99_999 us per 1k x 1_001 tokens = 100_098.999 -> floor 100_098.
    ttft, latency, _ = predict(f, 10, 1_001, 0, 10, 0)
    assert ttft == 200_000 + 100_098
    assert latency == ttft + 10 * 40_000


def test_decode_per_token_cost_exact_pico_usd() -> None:
    f = decode_factors(
        _deployment(
            pricing=TokenPricing(
                input=2_000_000, cached_input=500_000, output=8_000_000, reasoning=9_000_000
            )
        )
    )
    # 1000 uncached x 2e6 + 500 cached x 5e5 + 300 out x 8e6 + 100 reasoning x 9e6 (pico-USD)
    _, latency, cost = predict(f, 1, 1_500, 500, 300, 100)
    assert cost == 1_000 * 2_000_000 + 500 * 500_000 + 300 * 8_000_000 + 100 * 9_000_000
    assert cost == 5_550_000_000  # = USD 0.00555
    # reasoning tokens are decoded: they take time too
    assert latency == 100_000 + (50_000 * 1_500) // 1000 + 400 * 20_000


def test_decode_absent_cached_and_reasoning_prices_fall_back() -> None:
    f = decode_factors(_deployment(pricing=TokenPricing(input=1_000_000, output=3_000_000)))
    assert (f.price_cached_input, f.price_reasoning) == (1_000_000, 3_000_000)


def test_decode_gpu_time_cost_formula() -> None:
    dep = _deployment(pricing=GpuTimePricing(gpu_hour=2_500_000, gpus=8))
    f = decode_factors(dep)
    ttft, latency, cost = predict(f, 2, 2_000, 0, 100, 0)
    busy = ttft + 100 * 20_000
    assert latency == busy
    # micro-USD/h x us / 3600 = pico-USD, shared by the point's max_load (4), floored.
    assert cost == (2_500_000 * 8 * busy) // (3600 * 4)


def _speculative(gpu: bool) -> Deployment:
    return _deployment(
        pricing=GpuTimePricing(gpu_hour=2_500_000, gpus=8)
        if gpu
        else TokenPricing(input=1, output=1),
        speculative=SpeculativeDecoding(
            draft_model="d",
            acceptance_rate=0.7,
            draft_cost_ratio=0.05,
            max_draft_tokens=8,
            disable_above_load=4,
        ),
    )


def test_decode_factors_are_integers_from_the_paper() -> None:
    f = decode_factors(_speculative(gpu=True))
    point = f.points[0]
    assert point.tpot_eff_us[0] == 20_000
    assert point.gpu_tpot_ns[0] == 20_000_000
    for gamma in range(1, 9):
        eff = math.ceil(20_000 / speedup(0.7, gamma, 0.05))
        assert point.tpot_eff_us[gamma] == eff
        assert point.gpu_tpot_ns[gamma] == math.ceil(
            eff * compute_overhead(0.7, gamma, 0.05) * 1000
        )
    # gammas 5 and 6 have the same speed-up to 5 digits (2.35294): both round to the minimum.
    fastest = min(point.tpot_eff_us)
    assert [g for g in range(9) if point.tpot_eff_us[g] == fastest] == [5, 6]


def test_decode_controller_picks_cheapest_meeting_slo_gpu_time() -> None:
    f = decode_factors(_speculative(gpu=True))
    choice = choose_draft(f, 1, 1_000, 0, 500, 0, slo_us=60_000_000, cap_pusd=None)
    costs = {g: predict(f, 1, 1_000, 0, 500, 0, g)[2] for g in range(9)}
    assert choice.cost_pusd == min(costs.values())
    assert choice.draft_tokens == min(g for g, c in costs.items() if c == choice.cost_pusd)
    assert choice.draft_tokens > 0  # speculation pays at low load on GPU time
    assert choice.slo_met
    assert choice.within_cap


def test_decode_controller_per_token_ties_take_lowest_latency() -> None:
    # Per-token cost does not depend on gamma, so the tie-breaks pick the lowest latency
    # (gammas 5 and 6 tie on it) and then the smaller gamma.
    f = decode_factors(_speculative(gpu=False))
    choice = choose_draft(f, 1, 1_000, 0, 500, 0, slo_us=60_000_000, cap_pusd=None)
    assert choice.draft_tokens == 5


def test_decode_controller_speculation_off_above_load() -> None:
    f = decode_factors(_speculative(gpu=True))
    assert list(f.draft_lengths(4)) == list(range(9))
    assert list(f.draft_lengths(5)) == [0]
    choice = choose_draft(f, 5, 1_000, 0, 500, 0, slo_us=60_000_000, cap_pusd=None)
    assert choice.draft_tokens == 0


def test_decode_controller_slo_miss_takes_fastest() -> None:
    f = decode_factors(_speculative(gpu=True))
    choice = choose_draft(f, 1, 1_000, 0, 500, 0, slo_us=1, cap_pusd=None)
    assert not choice.slo_met
    assert choice.draft_tokens == 5  # the latency optimum (5 and 6 tie; the smaller wins)
    latencies = [predict(f, 1, 1_000, 0, 500, 0, g)[1] for g in range(9)]
    assert choice.latency_us == min(latencies)


def test_decode_controller_cap_is_hard() -> None:
    f = decode_factors(_speculative(gpu=True))
    costs = sorted(predict(f, 1, 1_000, 0, 500, 0, g)[2] for g in range(9))
    under = choose_draft(f, 1, 1_000, 0, 500, 0, slo_us=1, cap_pusd=costs[0])
    assert under.within_cap  # the cheapest option fits, so it is taken
    assert under.cost_pusd == costs[0]
    over = choose_draft(f, 1, 1_000, 0, 500, 0, slo_us=60_000_000, cap_pusd=costs[0] - 1)
    assert not over.within_cap
    assert over.cost_pusd == costs[0]  # the cheapest, shown for the explanation


def test_decode_predict_rejects_unknown_draft_length() -> None:
    f = decode_factors(_deployment())
    with pytest.raises(ValueError, match="no draft length 3"):
        predict(f, 1, 10, 0, 10, 0, 3)


def _brute_force(f, load, inp, cached, out, reasoning, slo_us, cap):
    """The controller's definition, trying every allowed draft length (no pruning)."""
    options = [
        (g, *predict(f, load, inp, cached, out, reasoning, g)) for g in f.draft_lengths(load)
    ]
    within = [o for o in options if cap is None or o[3] <= cap]
    met = [o for o in within if o[2] <= slo_us]
    if met:
        g, ttft, lat, cost = min(met, key=lambda o: (o[3], o[2], o[0]))
        return (g, ttft, lat, cost, True, True)
    if within:
        g, ttft, lat, cost = min(within, key=lambda o: (o[2], o[3], o[0]))
        return (g, ttft, lat, cost, False, True)
    g, ttft, lat, cost = min(options, key=lambda o: (o[3], o[2], o[0]))
    return (g, ttft, lat, cost, lat <= slo_us, False)


def test_decode_undominated_drafts() -> None:
    from nexusctl.decode.factors import undominated

    # g=2 is slower than g=1 (dominated); g=3 is faster but costlier (kept).
    assert undominated([100, 60, 70, 50], [100, 90, 95, 120]) == (0, 1, 3)
    # per-token pricing: only speed matters; equal speed keeps the shorter draft
    assert undominated([100, 60, 60, 50], None) == (0, 1, 3)
    assert undominated([100], None) == (0,)


def test_decode_pruned_controller_equals_exhaustive() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    checked = 0
    for trial in range(60):
        alpha = float(rng.uniform(0.05, 0.95))
        c = float(rng.uniform(0.01, 0.6))
        gpu = bool(trial % 2)
        dep = _deployment(
            pricing=GpuTimePricing(
                gpu_hour=int(rng.integers(1, 5_000_000)), gpus=int(rng.integers(1, 9))
            )
            if gpu
            else TokenPricing(
                input=int(rng.integers(0, 10**7)), output=int(rng.integers(0, 10**8))
            ),
            speculative=SpeculativeDecoding(
                draft_model="d",
                acceptance_rate=alpha,
                draft_cost_ratio=c,
                max_draft_tokens=int(rng.integers(1, 16)),
                disable_above_load=int(rng.integers(1, 40)),
            ),
        )
        f = decode_factors(dep)
        for _ in range(50):
            load = int(rng.integers(1, 50))
            inp = int(rng.integers(0, 20_000))
            args = (
                f,
                load,
                inp,
                int(rng.integers(0, inp + 1)),
                int(rng.integers(0, 3) * rng.integers(0, 2_000)),  # often 0: every option ties
                int(rng.integers(0, 500)),
                int(rng.integers(1, 120_000_000)),
                None if rng.random() < 0.3 else int(rng.integers(0, 10**11)),
            )
            assert tuple(choose_draft(*args)) == _brute_force(*args)
            checked += 1
    assert checked == 3000
