"""Config changes, TUF root-rotation style: version N+1 counts only when signed by a threshold
of the admins named in version N (version 1 by a threshold of its own admins).

``propose`` stores the candidate under ``config/proposed/`` with the proposer's signature,
``sign`` adds more admin signatures, ``apply`` checks the threshold against the *previous*
config, moves the files into place and appends a ``config`` record.
"""

from __future__ import annotations

import shutil
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
from nexusctl.statements import RegistryConfigPredicate

PROPOSED = f"{CONFIG}/proposed"
MAX_TRUST_FILE_BYTES = 8 * 1024 * 1024


def config_statement(loaded: LoadedConfig) -> bytes:
    """Return the statement an admin signs for a config version (its name, version, digest)."""
    from nexusctl.statements import ResourceDescriptor, statement_bytes

    meta = loaded.config.metadata
    predicate = RegistryConfigPredicate(name=meta.name, version=meta.version)
    return statement_bytes(
        [ResourceDescriptor.of(CONFIG_SUBJECT, loaded.digest)],
        RegistryConfigPredicate.PREDICATE_TYPE,
        predicate.model_dump(mode="json"),
    )


def signature_dir(version: int, proposed: bool = False) -> str:
    """Return the folder holding admin signatures of config ``version``."""
    base = PROPOSED if proposed else CONFIG
    return f"{base}/{config_name(version).removesuffix('.yaml')}.sig"


def admin_signatures(
    store: Store, loaded: LoadedConfig, actors: list[Actor], previous: RegistryConfig, version: int
) -> list[str]:
    """Sign config ``version`` with each actor, then check the previous admins' threshold.

    Raises:
        VerificationError: an actor is not an admin of ``previous``, or the threshold is unmet.
    """
    for actor in actors:
        actor.require(previous.spec.admins.keys, "sign registry config")
        signed = actor.signer.sign_statement(config_statement(loaded))
        store.write(f"{signature_dir(version)}/{actor.id}.json", signed)
    return count_signatures(store.root / signature_dir(version), loaded, previous)


def count_signatures(folder: Path, loaded: LoadedConfig, previous: RegistryConfig) -> list[str]:
    """Return the distinct admins of ``previous`` whose signatures over ``loaded`` verify.

    Raises:
        VerificationError: ``config-threshold`` when fewer than ``previous.admins.threshold``.
    """
    from nexusctl.signing.verify import verify_signature_file

    admins = keys_as_environment(previous, previous.spec.admins.keys, "registry-admins")
    expected = config_statement(loaded)
    signers: set[str] = set()
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    for path in files:
        try:
            signed = verify_signature_file(path, admins, what=path.name)
        except VerificationError:
            continue
        if signed.payload == expected:
            signers.add(signed.signer.removeprefix("key:"))
    threshold = previous.spec.admins.threshold
    if len(signers) < threshold:
        raise VerificationError(
            f"config v{loaded.config.metadata.version} has {len(signers)} of the {threshold} "
            f"admin signatures that v{previous.metadata.version} requires",
            reason="config-threshold",
            hint="admins: " + ", ".join(previous.spec.admins.keys),
        )
    return sorted(signers)


def copy_trust_policy(store: Store, trust_path: Path, rel: str) -> str:
    """Copy the trust policy (and the key/CA/root files it names) into the registry.

    Returns the ``sha256:<hex>`` of the trust policy file.

    Raises:
        InputError: the trust policy is invalid or names a file outside its folder.
    """
    from nexusctl.signing import load_trust_policy

    policy = load_trust_policy(trust_path)
    raw = read_bounded(trust_path, MAX_TRUST_FILE_BYTES, what="trust policy")
    target = store.write(rel, raw)
    names: list[str] = []
    for env in policy.spec.environments.values():
        names += [k.path for k in env.keys if k.path is not None]
        names += [ca.path for ca in env.certificate_authorities]
        names += [env.trusted_root] if env.trusted_root else []
    for name in names:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts:
            raise InputError(f"{trust_path}: '{name}' is outside the trust policy's folder")
        data = read_bounded(trust_path.parent / name, MAX_TRUST_FILE_BYTES, what="trust file")
        store.write(str((target.parent / name).relative_to(store.root)), data)
    return "sha256:" + sha256_hex(raw)


def propose(root: Path, new_config: Path, key: Path, clock: Clock) -> int:
    """Store ``new_config`` as the proposed next version, signed by the proposer (an admin).

    Raises:
        InputError: its version is not the current one + 1.
        VerificationError: the key is not a current admin.
    """
    with event_session(root, key) as (reg, actor):
        store = reg.store
        loaded = load_config(new_config, check_keys=True)
        version = reg.state.config_version + 1
        if loaded.config.metadata.version != version:
            raise InputError(f"{new_config}: metadata.version must be {version}")
        actor.require(reg.cfg.spec.admins.keys, "propose a config change")
        shutil.rmtree(store.root / PROPOSED, ignore_errors=True)
        store.write(f"{PROPOSED}/{config_name(version)}", loaded.raw)
        _sign_proposal(store, loaded, actor, version)
        store.commit(f"config propose: v{version} by {actor.id}", actor.id, clock.now())
        return version


def sign_proposal(root: Path, key: Path, clock: Clock) -> list[str]:
    """Add this admin's signature to the proposed config; return who has signed so far.

    Raises:
        UsageError: nothing is proposed.
        VerificationError: the key is not a current admin.
    """
    with event_session(root, key) as (reg, actor):
        store = reg.store
        version, loaded = _proposal(store, reg)
        actor.require(reg.cfg.spec.admins.keys, "sign a config change")
        _sign_proposal(store, loaded, actor, version)
        store.commit(f"config sign: v{version} by {actor.id}", actor.id, clock.now())
        folder = store.root / signature_dir(version, proposed=True)
        return sorted(p.stem for p in folder.glob("*.json"))


def apply(root: Path, key: Path, clock: Clock) -> EventResult:
    """Apply the proposed config if a threshold of the current admins signed it.

    Raises:
        UsageError: nothing is proposed.
        VerificationError: ``config-threshold``, or the key is not a current admin.
    """
    with event_session(root, key) as (reg, actor):
        store = reg.store
        version, loaded = _proposal(store, reg)
        actor.require(reg.cfg.spec.admins.keys, "apply a config change")
        signed = count_signatures(store.root / signature_dir(version, True), loaded, reg.cfg)
        (store.root / PROPOSED / config_name(version)).rename(
            store.root / CONFIG / config_name(version)
        )
        (store.root / signature_dir(version, True)).rename(store.root / signature_dir(version))
        shutil.rmtree(store.root / PROPOSED, ignore_errors=True)
        trust = read_bounded(store.root / loaded.config.spec.trust_policy, MAX_TRUST_FILE_BYTES)
        now = clock.now()
        predicate = reg.next_predicate(
            actor,
            now,
            event="config",
            config_version=version,
            config_digest=loaded.digest,
            trust_policy_digest="sha256:" + sha256_hex(trust),
            config_signatures=signed,
        )
        return commit_record(store, predicate, actor, now, f"config apply: v{version}")


def _proposal(store: Store, reg: Registry) -> tuple[int, LoadedConfig]:
    version = reg.state.config_version + 1
    path = store.root / PROPOSED / config_name(version)
    if not path.is_file():
        raise UsageError("no config change is proposed", hint="`registry config propose` first")
    return version, load_config(path)


def _sign_proposal(store: Store, loaded: LoadedConfig, actor: Actor, version: int) -> None:
    signed = actor.signer.sign_statement(config_statement(loaded))
    store.write(f"{signature_dir(version, True)}/{actor.id}.json", signed)
