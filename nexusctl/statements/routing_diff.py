"""The routing-diff predicate: what a signed ``simulate --attest`` statement binds.

Predicate type ``https://nexuscore.io/attestation/routing-diff/v1``. It binds the baseline and
candidate (policy and catalog file digests, and bundle digests once policies come as
bundles), the traffic digest, the headline aggregates and every gate's verdict. Everything in
it is an integer or a string: counts, micro-USD, and shares or gate values as exact decimal
text (6 decimals), because signed bytes never carry binary floats.

``nexusctl.simulate.attest`` builds it from a simulation result and signs it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nexusctl.document import FrozenModel

ROUTING_DIFF_PREDICATE = "https://nexuscore.io/attestation/routing-diff/v1"


class AttestedPolicy(FrozenModel):
    """One side of the comparison."""

    name: str
    version: int
    policy_sha256: str
    catalog_sha256: str
    bundle_digest: str | None = Field(
        default=None, description="sha256:<hex> of the policy bundle, when simulated from one."
    )


class AttestedGate(FrozenModel):
    """One gate's verdict; value and threshold as exact decimal text."""

    name: str
    comparison: Literal["<=", ">="]
    threshold: str
    value: str | None
    passed: bool
    source: str


class RoutingDiffPredicate(FrozenModel):
    """The predicate of a routing-diff attestation (integers and strings only)."""

    PREDICATE_TYPE: ClassVar[str] = ROUTING_DIFF_PREDICATE

    generator: str = Field(description="nexusctl and its version.")
    baseline: AttestedPolicy
    candidate: AttestedPolicy
    traffic_sha256: str
    gates_sha256: str | None = Field(
        default=None,
        description="sha256:<hex> of the gates file the verdict came from (null: flags only).",
    )
    requests: int
    decisions_changed: int
    spend_micro_usd: dict[str, int] = Field(
        description="baseline, candidate, change, price_effect, routing_effect."
    )
    residency_violations: dict[str, int]
    frontier_requests: dict[str, int]
    escalated_or_refused: dict[str, int]
    slo_met: dict[str, int]
    served: dict[str, int]
    passed: bool
    gates: list[AttestedGate]

    def failed_gates(self) -> list[str]:
        """Names of the gates that did not pass, in attested order."""
        return [g.name for g in self.gates if not g.passed]
