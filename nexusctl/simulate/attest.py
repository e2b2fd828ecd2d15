"""The routing-diff attestation predicate: what a signed `simulate --attest` statement binds.

Predicate type ``https://nexuscore.io/attestation/routing-diff/v1``. It binds the baseline and
candidate (policy and catalog file digests, and bundle digests once policies come as
bundles), the traffic digest, the headline aggregates and every gate's verdict. Everything in
it is an integer or a string: counts, micro-USD, and shares or gate values as exact decimal
text (6 decimals), because signed bytes never carry binary floats.

Signing is the signing package's job (``nexusctl.signing``): the statement's subject is the
candidate (its bundle digest when known, else its policy file digest), the statement bytes are
``nexusctl.signing.statements.statement_bytes(subjects, PREDICATE_TYPE, predicate)``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from nexusctl import __version__
from nexusctl.document import FrozenModel
from nexusctl.simulate.result import PolicyRef, SimulationResult

if TYPE_CHECKING:
    from nexusctl.signing.signers import Signer

PREDICATE_TYPE = "https://nexuscore.io/attestation/routing-diff/v1"


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

    generator: str = Field(description="nexusctl and its version.")
    baseline: AttestedPolicy
    candidate: AttestedPolicy
    traffic_sha256: str
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


def _decimal(value: float | None) -> str | None:
    return None if value is None else f"{Decimal(repr(value)):.6f}"


def _policy(ref: PolicyRef, bundle_digest: str | None) -> AttestedPolicy:
    return AttestedPolicy(
        name=ref.name,
        version=ref.version,
        policy_sha256=ref.sha256,
        catalog_sha256=ref.catalog_sha256,
        bundle_digest=bundle_digest,
    )


def routing_diff_predicate(
    result: SimulationResult,
    *,
    baseline_bundle: str | None = None,
    candidate_bundle: str | None = None,
) -> RoutingDiffPredicate:
    """Build the predicate for ``result`` (bundle digests as ``sha256:<hex>`` when known)."""
    r = result

    def pair(baseline: int, candidate: int) -> dict[str, int]:
        return {"baseline": baseline, "candidate": candidate}

    return RoutingDiffPredicate(
        generator=f"nexusctl {__version__}",
        baseline=_policy(r.baseline, baseline_bundle),
        candidate=_policy(r.candidate, candidate_bundle),
        traffic_sha256=r.traffic.sha256,
        requests=r.decisions.requests,
        decisions_changed=r.decisions.changed,
        spend_micro_usd={
            "baseline": r.spend.baseline,
            "candidate": r.spend.candidate,
            "change": r.spend.change,
            "price_effect": r.spend.price_effect,
            "routing_effect": r.spend.routing_effect,
        },
        residency_violations=pair(
            r.residency.baseline_violations, r.residency.candidate_violations
        ),
        frontier_requests=pair(r.frontier.baseline, r.frontier.candidate),
        escalated_or_refused=pair(
            r.outcomes.baseline.escalated + r.outcomes.baseline.refused,
            r.outcomes.candidate.escalated + r.outcomes.candidate.refused,
        ),
        slo_met=pair(r.latency.baseline.slo_met, r.latency.candidate.slo_met),
        served=pair(r.latency.baseline.served, r.latency.candidate.served),
        passed=r.verdict.passed,
        gates=[
            AttestedGate(
                name=g.name,
                comparison=g.comparison,
                threshold=_decimal(g.threshold) or "",
                value=_decimal(g.value),
                passed=g.passed,
                source=g.source,
            )
            for g in r.verdict.gates
        ],
    )


def sign_routing_diff(
    result: SimulationResult,
    signer: Signer,
    *,
    candidate_name: str,
    baseline_bundle: str | None = None,
    candidate_bundle: str | None = None,
) -> bytes:
    """Sign the routing-diff statement for ``result``; return the Sigstore bundle JSON.

    The subject is the candidate: its bundle digest when simulated from a bundle (so
    `policy verify` can require this attestation of that bundle), else its policy file digest.

    Raises:
        InputError: the statement cannot be built.
        EnvironmentError_: keyless signing could not reach Sigstore.
    """
    from nexusctl.signing import Subject, attest

    predicate = routing_diff_predicate(
        result, baseline_bundle=baseline_bundle, candidate_bundle=candidate_bundle
    )
    subject = Subject.of(candidate_name, candidate_bundle or result.candidate.sha256)
    return attest([subject], PREDICATE_TYPE, predicate.model_dump(mode="json"), signer)
