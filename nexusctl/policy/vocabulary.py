"""The policy vocabulary shared by models, router, replay, lint and traffic: tiers, classes."""

from __future__ import annotations

from typing import Literal

Tier = Literal["small", "mid", "frontier"]
#: Tiers in ascending order of capability and cost; the router prefers the smallest.
TIER_ORDER: tuple[Tier, ...] = ("small", "mid", "frontier")

Capability = Literal["tools", "json", "vision", "audio", "reasoning", "streaming", "long_context"]
DataClass = Literal["public", "internal", "confidential", "restricted"]
RiskClass = Literal["low", "medium", "high"]

#: Upper bound on any token count, in a request and in every traffic reader: 2^32 (4.29e9) is
#: ~400 times the largest context window offered today (10M tokens), and one count times the
#: highest published per-token price ($600 per Mtok = 6e8 pico-USD per token) stays below 2^63
#: pico-USD by a factor of ~3.5. (The replay's cost arithmetic guards sums of such terms itself.)
MAX_TOKENS = 1 << 32
