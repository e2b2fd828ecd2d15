"""The policy vocabulary shared by models, router, replay, lint and traffic: tiers, classes."""

from __future__ import annotations

from typing import Literal

Tier = Literal["small", "mid", "frontier"]
#: Tiers in ascending order of capability and cost; the router prefers the smallest.
TIER_ORDER: tuple[Tier, ...] = ("small", "mid", "frontier")

Capability = Literal["tools", "json", "vision", "audio", "reasoning", "streaming", "long_context"]
DataClass = Literal["public", "internal", "confidential", "restricted"]
RiskClass = Literal["low", "medium", "high"]

#: Upper bound on any token count of a request (2^40): far above any context window, far below
#: int64 overflow in any cost or latency product a reader computes.
MAX_TOKENS = 1 << 40
