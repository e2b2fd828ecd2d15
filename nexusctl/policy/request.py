"""The attributes of one LLM request that a RoutingPolicy decides on (never the prompt text).

Types are strict: a count is a JSON integer (``"600"`` and ``true`` are refused, not coerced),
a score a JSON number. Token counts are capped at ``MAX_TOKENS``, far above any context window
and far below any overflow, the same cap recorded traffic obeys.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from nexusctl.document import Identifier, Model
from nexusctl.policy.vocabulary import MAX_TOKENS, Capability, DataClass, RiskClass

#: A token count: a strict integer in [0, MAX_TOKENS].
TokenCount = Annotated[int, Field(ge=0, le=MAX_TOKENS, strict=True)]
#: A score in [0, 1]: a JSON number (an integer is accepted as 0 or 1), never a string.
Score = Annotated[float, Field(ge=0, le=1, strict=True)]


class RoutingRequest(Model):
    """One request, as the router sees it: who, what, how big, how hard; no prompt text."""

    request_id: str = Field(default="-", max_length=200, strict=True)
    tenant: Identifier
    app: Identifier
    use_case: Identifier = "general"
    data_class: DataClass = "internal"
    residency_class: Identifier
    risk_class: RiskClass = "low"
    input_tokens: TokenCount
    cached_input_tokens: TokenCount = 0
    output_tokens: TokenCount = Field(description="Expected (or, in replay, observed) output.")
    reasoning_tokens: TokenCount = 0
    capabilities: list[Capability] = Field(default_factory=list)
    complexity: Score = 0.0
    confidence: Score | None = Field(
        default=None, description="Caller's confidence in the complexity score."
    )
