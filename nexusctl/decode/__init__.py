"""The decode-cost model: per-token and GPU-time pricing, latency profiles, speculative decoding.

Formulas and sources are in docs/decode.md (Leviathan, Kalman, Matias, ICML 2023).
"""

from nexusctl.decode.factors import DecodeFactors, PointFactors, decode_factors
from nexusctl.decode.model import (
    DecodeChoice,
    choose_draft,
    gpu_cost_pusd,
    predict,
    token_cost_pusd,
    ttft_us,
)
from nexusctl.decode.speculative import (
    best_draft_length,
    compute_overhead,
    expected_tokens,
    speedup,
)

__all__ = [
    "DecodeChoice",
    "DecodeFactors",
    "PointFactors",
    "best_draft_length",
    "choose_draft",
    "compute_overhead",
    "decode_factors",
    "expected_tokens",
    "gpu_cost_pusd",
    "predict",
    "speedup",
    "token_cost_pusd",
    "ttft_us",
]
