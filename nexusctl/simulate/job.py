"""One `simulate` invocation in the core: resolve the inputs, run, file the attestation.

The CLI parses its options into a ``SimulationRequest``, calls ``run_job``, renders the result,
then (with ``--attest``) calls ``file_attestation`` and ``check_verdict``. A policy may be
given as a RoutingPolicy file or as a bundle folder: a bundle is checked against its
manifest before anything in it is read, and its digest is bound into the attestation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nexusctl.errors import EnvironmentError_, GateFailed

if TYPE_CHECKING:
    from nexusctl.signing.signers import Signer
    from nexusctl.simulate.aggregate import TrafficFold
    from nexusctl.simulate.result import SimulationResult
    from nexusctl.simulate.run import SimulationRequest

#: Where a routing-diff attestation is filed inside a candidate bundle (attestations/<kind>).
ATTESTATION_KIND = "routing-diff"


@dataclass(frozen=True)
class PolicySource:
    """A policy as the user gave it: a file, or a bundle folder and the policy inside it."""

    given: Path
    policy: Path
    #: ``sha256:<hex>`` of the bundle (None for a plain policy file).
    bundle_digest: str | None = None
    bundle_name: str | None = None

    @property
    def is_bundle(self) -> bool:
        """Whether the policy came from a bundle folder."""
        return self.bundle_digest is not None

    @classmethod
    def resolve(cls, path: Path) -> PolicySource:
        """The policy file as given, or the policy inside a bundle folder (checked first).

        Raises:
            VerificationError: a bundle's files do not match its manifest.
        """
        if not path.is_dir():
            return cls(given=path, policy=path)
        from nexusctl.bundle import bundled_policy

        policy, tree = bundled_policy(path)
        return cls(path, policy, bundle_digest=tree.digest, bundle_name=tree.manifest.name)


@dataclass(frozen=True)
class SimulationRun:
    """A finished simulation and where its policies came from."""

    result: SimulationResult
    baseline: PolicySource
    candidate: PolicySource
    #: ``sha256:<hex>`` of the gates file the verdict came from (None: flags and defaults only).
    gates_sha256: str | None = None


def run_job(
    request: SimulationRequest,
    gates: Path | None = None,
    *,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
    fold: TrafficFold | None = None,
) -> SimulationRun:
    """Resolve bundle folders and load the ``gates`` file, then simulate (``run.simulate``).

    ``request.baseline`` and ``request.candidate`` are as the user gave them: policy files
    or bundle folders. ``fold`` chooses another engine (None: the NumPy one).

    Raises:
        VerificationError: a bundle does not match its manifest.
        PolicyLoadError: a policy, catalog or gate file does not load.
        InputError, TrafficError, UsageError: as ``run.simulate``.
    """
    from nexusctl.simulate.gates import load_gates
    from nexusctl.simulate.run import simulate

    baseline = PolicySource.resolve(request.baseline)
    candidate = PolicySource.resolve(request.candidate)
    resolved = dataclasses.replace(
        request,
        baseline=baseline.policy,
        candidate=candidate.policy,
        gate_file=load_gates(gates) if gates is not None else request.gate_file,
    )
    gates_sha256 = None
    if gates is not None:
        from nexusctl.files import sha256_file

        gates_sha256 = "sha256:" + sha256_file(gates, what="gates file")
    result = simulate(resolved, on_start=on_start, progress=progress, fold=fold)
    return SimulationRun(result, baseline, candidate, gates_sha256)


def file_attestation(run: SimulationRun, signer: Signer, target: Path) -> list[Path]:
    """Sign the routing-diff attestation of ``run`` to ``target``; return the files written.

    With a candidate bundle it is also filed as the bundle's ``attestations/routing-diff``.
    The statement's subject is the candidate bundle (else the candidate policy file).

    Raises:
        EnvironmentError_: a file cannot be written (or keyless signing cannot reach Sigstore).
        InputError: the statement cannot be built.
    """
    from nexusctl.simulate.attest import sign_routing_diff

    candidate = run.candidate
    signed = sign_routing_diff(
        run.result,
        signer,
        candidate_name=candidate.bundle_name or run.result.candidate.name,
        baseline_bundle=run.baseline.bundle_digest,
        candidate_bundle=candidate.bundle_digest,
        gates_sha256=run.gates_sha256,
    )
    try:
        target.write_bytes(signed)
    except OSError as exc:
        raise EnvironmentError_(f"{target}: cannot write the attestation: {exc.strerror}") from None
    written = [target]
    if candidate.is_bundle:
        from nexusctl.signing import write_attestation

        written.append(write_attestation(candidate.given, ATTESTATION_KIND, signed))
    return written


def check_verdict(result: SimulationResult) -> None:
    """Raise when a gate failed (after the report and the attestation are out).

    Raises:
        GateFailed: one or more gates failed (named in the message).
    """
    if result.verdict.passed:
        return
    failed = [g.name for g in result.verdict.gates if not g.passed]
    raise GateFailed(
        f"{len(failed)} gate(s) failed: {', '.join(failed)}",
        hint="the report lists each gate's value and threshold",
    )
