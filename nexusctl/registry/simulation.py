"""``registry promote --simulate``: run the simulation gate's simulation at promotion time.

Baseline: the bundle live in the target environment now (stored in the registry). Candidate:
the bundle being promoted (stored). Traffic: one of the environment's registered samples — the
file given, or the first sample whose ``location`` names a file in the registry — checked by
its SHA-256 against ``trafficSamples``. Gates: the gates file given, which must have the
environment's ``gatesSha256`` when one is configured. The replay is ``nexusctl.simulate``'s
(``run_job``); the routing-diff attestation is signed with the promoter's key and then goes
through exactly the checks a supplied ``--attestation`` does (signature under the
environment's trust policy, subject, baseline live now, traffic, gates, verdict).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nexusctl.errors import UsageError

if TYPE_CHECKING:
    from nexusctl.registry._context import Actor, Registry
    from nexusctl.registry.config import RegistryEnvironment
    from nexusctl.statements import BundleRef


def simulate_for_promotion(
    reg: Registry,
    actor: Actor,
    env: RegistryEnvironment,
    bundle: BundleRef,
    traffic: Path | None,
    gates: Path | None,
) -> bytes | None:
    """Simulate ``bundle`` against what is live in ``env``; return the signed attestation.

    Returns None when nothing is live there (the simulation gate is then skipped).

    Raises:
        UsageError: no registered traffic sample to use, or a traffic/gates file that is not
            the one the environment registers.
        InputError, TrafficError, PolicyLoadError, VerificationError: from the simulation.
    """
    from nexusctl.files import sha256_file
    from nexusctl.simulate.attest import sign_routing_diff
    from nexusctl.simulate.job import run_job
    from nexusctl.simulate.run import SimulationRequest

    live = reg.state.live_in(env.name, bundle.name)
    if live is None:
        return None
    sample = traffic if traffic is not None else _registered_sample(reg, env)
    registered = {s.sha256 for s in env.traffic_samples}
    if sha256_file(sample, what="traffic") not in registered:
        raise UsageError(
            f"{sample} is not a traffic sample registered for '{env.name}'",
            hint="register its sha256 under trafficSamples (a config change)",
        )
    if env.gates_sha256 is not None:
        if gates is None:
            raise UsageError(
                f"'{env.name}' requires the gates file with sha256 {env.gates_sha256}: "
                "pass it with --gates"
            )
        if sha256_file(gates, what="gates file") != env.gates_sha256:
            raise UsageError(f"{gates} is not the gates file configured for '{env.name}'")
    request = SimulationRequest(
        baseline=reg.store.bundle_dir(live.digest),
        candidate=reg.store.bundle_dir(bundle.digest),
        traffic=sample,
    )
    run = run_job(request, gates)
    return sign_routing_diff(
        run.result,
        actor.signer,
        candidate_name=run.candidate.bundle_name or bundle.name,
        baseline_bundle=run.baseline.bundle_digest,
        candidate_bundle=run.candidate.bundle_digest,
        gates_sha256=run.gates_sha256,
    )


def _registered_sample(reg: Registry, env: RegistryEnvironment) -> Path:
    for sample in env.traffic_samples:
        if sample.location is None or "://" in sample.location:
            continue
        path = reg.store.root / sample.location
        if path.resolve().is_relative_to(reg.store.root.resolve()) and path.is_file():
            return path
    raise UsageError(
        f"no traffic sample of '{env.name}' is kept in the registry",
        hint="pass the registered sample's file: --simulate --traffic FILE",
    )
