"""What every registry operation starts from: the clone, its config, its replayed state."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nexusctl.errors import InputError, UsageError
from nexusctl.registry._snapshot import CACHE_NAME, write_head
from nexusctl.registry._state import Approval, State
from nexusctl.registry._store import CONFIG, RECORDS, Store, config_name, record_name
from nexusctl.registry.config import LoadedConfig, RegistryConfig, load_config
from nexusctl.registry.records import read_record, read_unverified, sign_record
from nexusctl.statements import PromotionPredicate

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from nexusctl.signing.signers import Signer
    from nexusctl.signing.trust import ResolvedEnvironment, TrustPolicy


@dataclass(frozen=True)
class Actor:
    """A registry key or identity holder: the signer and the id the config gives it.

    ``private`` is the key for TUF metadata (key actors only); a certificate or keyless actor
    has none, so it may approve and publish but not promote or roll back.
    """

    id: str
    signer: Signer
    private: ec.EllipticCurvePrivateKey | None

    @classmethod
    def from_signer(
        cls, signer: Signer, loaded: LoadedConfig, root: Path, now: dt.datetime
    ) -> Actor:
        """Identify a certificate or keyless signer among the config's identities.

        The signer signs a probe statement (offline for a certificate; a keyless signer goes
        through Fulcio and Rekor) that is verified like a record, by ``policy verify``'s code.

        Raises:
            VerificationError: no identity of the config matches.
        """
        from nexusctl.clock import format_rfc3339
        from nexusctl.errors import VerificationError
        from nexusctl.registry.identities import verify_signed_record

        cfg = loaded.config
        probe = PromotionPredicate.model_validate(
            {
                "sequence": 1,
                "time": format_rfc3339(now),
                "actor": "probe",
                "previous_record": None,
                "event": "init",
                "config_version": 1,
                "config_digest": loaded.digest,
            }
        )
        raw = sign_record(probe, signer)
        signer_id, _ = verify_signed_record(raw, loaded, root, "the signing certificate")
        if signer_id not in {i.id for i in cfg.spec.identities} | {k.id for k in cfg.spec.keys}:
            raise VerificationError(
                f"the signing certificate ({signer_id}) is not named in the registry config",
                reason="untrusted-signer",
            )
        return cls(signer_id, signer, None)

    @classmethod
    def from_key(cls, key_path: Path, config: RegistryConfig) -> Actor:
        """Load ``key_path`` and find its public key among the config's keys.

        Raises:
            InputError: unreadable key.
            VerificationError: the key is not one the registry config names.
        """
        from nexusctl.errors import VerificationError
        from nexusctl.signing import KeySigner
        from nexusctl.signing.keys import load_private_key

        private = load_private_key(key_path)
        own = _spki(private.public_key())
        for key in config.spec.keys:
            from nexusctl.signing.keys import load_public_key

            if _spki(load_public_key(key.pem.encode(), key.id)) == own:
                return cls(key.id, KeySigner(private), private)
        raise VerificationError(
            f"{key_path}: this key is not named in the registry config",
            reason="untrusted-signer",
        )

    def require(self, allowed: list[str], role: str) -> None:
        """Refuse unless this actor's id is in ``allowed``.

        Raises:
            VerificationError: ``untrusted-signer``.
        """
        from nexusctl.errors import VerificationError

        if self.id not in allowed:
            raise VerificationError(
                f"key '{self.id}' is not allowed to {role}",
                reason="untrusted-signer",
                hint="allowed: " + (", ".join(allowed) or "nobody"),
            )


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass
class Registry:
    """A clone with its current config and state (records parsed without signature checks)."""

    store: Store
    state: State
    config: LoadedConfig
    _trust: dict[str, tuple[ResolvedEnvironment, str]] = field(default_factory=dict)
    _verified: dict[tuple[str, str], str] = field(default_factory=dict)
    _configs: dict[int, LoadedConfig] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path, *, store: Store | None = None) -> Registry:
        """Open the registry at ``root`` and replay its log (from the clone's cache onward).

        The cache (``.git/nexusctl-state.json``, never committed) is used only when the record
        it ends at is still there with the same digest; ``registry verify`` never uses it.

        Raises:
            InputError: not a registry, or an empty log.
            VerificationError: a malformed record.
        """
        store = store or Store(root)
        names = store.record_names()  # names, not Paths: 20,000 Path objects cost ~0.1 s
        state = _cached_state(store, names)
        replayed = len(names) - state.sequence
        for name in names[state.sequence :]:
            raw = read_record(store.root / RECORDS / name, name)
            predicate = read_unverified(raw, name)
            state.apply(predicate, "sha256:" + hashlib.sha256(raw).hexdigest(), predicate.actor)
        if state.sequence == 0:
            raise InputError(f"{root}: the registry has no records")
        config = load_config(store.root / CONFIG / config_name(state.config_version))
        if replayed > 0 and state.sequence == len(names):  # a current cache is kept as is
            _save_cache(store, state, names, config)
        return cls(store, state, config)

    @property
    def cfg(self) -> RegistryConfig:
        """The config in effect."""
        return self.config.config

    def trust_environment(self, name: str) -> ResolvedEnvironment:
        """Resolve ``name`` in the registry's trust policy (cached).

        Raises:
            UsageError: the trust policy has no such environment.
            InputError: the trust policy or a key it names is malformed.
        """
        if name not in self._trust:
            from nexusctl.signing import load_trust_policy, resolve_environment

            path = self.store.root / self.cfg.spec.trust_policy
            policy: TrustPolicy = load_trust_policy(path)
            resolved = resolve_environment(policy, path.parent, name)
            # Environments with the same signers and requirements judge a bundle alike.
            identity = policy.spec.environments[name].model_dump_json()
            self._trust[name] = (resolved, identity)
        return self._trust[name][0]

    def check_signature(self, digest: str, trust_env: str, now: dt.datetime) -> str:
        """Verify the stored bundle ``digest`` under ``trust_env``; return the signer.

        Raises:
            VerificationError: the stored bundle fails verification, or is stored under
                another digest (``bundle-tampered``).
        """
        env = self.trust_environment(trust_env)
        key = (digest, self._trust[trust_env][1])
        if key not in self._verified:  # imports only here: verify calls this 8,000 times
            from nexusctl.errors import VerificationError
            from nexusctl.signing import verify_bundle

            report = verify_bundle(self.store.bundle_dir(digest), env, now=now)
            if report.digest != digest:
                raise VerificationError(
                    f"the bundle stored as {digest} has digest {report.digest}",
                    reason="bundle-tampered",
                )
            self._verified[key] = report.signer
        return self._verified[key]

    def accept_verified(self, digest: str, trust_env: str, signer: str) -> None:
        """Take ``check_signature(digest, trust_env, ...)`` as passed with ``signer``.

        For a check done elsewhere in this run by the same code on the same stored bytes and
        trust-policy file (``registry verify``'s workers); never for results kept across runs.
        """
        self.trust_environment(trust_env)
        self._verified.setdefault((digest, self._trust[trust_env][1]), signer)

    def approval_signer(self, approval: Approval) -> str:
        """Return who really signed an approve record (verified; "" when it does not verify).

        The gate counts this, never the record's own ``actor`` claim.
        """
        from nexusctl.errors import NexusError
        from nexusctl.registry.identities import verify_signed_record

        name = record_name(approval.predicate.sequence)
        try:
            raw = read_record(self.store.root / RECORDS / name, name)
            if "sha256:" + hashlib.sha256(raw).hexdigest() != approval.digest:
                return ""
            version = approval.predicate.config_version
            if version not in self._configs:
                self._configs[version] = load_config(
                    self.store.root / CONFIG / config_name(version)
                )
            loaded = self._configs[version]
            signer, predicate = verify_signed_record(raw, loaded, self.store.root, name)
        except (OSError, NexusError):
            return ""
        return signer if predicate == approval.predicate else ""

    def find_bundle(self, name: str, version: int) -> str:
        """Return the digest of published ``name`` v``version``.

        Raises:
            UsageError: not published.
        """
        for digest, ref in self.state.published.items():
            if ref.name == name and ref.version == version:
                return digest
        raise UsageError(f"{name} v{version} is not published in this registry")

    def record(
        self, predicate: PromotionPredicate, actor: Actor, now: dt.datetime, message: str
    ) -> EventResult:
        """Sign, write and commit the record of an event; advance the replayed state by it."""
        result = commit_record(self.store, predicate, actor, now, message)
        if predicate.event != "promote" and predicate.event != "rollback":
            self.state.apply(predicate, result.digest, actor.id)
        else:  # the live set was applied before the TUF metadata was written; relink only
            self.state.sequence, self.state.last_digest = predicate.sequence, result.digest
        return result

    def next_predicate(
        self, actor: Actor, now: dt.datetime, **fields: object
    ) -> PromotionPredicate:
        """Return the predicate of the next record (sequence, chain link, config in effect)."""
        from nexusctl.clock import format_rfc3339

        return PromotionPredicate.model_validate(
            {
                "sequence": self.state.sequence + 1,
                "time": format_rfc3339(now),
                "actor": actor.id,
                "previous_record": self.state.last_digest,
                "config_version": self.state.config_version,
                "config_digest": self.state.config_digest,
                **fields,
            }
        )


@dataclass(frozen=True)
class EventResult:
    """What an event recorded."""

    sequence: int
    event: str
    record: str
    commit: str
    predicate: PromotionPredicate
    digest: str = ""

    def to_json(self) -> dict[str, object]:
        """Return the JSON document the CLI prints."""
        return {
            "sequence": self.sequence,
            "event": self.event,
            "record": self.record,
            "commit": self.commit,
            "predicate": self.predicate.model_dump(mode="json"),
        }


def commit_record(
    store: Store, predicate: PromotionPredicate, actor: Actor, now: dt.datetime, message: str
) -> EventResult:
    record = sign_record(predicate, actor.signer)
    rel = f"{RECORDS}/{record_name(predicate.sequence)}"
    store.write(rel, record)
    commit = store.commit(f"{message} (record {predicate.sequence})", actor.id, now)
    return EventResult(
        sequence=predicate.sequence,
        event=predicate.event,
        record=rel,
        commit=commit,
        predicate=predicate,
        digest="sha256:" + hashlib.sha256(record).hexdigest(),
    )


@contextlib.contextmanager
def event_session(
    root: Path, key: Path | Signer, now: dt.datetime | None = None
) -> Iterator[tuple[Registry, Actor]]:
    """Hold the clone's lock, replay the log, and identify the actor by ``key``.

    Raises:
        InputError: not a registry, or an unreadable key.
        VerificationError: the key is not named in the registry config.
    """
    store = Store(root)
    with store.locked():
        reg = Registry.open(root, store=store)
        if isinstance(key, Path):
            actor = Actor.from_key(key, reg.cfg)
        else:
            moment = now or dt.datetime.now(dt.UTC)
            actor = Actor.from_signer(key, reg.config, store.root, moment)
        yield reg, actor
        if not store.in_bulk():
            save_cache(reg)  # the next query starts from this event's state


def parse_ref(text: str) -> tuple[str, int]:
    """Parse ``NAME@VERSION`` (``retail-chat@3`` or ``retail-chat@v3``).

    Raises:
        UsageError: not in that form.
    """
    name, sep, version = text.rpartition("@")
    version = version.removeprefix("v")
    if not sep or not name or not version.isdigit():
        raise UsageError(f"'{text}' is not NAME@VERSION (e.g. retail-chat@3)")
    return name, int(version)


def _cache_path(store: Store) -> Path:
    return store.git_dir() / CACHE_NAME


def _cached_state(store: Store, names: list[str]) -> State:
    import json

    try:
        doc = json.loads(_cache_path(store).read_bytes())
        state = State.from_cache(doc)
    except (OSError, ValueError, KeyError, TypeError, RecursionError):  # any junk: replay
        return State()
    if not 0 < state.sequence <= len(names):
        return State()
    raw = (store.root / RECORDS / names[state.sequence - 1]).read_bytes()
    if "sha256:" + hashlib.sha256(raw).hexdigest() != state.last_digest:
        return State()
    return state


def save_cache(reg: Registry) -> None:
    """Save ``reg``'s replayed state as the clone-local cache (after a bulk session)."""
    # The last record is the state's own: no need to list (and sort) 20,000 names again.
    _save_cache(reg.store, reg.state, [record_name(reg.state.sequence)], reg.config)


def _save_cache(store: Store, state: State, names: list[str], config: LoadedConfig) -> None:
    import json
    import os
    import tempfile

    last = read_unverified((store.root / RECORDS / names[-1]).read_bytes(), names[-1])
    target = _cache_path(store)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".nexusctl-state.", dir=target.parent)
        doc = state.to_cache(last.time)
        # What `status` needs from the config, valid while the config in effect has this digest.
        doc["summary"] = {
            "config_digest": config.digest,
            "registry": config.config.metadata.name,
            "environments": [env.name for env in config.config.spec.environments],
        }
        # json.dumps, not json.dump: only the one-shot form uses the C encoder (a 2 MB
        # cache of a 20,000-record log costs ~0.5 s of CPU through json.dump's Python one).
        data = json.dumps(doc, separators=(",", ":")).encode("utf-8")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except OSError:
        return  # a cache is an optimisation; failing to write it changes nothing
    write_head(target.parent, doc)
