"""Config changes, TUF root-rotation style: version N+1 counts only when signed by a threshold
of the admins named in version N (version 1 by a threshold of its own admins).

``propose`` stores the candidate under ``config/proposed/`` with the proposer's signature,
``sign`` adds more admin signatures, ``apply`` checks the threshold against the *previous*
config, moves the files into place and appends a ``config`` record, all in one commit.

Two things travel with a proposal. **TUF roots**: when the change alters the keys the TUF roles
trust (admins, their threshold, releasers), each environment's next root is proposed beside
it and signed by the same ``config sign`` calls; it needs a threshold of the current root's
keys and of its own (``tufroots``). **A trust policy** (``propose --trust-policy FILE``): it is
staged under ``config/proposed/vNNNNNN.trust/`` at the path the new config names (a new path:
records before the change stay judged by the old file), and its digest and those of the files
it names are more subjects of the statement the admins sign (``trustfiles``), so it counts
only with the previous admins' threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nexusctl.canonical import sha256_hex
from nexusctl.clock import Clock
from nexusctl.errors import InputError, UsageError, VerificationError
from nexusctl.files import read_bounded
from nexusctl.registry._context import (
    Actor,
    EventResult,
    Registry,
    commit_record,
    event_session,
)
from nexusctl.registry._store import CONFIG, Store, config_name
from nexusctl.registry.config import LoadedConfig, RegistryConfig, keys_as_environment, load_config
from nexusctl.registry.records import CONFIG_SUBJECT
from nexusctl.registry.trustfiles import (
    MAX_TRUST_FILE_BYTES,
    TRUST_SUBJECT,
    binding,
    held_digest,
    install_trust,
    stage_trust,
    staged_binding,
)
from nexusctl.registry.tufroots import (
    RootProposal,
    check_proposed_roots,
    install_roots,
    metadata_dir,
    propose_roots,
    proposed_roots,
    renewed_environments,
    root_summary,
    sign_roots,
    stale_environments,
)
from nexusctl.statements import PromotionPredicate, RegistryConfigPredicate

PROPOSED = f"{CONFIG}/proposed"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def config_statement(loaded: LoadedConfig, trust: dict[str, str] | None = None) -> bytes:
    """Return the statement an admin signs for a config version (its name, version, digest),
    with the trust policy it brings (``trust``: ``trustfiles.binding``) as more subjects."""
    from nexusctl.statements import ResourceDescriptor, statement_bytes

    meta = loaded.config.metadata
    predicate = RegistryConfigPredicate(name=meta.name, version=meta.version)
    subjects = [ResourceDescriptor.of(CONFIG_SUBJECT, loaded.digest)]
    for name, digest in sorted((trust or {}).items()):
        subjects.append(ResourceDescriptor.of(name, digest))
    return statement_bytes(
        subjects, RegistryConfigPredicate.PREDICATE_TYPE, predicate.model_dump(mode="json")
    )


def signature_dir(version: int, proposed: bool = False) -> str:
    """Return the folder holding admin signatures of config ``version``."""
    base = PROPOSED if proposed else CONFIG
    return f"{base}/{config_name(version).removesuffix('.yaml')}.sig"


def admin_signatures(
    store: Store,
    loaded: LoadedConfig,
    actors: list[Actor],
    previous: RegistryConfig,
    version: int,
    trust: dict[str, str] | None = None,
) -> list[str]:
    """Sign config ``version`` (with the trust policy ``trust`` pins) with each actor, then
    check the previous admins' threshold.

    Raises:
        VerificationError: an actor is not an admin of ``previous``, or the threshold is unmet.
    """
    for actor in actors:
        actor.require(previous.spec.admins.keys, "sign registry config")
        signed = actor.signer.sign_statement(config_statement(loaded, trust))
        store.write(f"{signature_dir(version)}/{actor.id}.json", signed)
    return count_signatures(store.root / signature_dir(version), loaded, previous, trust)


def count_signatures(
    folder: Path,
    loaded: LoadedConfig,
    previous: RegistryConfig,
    trust: dict[str, str] | None = None,
    *,
    legacy: bool = False,
) -> list[str]:
    """Return the distinct admins of ``previous`` whose signatures over ``loaded`` (and the
    trust policy ``trust`` pins, when there is one) verify. ``legacy`` also counts signatures
    over the config alone (registries initialised before init pinned the trust policy).

    Raises:
        VerificationError: ``config-threshold`` when fewer than ``previous.admins.threshold``.
    """
    from nexusctl.signing.verify import verify_signature_file

    admins = keys_as_environment(previous, previous.spec.admins.keys, "registry-admins")
    expected = {config_statement(loaded, trust)}
    if legacy:
        expected.add(config_statement(loaded))
    signers: set[str] = set()
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    for path in files:
        try:
            signed = verify_signature_file(path, admins, what=path.name)
        except VerificationError:
            continue
        if signed.payload in expected:
            signers.add(signed.signer.removeprefix("key:"))
    threshold = previous.spec.admins.threshold
    if len(signers) < threshold:
        what = " with its trust policy" if trust else ""
        raise VerificationError(
            f"config v{loaded.config.metadata.version}{what} has {len(signers)} of the "
            f"{threshold} admin signatures that v{previous.metadata.version} requires",
            reason="config-threshold",
            hint="admins: " + ", ".join(previous.spec.admins.keys),
        )
    return sorted(signers)


@dataclass(frozen=True)
class Proposal:
    """A proposed config: its version, the trust policy it brings, the TUF roots it rotates."""

    version: int
    trust_digest: str | None
    roots: list[dict[str, object]]


def propose(
    root: Path,
    new_config: Path,
    key: Path,
    clock: Clock,
    trust: Path | None = None,
    renew_roots: bool = False,
) -> Proposal:
    """Store ``new_config`` as the proposed next version, signed by the proposer (an admin).

    With ``trust``, the change also brings that trust policy (copied, with the key files it
    names, to the path the new config's ``trustPolicy`` names, which must be new). When the
    change alters the keys the TUF roles trust, each environment's next root is proposed too,
    signed by the proposer where it holds a root key. With ``renew_roots``, every
    environment's next root is proposed, the unchanged ones re-issued with the same keys and a
    new expiry (``ROOT_EXPIRY`` from now): the way to renew roots before they expire.

    Raises:
        InputError: its version is not the current one + 1, or the trust policy is unusable
            (invalid, lacking a trust environment the config names, at a path in use).
        UsageError: the config moves its trust policy and ``trust`` is not given.
        VerificationError: the key is not a current admin.
    """
    with event_session(root, key) as (reg, actor):
        store = reg.store
        loaded = load_config(new_config, check_keys=True)
        version = reg.state.config_version + 1
        if loaded.config.metadata.version != version:
            raise InputError(f"{new_config}: metadata.version must be {version}")
        actor.require(reg.cfg.spec.admins.keys, "propose a config change")
        if trust is None and loaded.config.spec.trust_policy != reg.cfg.spec.trust_policy:
            raise UsageError(
                f"{new_config}: trustPolicy moves to '{loaded.config.spec.trust_policy}' "
                "without a new trust policy",
                hint="give the new trust policy with --trust-policy FILE",
            )
        try:  # the lock is held and the tree was clean: a refused proposal leaves nothing
            store.remove_tree(PROPOSED)
            store.write(f"{PROPOSED}/{config_name(version)}", loaded.raw)
            binding = None
            if trust is not None:
                binding = stage_trust(store, loaded.config, trust, version)
            propose_roots(store, loaded.config, version, clock.now(), renew_roots)
        except BaseException:
            store.undo_uncommitted()
            raise
        trust_digest = binding[TRUST_SUBJECT] if binding else None
        _sign_proposal(store, loaded, actor, version, binding)
        if actor.private is not None:
            sign_roots(store, version, actor.private)
        store.commit(f"config propose: v{version} by {actor.id}", actor.id, clock.now())
        return Proposal(version, trust_digest, root_summary(proposed_roots(store, version)))


@dataclass(frozen=True)
class Signatures:
    """Who has signed a proposal so far: the config (admin ids) and its TUF roots."""

    config: list[str]
    roots: list[dict[str, object]]


def sign_proposal(root: Path, key: Path, clock: Clock) -> Signatures:
    """Add this key's signatures to the proposal: over the config when it is a current admin,
    over each proposed TUF root whose root role (current or next) holds it.

    Raises:
        UsageError: nothing is proposed.
        VerificationError: the key is neither a current admin nor a holder of a proposed
            root's keys.
    """
    store = Store(root)
    with store.locked():
        reg = Registry.open(root, store=store)
        version, loaded = _proposal(store, reg)
        try:
            actor = Actor.from_key(key, reg.cfg)
            admin = actor.id in reg.cfg.spec.admins.keys
        except VerificationError:  # a key only the proposed config names (a new admin)
            actor, admin = Actor.from_key(key, loaded.config), False
        if admin:
            _sign_proposal(store, loaded, actor, version, staged_binding(store, loaded, version))
        assert actor.private is not None
        roots = sign_roots(store, version, actor.private)
        if not admin and not roots:
            actor.require(reg.cfg.spec.admins.keys, "sign a config change")
        store.commit(f"config sign: v{version} by {actor.id}", actor.id, clock.now())
        folder = store.root / signature_dir(version, proposed=True)
        return Signatures(
            sorted(p.stem for p in folder.glob("*.json")),
            root_summary(proposed_roots(store, version)),
        )


def apply(root: Path, key: Path, clock: Clock, releaser_key: Path | None = None) -> EventResult:
    """Apply the proposed config if a threshold of the current admins signed it.

    Its TUF roots (each signed by a threshold of the current root's keys and of its own) and
    its trust policy are moved into place in the same commit. An environment whose current
    targets, snapshot and timestamp the new root no longer trusts (their releaser is removed)
    has them signed again with ``releaser_key``, a releaser of the new config; with that key,
    every environment whose root rotates is signed again.

    Raises:
        UsageError: nothing is proposed; a releaser key is needed and missing.
        VerificationError: ``config-threshold``, ``tuf-root-threshold``, or the key is not a
            current admin (or ``releaser_key`` not a releaser of the new config).
    """
    with event_session(root, key) as (reg, actor):
        store = reg.store
        version, loaded = _proposal(store, reg)
        actor.require(reg.cfg.spec.admins.keys, "apply a config change")
        staged = staged_binding(store, loaded, version)
        if staged is None and loaded.config.spec.trust_policy != reg.cfg.spec.trust_policy:
            raise UsageError(
                f"config v{version} moves trustPolicy but the proposal stages no trust policy",
                hint="propose it again with --trust-policy FILE",
            )
        signed = count_signatures(
            store.root / signature_dir(version, True), loaded, reg.cfg, staged
        )
        roots = check_proposed_roots(store, loaded.config, version)
        resign = _resign(store, roots, loaded, releaser_key)
        store.move(f"{PROPOSED}/{config_name(version)}", f"{CONFIG}/{config_name(version)}")
        store.move(signature_dir(version, True), signature_dir(version))
        install_trust(store, version)
        now = clock.now()
        if resign:  # timestamp last, then the roots: a client reading the folder before the
            # commit sees the old complete set, or a set it refuses, never a mixed one it trusts
            from nexusctl.registry.distribute import publish_metadata

            releaser, names = resign
            for name in names:
                publish_metadata(reg, loaded.config.environment(name), releaser, now)
        install_roots(store, roots)
        store.remove_tree(PROPOSED)
        trust = read_bounded(store.root / loaded.config.spec.trust_policy, MAX_TRUST_FILE_BYTES)
        predicate = reg.next_predicate(
            actor,
            now,
            event="config",
            config_version=version,
            config_digest=loaded.digest,
            trust_policy_digest="sha256:" + sha256_hex(trust),
            config_signatures=signed,
            renewed_roots=renewed_environments(roots),
        )
        return commit_record(store, predicate, actor, now, f"config apply: v{version}")


@dataclass(frozen=True)
class ConfigCheck:
    """What ``check_config_record`` found: the trust policy digest in force after the record,
    and whether the admins' threshold pinned its files (None: the record keeps the trust
    policy in force, and its pinning, as they were)."""

    trust_digest: str
    pinned: bool | None


def check_config_record(
    store: Store,
    predicate: PromotionPredicate,
    new: LoadedConfig,
    previous: LoadedConfig,
    in_force: str | None,
) -> ConfigCheck:
    """``registry verify``: check an init/config record's admin threshold and trust policy.

    The trust policy at the config's ``trustPolicy`` must have the digest the record names.
    The init record, and a config record that brings a trust policy (another path or another
    digest than ``in_force``), count only when a threshold of the previous admins signed the
    config *with* that trust policy and the files it names, as they are now (``trustfiles``);
    a registry initialised before init pinned them may show signatures over the config alone
    at init: it verifies, with ``pinned`` False (its key files are not covered by what the
    admins signed until a config change brings a trust policy again).

    Raises:
        VerificationError: ``config-threshold``, ``trust-policy-changed``.
    """
    version, rel = new.config.metadata.version, new.config.spec.trust_policy
    trust = predicate.trust_policy_digest
    path = store.root / rel
    folder = store.root / signature_dir(version)
    if trust is None or not _DIGEST.match(trust):
        count_signatures(folder, new, previous.config, legacy=True)  # config-threshold first
        raise VerificationError("names no trust policy digest", reason="trust-policy-changed")
    if held_digest(path, rel) != trust:
        raise VerificationError(
            f"{rel} is not the trust policy config v{version}'s record names",
            reason="trust-policy-changed",
        )
    brings = version == 1 or rel != previous.config.spec.trust_policy or trust != in_force
    if not brings:
        count_signatures(folder, new, previous.config)
        return ConfigCheck(trust, None)
    try:
        pinned = binding(store.root, rel)
    except InputError as exc:
        raise VerificationError(str(exc), reason="trust-policy-changed") from None
    try:
        try:
            count_signatures(folder, new, previous.config, pinned)
            return ConfigCheck(trust, pinned=True)
        except VerificationError:
            if version != 1:
                raise
        count_signatures(folder, new, previous.config, pinned, legacy=True)
        return ConfigCheck(trust, pinned=False)
    except VerificationError as exc:
        if not _signed_config(folder, new, previous.config):
            raise VerificationError(str(exc), reason="config-threshold") from None
        raise VerificationError(
            f"{exc} (the trust policy or a file it names is not the one they signed)",
            reason="trust-policy-changed",
        ) from None


def _signed_config(folder: Path, loaded: LoadedConfig, previous: RegistryConfig) -> bool:
    """Return True when a threshold of ``previous``'s admins signed *some* statement naming
    ``loaded`` (then what fails is the trust policy they pinned, not the threshold)."""
    import json

    from nexusctl.signing.verify import verify_signature_file

    admins = keys_as_environment(previous, previous.spec.admins.keys, "registry-admins")
    subject = {"name": CONFIG_SUBJECT, "digest": {"sha256": loaded.digest.removeprefix("sha256:")}}
    signers = set()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            signed = verify_signature_file(path, admins, what=path.name)
            if subject in json.loads(signed.payload).get("subject", []):
                signers.add(signed.signer)
        except (VerificationError, ValueError, AttributeError, RecursionError):
            continue
    return len(signers) >= previous.spec.admins.threshold


def _resign(
    store: Store, roots: list[RootProposal], loaded: LoadedConfig, releaser_key: Path | None
) -> tuple[Actor, list[str]] | None:
    stale = stale_environments(store, roots)
    if releaser_key is None:
        if stale:
            raise UsageError(
                f"the new TUF root of {', '.join(stale)} no longer trusts the key that signed "
                "its current metadata",
                hint="give --releaser-key (a releaser of the new config) to sign it again in "
                "the same commit",
            )
        return None
    releaser = Actor.from_key(releaser_key, loaded.config)
    releaser.require(loaded.config.spec.releasers, "sign TUF metadata (--releaser-key)")
    rotated = {r.environment for r in roots}
    names = [
        env.name
        for env in loaded.config.spec.environments
        if env.name in rotated and (metadata_dir(store, env.name) / "timestamp.json").is_file()
    ]
    return releaser, names


def _proposal(store: Store, reg: Registry) -> tuple[int, LoadedConfig]:
    version = reg.state.config_version + 1
    path = store.root / PROPOSED / config_name(version)
    if not path.is_file():
        raise UsageError("no config change is proposed", hint="`registry config propose` first")
    return version, load_config(path)


def _sign_proposal(
    store: Store, loaded: LoadedConfig, actor: Actor, version: int, trust: dict[str, str] | None
) -> None:
    signed = actor.signer.sign_statement(config_statement(loaded, trust))
    store.write(f"{signature_dir(version, True)}/{actor.id}.json", signed)
