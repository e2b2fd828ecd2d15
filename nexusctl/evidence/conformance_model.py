"""The conformance result as data: deviation kinds, counts, examples (JSON Schema exported)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nexusctl.document import FrozenModel

#: Deviation reason codes, in report order, with what each means.
DEVIATIONS: dict[str, str] = {
    "deployment-mismatch": "the gateway served another deployment than the policy chooses",
    "residency-breach": "the region served is not allowed for the request's residency class",
    "over-cost-cap": "the recorded cost exceeds the per-request cap of the policy's route",
    "missed-refusal": "the policy refuses the request; the gateway served it",
    "missed-escalation": "the policy escalates the request; the gateway served it without",
    "unexpected-refusal": "the gateway refused the request; the policy routes it",
    "unexpected-escalation": "the gateway escalated the request; the policy routes it",
    "outcome-mismatch": "the gateway refused where the policy escalates, or the reverse",
    "policy-not-live": "the record names a bundle digest other than the one live then",
}


class DeviationExample(FrozenModel):
    """One deviating record: what the policy expects against what the gateway recorded."""

    request_id: str
    time_unix_us: int
    environment: str | None = None
    reason: str = Field(description="The deviation's reason code.")
    expected: str = Field(description="What the policy decides (outcome, deployment, cap...).")
    actual: str = Field(description="What the gateway recorded.")


class DeviationCount(FrozenModel):
    """How many records deviate in one way, out of how many that could be checked for it."""

    kind: str = Field(description="Reason code (see DEVIATIONS).")
    description: str
    count: int = Field(ge=0)
    checked: int = Field(ge=0, description="Records this check could be applied to.")
    rate_pct: float = Field(ge=0, description="count / checked, in percent (0 when none).")
    examples: list[DeviationExample] = Field(default_factory=list)


class PolicyGroup(FrozenModel):
    """One policy version (in one environment, with a registry) and the records checked
    against it."""

    environment: str | None = Field(default=None, description="Where it was live (registry).")
    policy: str
    version: int
    digest: str | None = Field(default=None, description="Bundle digest, when from a bundle.")
    source: str = Field(description="'registry' or the path given with --policy.")
    records: int = Field(ge=0)
    decision_checked: int = Field(ge=0)
    deviating: int = Field(ge=0)


class ConformanceReport(FrozenModel):
    """Real decisions routed again under their live policy, and every deviation found."""

    policy_source: Literal["registry", "explicit"]
    records: int = Field(ge=0, description="Real records in scope.")
    decision_checked: int = Field(
        ge=0, description="Records whose decision the policy determines from what they carry."
    )
    deviating_records: int = Field(ge=0, description="Records with at least one deviation.")
    not_checkable: dict[str, int] = Field(
        default_factory=dict,
        description="Records whose decision could not be checked, by reason (no-environment, "
        "no-policy-live, ambiguous-policy, missing-attributes, invalid-attributes, "
        "depends-on-<attribute>).",
    )
    deviations: list[DeviationCount]
    policies: list[PolicyGroup] = Field(default_factory=list)

    @property
    def deviation_total(self) -> int:
        """Deviations of every kind (a record may count under several kinds)."""
        return sum(d.count for d in self.deviations)
