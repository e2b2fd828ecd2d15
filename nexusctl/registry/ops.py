"""Registry events: init, publish, approve, promote, rollback (one signed record + commit each).

Every event runs under the clone's lock, replays the log, checks, writes its files, signs its
record with the actor's key and commits once (pushing when the clone has a remote).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nexusctl.canonical import canonical_bytes
from nexusctl.clock import Clock, format_rfc3339
from nexusctl.errors import InputError, UsageError, VerificationError
from nexusctl.registry._context import (
    Actor,
    EventResult,
    Registry,
    commit_record,
    event_session,
    parse_ref,
)
from nexusctl.registry._store import (
    BUNDLES,
    CONFIG,
    LIVE,
    Store,
    config_name,
)
from nexusctl.registry.config import LoadedConfig, load_config
from nexusctl.registry.gates import Evidence, GateInputs, run_gates
from nexusctl.statements import ApprovalGrant, BundleRef, PromotionPredicate

if TYPE_CHECKING:
    from nexusctl.signing.signers import Signer

MAX_ATTESTATION_BYTES = 8 * 1024 * 1024


def init_registry(
    root: Path,
    config_path: Path,
    trust_path: Path,
    keys: list[Path],
    clock: Clock,
    releaser_key: Path | None = None,
) -> EventResult:
    """Create a registry: config v1 signed by a threshold of its own admins, the trust policy.

    With ``releaser_key`` (a releaser's key: they sign TUF targets, snapshot and timestamp),
    every environment also gets empty TUF metadata, so a gateway resolving in an environment
    where nothing was promoted yet is told "not live" instead of finding no metadata.

    Raises:
        InputError: ``root`` not empty, bad config/trust policy/keys, or config version not 1.
        VerificationError: fewer admin signatures than the threshold.
    """
    from nexusctl.registry.configchange import admin_signatures
    from nexusctl.registry.trustfiles import binding, copy_trust_policy

    loaded = load_config(config_path, check_keys=True)
    if loaded.config.metadata.version != 1:
        raise InputError(f"{config_path}: the first config must have metadata.version 1")
    actors = [Actor.from_key(k, loaded.config) for k in keys]
    store = Store.create(root)
    try:
        with store.locked():
            now = clock.now()
            store.write(f"{CONFIG}/{config_name(1)}", loaded.raw)
            trust_digest = copy_trust_policy(store, trust_path, loaded.config.spec.trust_policy)
            from nexusctl.registry.identities import copy_trusted_root

            pinned = copy_trusted_root(loaded.config, config_path)
            if pinned is not None:
                store.write(*pinned)
            trust_pins = binding(store.root, loaded.config.spec.trust_policy)
            signed = admin_signatures(store, loaded, actors, loaded.config, 1, trust_pins)
            from nexusctl.registry.distribute import write_roots

            write_roots(
                store, loaded.config, [a.private for a in actors if a.private is not None], now
            )
            if releaser_key is not None:
                _publish_empty(store, loaded, releaser_key, now)
            predicate = PromotionPredicate(
                sequence=1,
                event="init",
                time=format_rfc3339(now),
                actor=actors[0].id,
                previous_record=None,
                config_version=1,
                config_digest=loaded.digest,
                trust_policy_digest=trust_digest,
                config_signatures=signed,
            )
            return commit_record(
                store, predicate, actors[0], now, f"init: registry {loaded.config.metadata.name}"
            )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _publish_empty(store: Store, loaded: LoadedConfig, key: Path, now: dt.datetime) -> None:
    """Write each environment's first (empty) targets, snapshot and timestamp."""
    from nexusctl.registry._state import State
    from nexusctl.registry.distribute import publish_metadata

    releaser = Actor.from_key(key, loaded.config)
    releaser.require(loaded.config.spec.releasers, "sign TUF metadata (--releaser-key)")
    reg = Registry(store, State(), loaded)
    for env in loaded.config.spec.environments:
        publish_metadata(reg, env, releaser, now)


def publish(root: Path, bundle_dir: Path, key: Path | Signer, clock: Clock) -> EventResult:
    """Verify a bundle under the first environment's trust policy and store it.

    Raises:
        VerificationError: the bundle does not verify, or the key may not publish.
        InputError: this name and version (or digest) is already published.
    """
    with event_session(root, key, clock.now()) as (reg, actor):
        return publish_in(reg, actor, bundle_dir, clock)


def publish_in(reg: Registry, actor: Actor, bundle_dir: Path, clock: Clock) -> EventResult:
    """``publish`` inside an open session (the lock held, ``reg`` replayed)."""
    from nexusctl.bundle import check_tree
    from nexusctl.signing import verify_bundle

    store = reg.store
    actor.require(reg.cfg.spec.releasers, "publish")
    now = clock.now()
    first = reg.cfg.spec.environments[0]
    # Copy first, then verify the copy: what is stored is exactly what was verified.
    incoming_rel = f"{BUNDLES}/.incoming"
    incoming = store.root / incoming_rel
    store.remove_tree(incoming_rel)
    if not bundle_dir.is_dir() or bundle_dir.is_symlink():
        raise InputError(f"{bundle_dir}: not a bundle folder")
    store.copy_tree(bundle_dir, incoming_rel)
    try:
        verify_bundle(incoming, reg.trust_environment(first.trust_environment), now=now)
        tree = check_tree(incoming)
    except BaseException:
        store.remove_tree(incoming_rel)
        raise
    ref = BundleRef(
        name=tree.manifest.policy.name, version=tree.manifest.policy.version, digest=tree.digest
    )
    for digest, other in reg.state.published.items():
        if digest == ref.digest or (other.name, other.version) == (ref.name, ref.version):
            store.remove_tree(incoming_rel)
            raise InputError(
                f"{ref.name} v{ref.version} is already published ({digest}); "
                "published bundles are never rewritten",
                hint="bump metadata.version in the policy and bundle it again",
            )
    store.move(incoming_rel, f"{BUNDLES}/{ref.digest.removeprefix('sha256:')}")
    predicate = reg.next_predicate(actor, now, event="publish", bundle=ref)
    return reg.record(predicate, actor, now, f"publish: {ref.name} v{ref.version}")


def approve(
    root: Path,
    name: str,
    version: int,
    env_name: str,
    key: Path | Signer,
    clock: Clock,
    *,
    purpose: str = "promote",
    expires_in: dt.timedelta | None = None,
) -> EventResult:
    """Record a signed approval of ``name`` v``version`` for ``env_name`` (with an expiry).

    Raises:
        VerificationError: the key is not an approver for that environment.
        UsageError: unknown environment or unpublished version, or too long an expiry.
    """
    with event_session(root, key, clock.now()) as (reg, actor):
        return approve_in(
            reg, actor, name, version, env_name, clock, purpose=purpose, expires_in=expires_in
        )


def approve_in(
    reg: Registry,
    actor: Actor,
    name: str,
    version: int,
    env_name: str,
    clock: Clock,
    *,
    purpose: str = "promote",
    expires_in: dt.timedelta | None = None,
) -> EventResult:
    """``approve`` inside an open session."""
    env = reg.cfg.environment(env_name)
    quorum = env.override_approvers if purpose == "override" else env.approvers
    actor.require(quorum.keys, f"approve {purpose} in '{env_name}'")
    now = clock.now()
    lifetime = expires_in or dt.timedelta(seconds=env.approval_max_age_seconds)
    if lifetime.total_seconds() > env.approval_max_age_seconds or lifetime.total_seconds() <= 0:
        raise UsageError(
            f"an approval in '{env_name}' may last at most {env.approval_max_age_seconds}s"
        )
    ref = BundleRef(name=name, version=version, digest=reg.find_bundle(name, version))
    grant = ApprovalGrant.model_validate(
        {"purpose": purpose, "expires": format_rfc3339(now + lifetime)}
    )
    predicate = reg.next_predicate(
        actor, now, event="approve", environment=env_name, bundle=ref, grant=grant
    )
    return reg.record(
        predicate, actor, now, f"approve: {name} v{version} for {env_name} ({purpose})"
    )


def promote(
    root: Path,
    name: str,
    version: int,
    env_name: str,
    key: Path | Signer,
    clock: Clock,
    *,
    attestation: Path | None = None,
    override: bool = False,
    simulate: Simulate | None = None,
    tuf_key: Path | None = None,
) -> EventResult:
    """Promote ``name`` v``version`` into ``env_name`` if every gate passes.

    ``simulate`` runs the simulation now (``nexusctl.registry.simulation``) instead of taking
    an ``attestation`` file. ``key`` is a releaser's key, or the signer of a releaser named by
    a certificate or keyless identity, who signs the TUF metadata with ``tuf_key`` (a key of
    the config's ``tufKeys`` or a releaser's).

    Raises:
        RegistryGateFailed: a gate failed (nothing is written).
        VerificationError: the key may not promote, or the attestation does not verify.
        UsageError: both ``attestation`` and ``simulate``.
    """
    if attestation is not None and simulate is not None:
        raise UsageError("give --attestation or --simulate, not both")
    with event_session(root, key, clock.now()) as (reg, actor):
        return move_in(
            reg, actor, name, version, env_name, clock, attestation, override, None, simulate,
            tuf_key,
        )  # fmt: skip


@dataclass(frozen=True)
class Simulate:
    """``promote --simulate``: the traffic sample and gates file to run with (None: defaults)."""

    traffic: Path | None = None
    gates: Path | None = None


def rollback(
    root: Path,
    name: str,
    env_name: str,
    version: int,
    reason: str,
    key: Path | Signer,
    clock: Clock,
    tuf_key: Path | None = None,
) -> EventResult:
    """Make an earlier live version live again, as a new forward record with a reason.

    ``key`` and ``tuf_key`` as for ``promote``.

    Raises:
        RegistryGateFailed: that version was never live there, or a rollback gate failed.
        UsageError: an empty reason.
    """
    if not reason.strip():
        raise UsageError("a rollback needs a --reason")
    with event_session(root, key, clock.now()) as (reg, actor):
        return move_in(
            reg, actor, name, version, env_name, clock, None, False, reason, None, tuf_key
        )


def move_in(
    reg: Registry,
    actor: Actor,
    name: str,
    version: int,
    env_name: str,
    clock: Clock,
    attestation: Path | None,
    override: bool,
    reason: str | None,
    simulate: Simulate | None = None,
    tuf_key: Path | None = None,
) -> EventResult:
    """``promote`` (``reason`` None) or ``rollback`` inside an open session."""
    store = reg.store
    env = reg.cfg.environment(env_name)
    actor.require(reg.cfg.spec.releasers, "promote or roll back")
    metadata_signer = _metadata_signer(reg, actor, tuf_key)
    now = clock.now()
    ref = BundleRef(name=name, version=version, digest=reg.find_bundle(name, version))
    evidence = None
    if attestation is not None:
        evidence = load_attestation(reg, attestation, env.trust_environment, ref, now)
    elif simulate is not None and "simulation" in env.gates and reason is None:
        from nexusctl.registry.simulation import simulate_for_promotion

        signed = simulate_for_promotion(reg, actor, env, ref, simulate.traffic, simulate.gates)
        if signed is not None:
            shown = f"the simulation of {name} v{version} against {env_name}"
            evidence = attestation_evidence(reg, signed, shown, env.trust_environment, ref, now)
    previous = reg.state.live_in(env_name, name)
    gates, approvals, overridden = run_gates(
        GateInputs(
            state=reg.state,
            config=reg.cfg,
            env=env,
            bundle=ref,
            time=now,
            rollback=reason is not None,
            override=override,
            evidence=evidence,
            check_signature=lambda digest, trust: reg.check_signature(digest, trust, now),
            approval_signer=reg.approval_signer,
        )
    )
    if evidence is not None and any(g.evidence == evidence.digest for g in gates):
        store.write(_evidence_rel(evidence.digest), evidence.raw)
    event = "rollback" if reason is not None else "promote"
    predicate = reg.next_predicate(
        actor,
        now,
        event=event,
        environment=env_name,
        bundle=ref,
        previous_live=previous.digest if previous else None,
        gates=[g.model_dump() for g in gates],
        approvals=approvals,
        override=overridden,
        reason=reason,
    )
    reg.state.apply(predicate, "pending", actor.id)
    store.write(f"{LIVE}/{env_name}.json", canonical_bytes(reg.state.live_document(env_name)))
    from nexusctl.registry.distribute import publish_metadata

    publish_metadata(reg, env, metadata_signer, now)
    verb = "rollback" if reason is not None else "promote"
    return reg.record(predicate, actor, now, f"{verb}: {name} v{version} to {env_name}")


def _metadata_signer(reg: Registry, actor: Actor, tuf_key: Path | None) -> Actor:
    """Return who signs the TUF metadata: ``tuf_key``'s holder, else the (key) actor.

    Raises:
        UsageError: a certificate or keyless actor without ``tuf_key``.
        VerificationError: ``tuf_key`` is neither a releaser's key nor one of ``tufKeys``.
    """
    if tuf_key is None:
        if actor.private is None:
            raise UsageError(
                f"'{actor.id}' signs with a certificate; its TUF metadata needs --tuf-key",
                hint="a key of the config's tufKeys (or a releaser's key)",
            )
        return actor
    holder = Actor.from_key(tuf_key, reg.cfg)
    holder.require([*reg.cfg.spec.releasers, *reg.cfg.spec.tuf_keys], "sign TUF metadata")
    return holder


def _evidence_rel(digest: str) -> str:
    return f"evidence/{digest.removeprefix('sha256:')}.json"


def load_attestation(
    reg: Registry, path: Path, trust_env: str, ref: BundleRef, now: dt.datetime
) -> Evidence:
    """Verify a routing-diff attestation file under ``trust_env`` and return it as evidence.

    Raises:
        VerificationError: unsigned, signed by someone the trust policy does not allow, not a
            routing-diff statement, or not about this bundle.
    """
    from nexusctl.files import read_bounded

    raw = read_bounded(path, MAX_ATTESTATION_BYTES, what="attestation")
    return attestation_evidence(reg, raw, str(path), trust_env, ref, now)


def attestation_evidence(
    reg: Registry, raw: bytes, shown: str, trust_env: str, ref: BundleRef, now: dt.datetime
) -> Evidence:
    """Verify routing-diff attestation bytes (see ``load_attestation``); ``shown`` names them.

    Raises:
        VerificationError: as ``load_attestation``.
    """
    from nexusctl.signing.verify import verify_signature_bytes
    from nexusctl.statements import RoutingDiffPredicate, StatementError, parse_statement

    path = shown
    # The bytes verified are the bytes kept as evidence (never re-read from a path).
    signed = verify_signature_bytes(raw, reg.trust_environment(trust_env), now=now, what=shown)
    try:
        statement = parse_statement(signed.payload, RoutingDiffPredicate)
    except StatementError as exc:
        reason = "wrong-predicate" if exc.kind != "predicate" else "malformed-predicate"
        raise VerificationError(
            f"{path}: not a routing-diff attestation ({exc})", reason=reason
        ) from None
    if not statement.names_digest(ref.digest.removeprefix("sha256:")):
        raise VerificationError(
            f"{path}: the attestation is not about {ref.name} v{ref.version}",
            reason="attestation-subject-mismatch",
        )
    return Evidence(
        digest="sha256:" + hashlib.sha256(raw).hexdigest(),
        predicate=statement.predicate,
        raw=raw,
    )


def pull(root: Path) -> str:
    """Fast-forward the clone at ``root`` from its remote; return the new HEAD commit.

    Raises:
        ConflictError: the clone has diverged from its remote.
        EnvironmentError_: git could not reach the remote.
    """
    return Store(root).pull()


__all__ = [
    "EventResult",
    "Simulate",
    "approve",
    "init_registry",
    "parse_ref",
    "promote",
    "publish",
    "pull",
    "rollback",
]
