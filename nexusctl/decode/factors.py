"""Integer decode factors per deployment, computed once per catalog and shared by both engines.

Every per-request quantity (TTFT, latency, cost) is integer arithmetic over these factors, so
the scalar router and the vectorised replay agree to the last pico-dollar. The only floating
point is here, once per (deployment, latency point, draft length).

Units: time in microseconds (us) except ``gpu_tpot_ns`` (nanoseconds); prices in micro-USD
per million tokens; GPU rate in micro-USD per replica-hour; cost in pico-USD (1e-12 USD).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nexusctl.decode.speculative import compute_overhead, speedup
from nexusctl.policy.catalog import Deployment, GpuTimePricing, TokenPricing

#: Draft lengths are bounded by the catalog model (SpeculativeDecoding.max_draft_tokens <= 32).
MAX_DRAFT_TOKENS = 32


@dataclass(frozen=True, slots=True)
class PointFactors:
    """One latency point of a deployment with its per-draft-length decode factors.

    ``tpot_eff_us[g]`` = ceil(tpot_us / S(alpha, g, c)): time per output token with draft
    length g (rounded up: a prediction must not promise more than the model gives).
    ``gpu_tpot_ns[g]`` = ceil(tpot_eff_us[g] * overhead(alpha, g, c) * 1000): GPU busy time
    per output token, in ns, charging Theorem 3.11's extra arithmetic (GPU-time pricing only).
    Both are exact integers for g = 0 (``tpot_us`` and ``tpot_us * 1000``).
    """

    max_load: int
    ttft_base_us: int
    ttft_per_1k_input_us: int
    tpot_us: int
    tpot_eff_us: tuple[int, ...]
    gpu_tpot_ns: tuple[int, ...]
    #: The draft lengths the controller needs to try, ascending: those not dominated by a
    #: shorter one (see ``undominated``). Always starts with 0.
    draft_candidates: tuple[int, ...] = (0,)


@dataclass(frozen=True, slots=True)
class DecodeFactors:
    """Everything the decode model needs to price and time one deployment, as integers."""

    deployment_id: str
    points: tuple[PointFactors, ...]
    #: Longest draft the deployment offers; 0 when it has no speculative decoding.
    max_draft_tokens: int
    #: Speculation is off when load exceeds this; 0 when it has no speculative decoding.
    disable_above_load: int
    #: "per_token", "gpu_time" or "none" (a deployment without pricing is never eligible).
    pricing_kind: str
    price_input: int = 0
    price_cached_input: int = 0
    price_output: int = 0
    price_reasoning: int = 0
    #: gpu_hour x gpus: micro-USD per replica-hour (GPU-time pricing).
    gpu_rate: int = 0

    def point_index(self, load: int) -> int:
        """Return the index of the first point whose max_load covers ``load`` (else the last)."""
        for index, point in enumerate(self.points):
            if point.max_load >= load:
                return index
        return len(self.points) - 1

    def draft_lengths(self, load: int) -> range:
        """Return the draft lengths the controller may choose from at ``load``."""
        if self.max_draft_tokens and load <= self.disable_above_load:
            return range(self.max_draft_tokens + 1)
        return range(1)


def undominated(tpot_eff: list[int], gpu_tpot: list[int] | None) -> tuple[int, ...]:
    """Return the draft lengths not dominated by a shorter one, ascending.

    Draft length g is dominated by a shorter g' when g' is no slower per token and (for
    GPU-time pricing) no costlier per token. Latency and cost are non-decreasing in those
    per-token figures for every request, and the controller breaks full ties towards the
    shorter draft, so a dominated g can never be chosen: skipping it changes no decision.
    """
    kept: list[int] = []
    for gamma in range(len(tpot_eff)):
        if not any(
            tpot_eff[k] <= tpot_eff[gamma] and (gpu_tpot is None or gpu_tpot[k] <= gpu_tpot[gamma])
            for k in range(gamma)
        ):
            kept.append(gamma)
    return tuple(kept)


def decode_factors(deployment: Deployment) -> DecodeFactors:
    """Compile a deployment's latency profile, speculation and pricing into integer factors."""
    spec = deployment.speculative
    gamma_max = spec.max_draft_tokens if spec is not None else 0
    points = []
    for point in deployment.latency.points:
        tpot_eff = [point.tpot_us]
        gpu_tpot = [point.tpot_us * 1000]
        if spec is not None:
            alpha, c = spec.acceptance_rate, spec.draft_cost_ratio
            for gamma in range(1, gamma_max + 1):
                eff = math.ceil(point.tpot_us / speedup(alpha, gamma, c))
                tpot_eff.append(eff)
                gpu_tpot.append(math.ceil(eff * compute_overhead(alpha, gamma, c) * 1000))
        points.append(
            PointFactors(
                max_load=point.max_load,
                ttft_base_us=point.ttft_base_us,
                ttft_per_1k_input_us=point.ttft_per_1k_input_us,
                tpot_us=point.tpot_us,
                tpot_eff_us=tuple(tpot_eff),
                gpu_tpot_ns=tuple(gpu_tpot),
                draft_candidates=undominated(
                    tpot_eff, gpu_tpot if isinstance(deployment.pricing, GpuTimePricing) else None
                ),
            )
        )
    pricing = deployment.pricing
    kind, prices, gpu_rate = "none", (0, 0, 0, 0), 0
    if isinstance(pricing, TokenPricing):
        kind = "per_token"
        prices = (
            pricing.input,
            pricing.cached_input if pricing.cached_input is not None else pricing.input,
            pricing.output,
            pricing.reasoning if pricing.reasoning is not None else pricing.output,
        )
    elif isinstance(pricing, GpuTimePricing):
        kind = "gpu_time"
        gpu_rate = pricing.gpu_hour * pricing.gpus
    return DecodeFactors(
        deployment_id=deployment.id,
        points=tuple(points),
        max_draft_tokens=gamma_max,
        disable_above_load=spec.disable_above_load if spec is not None else 0,
        pricing_kind=kind,
        price_input=prices[0],
        price_cached_input=prices[1],
        price_output=prices[2],
        price_reasoning=prices[3],
        gpu_rate=gpu_rate,
    )
