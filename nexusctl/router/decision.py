"""The Decision: what the router decided for one request, and why (every candidate's fate)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from pydantic import Field, field_serializer

from nexusctl.document import FrozenModel
from nexusctl.policy.vocabulary import Tier

Outcome = Literal["routed", "escalated", "refused"]
CandidateStatus = Literal["chosen", "considered", "eliminated"]


class Candidate(NamedTuple):
    """One deployment of the pool and what happened to it.

    ``reason`` is the first hard filter that eliminated it, or for an eligible deployment that
    was not chosen, why it was passed over (HIGHER_TIER, SLO_MISS, NOT_CHEAPEST). Predictions
    are present once the Latency Controller ran for it (eligible, or eliminated by the cost cap).
    """

    deployment_id: str
    tier: Tier
    status: CandidateStatus
    reason: str | None = None
    draft_tokens: int | None = None
    predicted_ttft_us: int | None = None
    predicted_latency_us: int | None = None
    predicted_cost_pusd: int | None = None
    slo_met: bool | None = None


class Decision(FrozenModel):
    """The router's decision for one request (contract C), with the reasons behind it."""

    request_id: str
    route_id: str = Field(description="The route that matched (or the default's id).")
    outcome: Outcome
    deployment_id: str | None = Field(description="Null when nothing serves the request.")
    tier: Tier | None
    provider: str | None
    region: str | None
    decode_strategy: Literal["standard", "speculative"] | None = Field(
        description="'speculative' when the controller chose a draft length > 0."
    )
    draft_tokens: int = Field(ge=0, description="Speculative draft length gamma; 0 = off.")
    predicted_ttft_us: int | None
    predicted_latency_us: int | None
    predicted_cost_pusd: int | None = Field(description="Exact integer pico-USD (1e-12 USD).")
    slo_met: bool | None
    slo_us: int = Field(description="The route's latency SLO, microseconds.")
    max_cost_pusd: int | None = Field(description="The route's per-request cost cap, pico-USD.")
    escalation_rule: str | None
    escalation_target: str | None
    reason: str | None = Field(description="Primary reason code when escalated or refused.")
    load: int = Field(ge=1, description="Requests in flight on a replica (Latency Controller).")
    tier_floor: Tier | None = Field(description="The lowest tier the request may use.")
    tier_floor_raised_by: tuple[str, ...] = Field(
        description="What set the floor: 'route.minTier' and/or 'complexity>=<threshold>'."
    )
    candidates: tuple[Candidate, ...] = Field(
        description="Every deployment of the catalog, sorted by id, with its fate."
    )

    @classmethod
    def trusted(cls, fields: dict[str, Any]) -> Decision:
        """Build a Decision from values the router computed, without re-validating them.

        ``fields`` must hold every field (it becomes the instance's ``__dict__``). This is
        ``model_construct`` without its per-field default handling: validation costs about 4x
        the rest of a routing decision, and the router's values are valid by construction
        (tests re-validate routed decisions and compare).
        """
        decision = cls.__new__(cls)
        object.__setattr__(decision, "__dict__", fields)
        object.__setattr__(decision, "__pydantic_fields_set__", set(fields))
        object.__setattr__(decision, "__pydantic_extra__", None)
        object.__setattr__(decision, "__pydantic_private__", None)
        return decision

    @field_serializer("candidates")
    def _candidates_as_objects(self, candidates: tuple[Candidate, ...]) -> list[dict[str, Any]]:
        return [c._asdict() for c in candidates]

    def decision_row(self, row: int = 0) -> dict[str, Any]:
        """Return this decision as one row of the decisions table (contract C)."""
        return {
            "row": row,
            "request_id": self.request_id,
            "route_id": self.route_id,
            "outcome": self.outcome,
            "deployment_id": self.deployment_id,
            "tier": self.tier,
            "provider": self.provider,
            "region": self.region,
            "draft_tokens": self.draft_tokens,
            "predicted_ttft_us": self.predicted_ttft_us,
            "predicted_latency_us": self.predicted_latency_us,
            "predicted_cost_pusd": self.predicted_cost_pusd,
            "slo_met": self.slo_met,
            "escalation_rule": self.escalation_rule,
            "escalation_target": self.escalation_target,
            "reason": self.reason,
            "load": self.load,
        }

    def eliminated(self) -> dict[str, str]:
        """Return ``{deployment id: reason code}`` for every eliminated candidate."""
        return {
            c.deployment_id: c.reason or "" for c in self.candidates if c.status == "eliminated"
        }


def decision_row(decision: Decision, row: int = 0) -> dict[str, Any]:
    """Map a Decision to a row of the decisions table (contract C)."""
    return decision.decision_row(row)
