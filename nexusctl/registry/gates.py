"""Promotion and rollback gates: one implementation, run at promotion and again by ``verify``.

Gates run in this order; the first failure stops the promotion (``GateFailed``, exit 6) or,
inside ``registry verify``, names the record (``VerificationError``, reason ``gate-<name>``):

1. forward: a promotion moves to a higher version; a rollback goes to a version that was
   live in that environment before (always checked);
2. order: the bundle is live in the previous environment now;
3. signature: the stored bundle verifies under the environment's trust-policy environment;
4. simulation: a signed routing-diff attestation against what is live in the target now;
5. approvals: N distinct approvers of the environment, bound to this bundle and environment;
6. soak: live in the previous environment for at least the configured time;
7. freeze: not inside a freeze window, unless overridden by the override approvers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from nexusctl.clock import parse_rfc3339
from nexusctl.errors import GateFailed
from nexusctl.registry._state import Approval, State
from nexusctl.registry.config import RegistryConfig, RegistryEnvironment
from nexusctl.statements import BundleRef, GateRecord, RoutingDiffPredicate


class RegistryGateFailed(GateFailed):
    """A registry gate failed; ``gate`` names it."""

    def __init__(self, gate: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"gate '{gate}' failed: {message}", hint=hint)
        self.gate = gate


@dataclass(frozen=True)
class Evidence:
    """A verified simulation attestation: its file digest and its signed predicate."""

    digest: str
    predicate: RoutingDiffPredicate
    raw: bytes = b""


@dataclass(frozen=True)
class GateInputs:
    """Everything the gates look at for one promotion or rollback."""

    state: State
    config: RegistryConfig
    env: RegistryEnvironment
    bundle: BundleRef
    time: dt.datetime
    rollback: bool
    override: bool
    evidence: Evidence | None
    #: Verifies the stored bundle under a trust-policy environment; returns the signer.
    check_signature: Callable[[str, str], str]
    #: Who really signed an approve record ("" if nobody the config allows); None: the
    #: replay already verified every record (``registry verify``), so its signer stands.
    approval_signer: Callable[[Approval], str] | None = None


def run_gates(inputs: GateInputs) -> tuple[list[GateRecord], list[str], bool]:
    """Run every configured gate; return (gate records, approval digests, overridden).

    Raises:
        RegistryGateFailed: the first gate that failed.
    """
    gates = inputs.env.rollback_gates if inputs.rollback else inputs.env.gates
    records = [_forward(inputs)]
    approvals: list[str] = []
    overridden = False
    for name in ("order", "signature", "simulation", "approvals", "soak", "freeze"):
        if name not in gates or (inputs.rollback and name in ("order", "soak", "simulation")):
            continue
        if name == "order":
            records.append(_order(inputs))
        elif name == "signature":
            signer = inputs.check_signature(inputs.bundle.digest, inputs.env.trust_environment)
            records.append(
                GateRecord(
                    name="signature", verdict="pass", evidence=inputs.bundle.digest, detail=signer
                )
            )
        elif name == "simulation":
            records.append(_simulation(inputs))
        elif name == "approvals":
            purpose = "rollback" if inputs.rollback else "promote"
            quorum = inputs.env.approvers
            approvals = _approvals(inputs, purpose, quorum.keys, quorum.threshold, "approvals")
            records.append(
                GateRecord(
                    name="approvals",
                    verdict="pass",
                    detail=f"{len(approvals)} approvals, {quorum.threshold} required",
                )
            )
        elif name == "soak":
            records.append(_soak(inputs))
        else:
            record, override_approvals = _freeze(inputs)
            records.append(record)
            overridden = record.verdict == "override"
            approvals += override_approvals
    return records, approvals, overridden


def _forward(inputs: GateInputs) -> GateRecord:
    env, bundle = inputs.env.name, inputs.bundle
    live = inputs.state.live_in(env, bundle.name)
    if inputs.rollback:
        before = inputs.state.ever_live.get(env, {}).get(bundle.name, {})
        if before.get(bundle.version) != bundle.digest:
            raise RegistryGateFailed(
                "forward", f"{bundle.name} v{bundle.version} was never live in '{env}'"
            )
        if live is not None and live.version == bundle.version:
            raise RegistryGateFailed(
                "forward", f"{bundle.name} v{bundle.version} is already live in '{env}'"
            )
    elif live is not None and bundle.version <= live.version:
        raise RegistryGateFailed(
            "forward",
            f"v{bundle.version} is not newer than v{live.version} live in '{env}'",
            hint="versions only move forward; use `registry rollback` to go back",
        )
    return GateRecord(name="forward", verdict="pass", evidence=live.digest if live else None)


def _order(inputs: GateInputs) -> GateRecord:
    previous = inputs.config.previous(inputs.env.name)
    if previous is None:
        return GateRecord(name="order", verdict="skip", detail="first environment")
    live = inputs.state.live_in(previous.name, inputs.bundle.name)
    if live is None or live.digest != inputs.bundle.digest:
        raise RegistryGateFailed(
            "order",
            f"{inputs.bundle.name} v{inputs.bundle.version} is not live in '{previous.name}'",
            hint=f"promote it to '{previous.name}' first",
        )
    return GateRecord(name="order", verdict="pass", detail=f"live in {previous.name}")


def _simulation(inputs: GateInputs) -> GateRecord:
    live = inputs.state.live_in(inputs.env.name, inputs.bundle.name)
    if live is None:
        return GateRecord(
            name="simulation", verdict="skip", detail="nothing live to compare against"
        )
    evidence = inputs.evidence
    if evidence is None:
        raise RegistryGateFailed(
            "simulation",
            f"no routing-diff attestation against v{live.version} live in '{inputs.env.name}'",
            hint="pass --attestation FILE from `nexusctl simulate --attest`",
        )
    problem = _simulation_problem(inputs, live.digest, evidence.predicate)
    if problem is not None:
        raise RegistryGateFailed("simulation", problem)
    return GateRecord(name="simulation", verdict="pass", evidence=evidence.digest)


def _simulation_problem(
    inputs: GateInputs, live_digest: str, predicate: RoutingDiffPredicate
) -> str | None:
    baseline, candidate = predicate.baseline.bundle_digest, predicate.candidate.bundle_digest
    if baseline != live_digest:
        return (
            f"the attestation's baseline is {baseline}, but {live_digest} is live "
            "(a stale simulation does not count)"
        )
    if candidate != inputs.bundle.digest:
        return f"the attestation's candidate is {candidate}, not this bundle"
    samples = {s.sha256 for s in inputs.env.traffic_samples}
    if predicate.traffic_sha256 not in samples:
        return (
            f"traffic {predicate.traffic_sha256} is not a sample registered for '{inputs.env.name}'"
        )
    wanted = inputs.env.gates_sha256
    if wanted is not None and (predicate.gates_sha256 or "").removeprefix("sha256:") != wanted:
        return f"the simulation did not use the gates file configured for '{inputs.env.name}'"
    failed = predicate.failed_gates()
    if not predicate.passed or failed:
        return "the simulation's gates failed: " + (", ".join(failed) or "verdict not passed")
    return None


def _approvals(
    inputs: GateInputs, purpose: str, keys: list[str], threshold: int, gate: str
) -> list[str]:
    valid: dict[str, Approval] = {}
    for approval in inputs.state.approvals_for(inputs.env.name, inputs.bundle):
        if not _grants(approval, inputs, purpose):
            continue
        check = inputs.approval_signer
        signer = approval.signer if check is None else check(approval)
        if signer in keys:
            valid.setdefault(signer, approval)
    if len(valid) < threshold:
        raise RegistryGateFailed(
            gate,
            f"{len(valid)} of the {threshold} required {purpose} approvals for "
            f"{inputs.bundle.name} v{inputs.bundle.version} in '{inputs.env.name}'",
            hint="approvers: " + (", ".join(keys) or "none configured"),
        )
    return [valid[k].digest for k in sorted(valid)]


def _grants(approval: Approval, inputs: GateInputs, purpose: str) -> bool:
    record = approval.predicate
    grant = record.grant
    return (
        grant is not None
        and grant.purpose == purpose
        and record.bundle == inputs.bundle
        and record.environment == inputs.env.name
        and parse_rfc3339(record.time) <= inputs.time <= parse_rfc3339(grant.expires)
    )


def _soak(inputs: GateInputs) -> GateRecord:
    previous = inputs.config.previous(inputs.env.name)
    if previous is None or inputs.env.soak_seconds == 0:
        return GateRecord(name="soak", verdict="skip", detail="no soak required")
    live = inputs.state.live_in(previous.name, inputs.bundle.name)
    if live is None or live.digest != inputs.bundle.digest:
        raise RegistryGateFailed("soak", f"not live in '{previous.name}'")
    soaked = int((inputs.time - live.since).total_seconds())
    if soaked < inputs.env.soak_seconds:
        raise RegistryGateFailed(
            "soak",
            f"live in '{previous.name}' for {soaked}s of the {inputs.env.soak_seconds}s required",
        )
    return GateRecord(name="soak", verdict="pass", detail=f"{soaked}s in {previous.name}")


def _freeze(inputs: GateInputs) -> tuple[GateRecord, list[str]]:
    for window in inputs.env.freeze_windows:
        if window.start <= inputs.time < window.end:
            if not inputs.override:
                raise RegistryGateFailed(
                    "freeze",
                    f"'{inputs.env.name}' is frozen until {window.end.isoformat()}"
                    + (f" ({window.reason})" if window.reason else ""),
                    hint="an emergency needs --override and the override approvals",
                )
            quorum = inputs.env.override_approvers
            if quorum.threshold < 1:
                raise RegistryGateFailed("freeze", "no override approvers are configured")
            used = _approvals(inputs, "override", quorum.keys, quorum.threshold, "freeze")
            return GateRecord(name="freeze", verdict="override", detail=window.reason), used
    return GateRecord(name="freeze", verdict="pass"), []
