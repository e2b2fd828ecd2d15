"""The decode-cost model and the Latency Controller, scalar form (the reference).

For one request on one deployment at a load (requests in flight on a replica):

* latency point: the first point whose ``max_load >= load``, else the last;
* ``ttft_us = ttft_base_us + (ttft_per_1k_input_us * input_tokens) // 1000`` (floor);
* generated tokens ``n_gen = output_tokens + reasoning_tokens`` (reasoning tokens are decoded too);
* ``latency_us = ttft_us + n_gen * tpot_eff_us[gamma]``;
* per-token pricing (prices in micro-USD per 1M tokens, so the products are pico-USD exactly):
  ``cost = (input - cached) * p_in + cached * p_cached + output * p_out + reasoning * p_reason``,
  independent of gamma (a hosted provider bills tokens, not its GPUs);
* GPU-time pricing: ``busy_us = ttft_us + (n_gen * gpu_tpot_ns[gamma]) // 1000`` and
  ``cost = (gpu_hour * gpus * busy_us) // (3600 * max_load)`` pico-USD (floor): the replica-hour
  rate times the busy time, shared by up to ``max_load`` requests in flight.

The Latency Controller picks gamma among the allowed draft lengths: only those whose cost is
within the cap (hard), then the cheapest meeting the SLO (ties: lower latency, then smaller
gamma); if none meets the SLO, the fastest (ties: lower cost, then smaller gamma) with
``slo_met = False``.
"""

from __future__ import annotations

from typing import NamedTuple

from nexusctl.decode.factors import DecodeFactors, PointFactors

_make = tuple.__new__  # builds a NamedTuple without its Python-level __new__ (hot path)

#: 3600 s/h: micro-USD/h x us / 3600 = pico-USD.
_US_PER_HOUR_OVER_PUSD = 3600


class DecodeChoice(NamedTuple):
    """What the Latency Controller chose for one request on one deployment."""

    draft_tokens: int
    ttft_us: int
    latency_us: int
    cost_pusd: int
    slo_met: bool
    #: False when every allowed draft length costs more than the cap (the cheapest is shown).
    within_cap: bool


def ttft_us(point: PointFactors, input_tokens: int) -> int:
    """Return the predicted time to first token, microseconds (floor of the per-1k term)."""
    return point.ttft_base_us + (point.ttft_per_1k_input_us * input_tokens) // 1000


def token_cost_pusd(
    factors: DecodeFactors,
    input_tokens: int,
    cached_input_tokens: int,
    output_tokens: int,
    reasoning_tokens: int,
) -> int:
    """Return the per-token price of a request in pico-USD (exact)."""
    return (
        (input_tokens - cached_input_tokens) * factors.price_input
        + cached_input_tokens * factors.price_cached_input
        + output_tokens * factors.price_output
        + reasoning_tokens * factors.price_reasoning
    )


def gpu_cost_pusd(factors: DecodeFactors, point: PointFactors, busy_us: int) -> int:
    """Return the GPU-time price of ``busy_us`` on a replica shared by ``point.max_load``."""
    return (factors.gpu_rate * busy_us) // (_US_PER_HOUR_OVER_PUSD * point.max_load)


def predict(
    factors: DecodeFactors,
    load: int,
    input_tokens: int,
    cached_input_tokens: int,
    output_tokens: int,
    reasoning_tokens: int,
    draft_tokens: int = 0,
) -> tuple[int, int, int]:
    """Return ``(ttft_us, latency_us, cost_pusd)`` for one draft length (no choice made).

    Raises:
        ValueError: the deployment has no pricing or the draft length is not offered.
    """
    if draft_tokens > factors.max_draft_tokens:
        raise ValueError(f"{factors.deployment_id} offers no draft length {draft_tokens}")
    point = factors.points[factors.point_index(load)]
    first = ttft_us(point, input_tokens)
    generated = output_tokens + reasoning_tokens
    latency = first + generated * point.tpot_eff_us[draft_tokens]
    if factors.pricing_kind == "per_token":
        cost = token_cost_pusd(
            factors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens
        )
    elif factors.pricing_kind == "gpu_time":
        busy = first + (generated * point.gpu_tpot_ns[draft_tokens]) // 1000
        cost = gpu_cost_pusd(factors, point, busy)
    else:
        raise ValueError(f"{factors.deployment_id} has no pricing")
    return first, latency, cost


def choose_draft(
    factors: DecodeFactors,
    load: int,
    input_tokens: int,
    cached_input_tokens: int,
    output_tokens: int,
    reasoning_tokens: int,
    slo_us: int,
    cap_pusd: int | None,
) -> DecodeChoice:
    """Run the Latency Controller: pick the draft length for one request on one deployment.

    Raises:
        ValueError: the deployment has no pricing.
    """
    points = factors.points
    point = points[-1]
    for candidate_point in points:  # the first point whose max_load covers the load
        if candidate_point.max_load >= load:
            point = candidate_point
            break
    first = point.ttft_base_us + (point.ttft_per_1k_input_us * input_tokens) // 1000
    generated = output_tokens + reasoning_tokens
    gpu = factors.pricing_kind == "gpu_time"
    if not gpu and not (factors.max_draft_tokens and load <= factors.disable_above_load):
        # Fast path (most hosted deployments): one option, gamma = 0.
        if factors.pricing_kind != "per_token":
            raise ValueError(f"{factors.deployment_id} has no pricing")
        latency = first + generated * point.tpot_us
        cost = (
            (input_tokens - cached_input_tokens) * factors.price_input
            + cached_input_tokens * factors.price_cached_input
            + output_tokens * factors.price_output
            + reasoning_tokens * factors.price_reasoning
        )
        within = cap_pusd is None or cost <= cap_pusd
        return _make(DecodeChoice, (0, first, latency, cost, latency <= slo_us, within))
    if not gpu:
        if factors.pricing_kind != "per_token":
            raise ValueError(f"{factors.deployment_id} has no pricing")
        flat_cost = token_cost_pusd(
            factors, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens
        )
    # (cost, latency, gamma) of the best option so far, in three classes.
    best_met: tuple[int, int, int] | None = None
    best_fast: tuple[int, int, int] | None = None  # keyed (latency, cost, gamma)
    cheapest: tuple[int, int, int] | None = None
    # Dominated draft lengths are skipped: they can never win (factors.undominated).
    spec_on = factors.max_draft_tokens and load <= factors.disable_above_load
    for gamma in point.draft_candidates if spec_on else (0,):
        latency = first + generated * point.tpot_eff_us[gamma]
        if gpu:
            busy = first + (generated * point.gpu_tpot_ns[gamma]) // 1000
            cost = (factors.gpu_rate * busy) // (_US_PER_HOUR_OVER_PUSD * point.max_load)
        else:
            cost = flat_cost
        if cap_pusd is not None and cost > cap_pusd:
            key = (cost, latency, gamma)
            if cheapest is None or key < cheapest:
                cheapest = key
            continue
        if latency <= slo_us:
            key = (cost, latency, gamma)
            if best_met is None or key < best_met:
                best_met = key
        else:
            key = (latency, cost, gamma)
            if best_fast is None or key < best_fast:
                best_fast = key
    if best_met is not None:
        cost, latency, gamma = best_met
        return DecodeChoice(gamma, first, latency, cost, True, True)
    if best_fast is not None:
        latency, cost, gamma = best_fast
        return DecodeChoice(gamma, first, latency, cost, False, True)
    assert cheapest is not None  # the loop ran at least once (gamma 0 is always allowed)
    cost, latency, gamma = cheapest
    return DecodeChoice(gamma, first, latency, cost, latency <= slo_us, False)
