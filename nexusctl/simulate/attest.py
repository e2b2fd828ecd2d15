"""Build and sign the routing-diff attestation of a simulation (``simulate --attest``).

The predicate's models live in ``nexusctl.statements.routing_diff`` (with every other signed
statement's); this module fills them from a ``SimulationResult``.

Signing is the signing package's job (``nexusctl.signing``): the statement's subject is the
candidate (its bundle digest when known, else its policy file digest), the statement bytes are
``nexusctl.statements.statement_bytes(subjects, PREDICATE_TYPE, predicate)``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from nexusctl import __version__
from nexusctl.simulate.result import PolicyRef, SimulationResult
from nexusctl.statements.routing_diff import (
    ROUTING_DIFF_PREDICATE,
    AttestedGate,
    AttestedPolicy,
    RoutingDiffPredicate,
)

if TYPE_CHECKING:
    from nexusctl.signing.signers import Signer

PREDICATE_TYPE = ROUTING_DIFF_PREDICATE


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
    gates_sha256: str | None = None,
) -> RoutingDiffPredicate:
    """Build the predicate for ``result`` (bundle and gates-file digests as ``sha256:<hex>``)."""
    r = result

    def pair(baseline: int, candidate: int) -> dict[str, int]:
        return {"baseline": baseline, "candidate": candidate}

    return RoutingDiffPredicate(
        generator=f"nexusctl {__version__}",
        baseline=_policy(r.baseline, baseline_bundle),
        candidate=_policy(r.candidate, candidate_bundle),
        traffic_sha256=r.traffic.sha256,
        gates_sha256=gates_sha256,
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
    gates_sha256: str | None = None,
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
        result,
        baseline_bundle=baseline_bundle,
        candidate_bundle=candidate_bundle,
        gates_sha256=gates_sha256,
    )
    subject = Subject.of(candidate_name, candidate_bundle or result.candidate.sha256)
    return attest([subject], PREDICATE_TYPE, predicate.model_dump(mode="json"), signer)
