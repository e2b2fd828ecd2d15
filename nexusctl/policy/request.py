"""The attributes of one LLM request that a RoutingPolicy decides on (never the prompt text)."""

from __future__ import annotations

from pydantic import Field

from nexusctl.document import Identifier, Model
from nexusctl.policy.vocabulary import Capability, DataClass, RiskClass


class RoutingRequest(Model):
    """One request, as the router sees it: who, what, how big, how hard; no prompt text."""

    request_id: str = Field(default="-", max_length=200)
    tenant: Identifier
    app: Identifier
    use_case: Identifier = "general"
    data_class: DataClass = "internal"
    residency_class: Identifier
    risk_class: RiskClass = "low"
    input_tokens: int = Field(ge=0)
    cached_input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(ge=0, description="Expected (or, in replay, observed) output.")
    reasoning_tokens: int = Field(default=0, ge=0)
    capabilities: list[Capability] = Field(default_factory=list)
    complexity: float = Field(default=0.0, ge=0, le=1)
    confidence: float | None = Field(
        default=None, ge=0, le=1, description="Caller's confidence in the complexity score."
    )
