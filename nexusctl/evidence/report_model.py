"""The ``evidence report`` document (JSON Schema exported as ``EvidenceReport``)."""

from __future__ import annotations

from pydantic import Field

from nexusctl.document import FrozenModel
from nexusctl.evidence.conformance_model import ConformanceReport

Cell = str | int | float | None


class LogState(FrozenModel):
    """One log's latest signed checkpoint."""

    origin: str
    tree_size: int = Field(ge=0)
    root_hash: str | None = Field(default=None, description="Base64 root hash; null if empty.")


class Totals(FrozenModel):
    """Decisions and spend the report covers."""

    decisions: int = Field(ge=0)
    spend_pusd: int = Field(ge=0, description="Pico-USD (1e-12 USD).")
    first: str | None = None
    last: str | None = None


class Section(FrozenModel):
    """One table of the report (columns ending in ``_pusd`` are pico-USD)."""

    id: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]


class GateVerdict(FrozenModel):
    """A gate as the promotion record states it."""

    name: str
    verdict: str


class Promotion(FrozenModel):
    """A registry record that made a policy version live in an environment."""

    event: str = Field(description="promote or rollback.")
    time: str = Field(description="RFC 3339 time of the record.")
    promoted_by: str = Field(description="Key id that signed the record.")
    approved_by: list[str] = Field(default_factory=list, description="Key ids of the approvals.")
    gates: list[GateVerdict] = Field(default_factory=list)
    reason: str | None = None
    record_digest: str


class PolicyPromotions(FrozenModel):
    """A policy version seen in the evidence, joined with its registry history."""

    environment: str | None
    policy: str | None
    version: int | None
    digest: str | None
    decisions: int = Field(ge=0)
    promotions: list[Promotion] = Field(
        default_factory=list,
        description="Empty: the registry never made this version live in this environment.",
    )


class EvidenceReport(FrozenModel):
    """``nexusctl evidence report``: who routed what, under which policy, at what cost."""

    filter: dict[str, str] = Field(default_factory=dict)
    logs: dict[str, LogState]
    totals: Totals
    sections: list[Section] = Field(default_factory=list)
    budgets: dict[str, int] = Field(
        default_factory=dict,
        description="Monthly budget per tenant, pico-USD, from the policies checked against.",
    )
    promotions: list[PolicyPromotions] | None = Field(
        default=None, description="The registry join (with --registry)."
    )
    conformance: ConformanceReport | None = Field(
        default=None, description="Conformance (with --registry or --policy)."
    )
