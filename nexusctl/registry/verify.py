"""``registry verify``: prove the whole history from the first config onward.

Checks, record by record in log order (the first failure names the record, exit 5):

1. names are contiguous zero-padded sequence numbers (``sequence-gap``);
2. the record is signed by a key of the config in effect (``untrusted-signer``,
   ``bad-signature``) and the actor it names is that key (``actor-mismatch``);
3. its sequence and the digest of the record before it match (``chain-broken``), time never
   goes backwards (``time-regression``);
4. init/config: the config file has that digest, and a threshold of the *previous* admins
   signed it (``config-mismatch``, ``config-threshold``) — with the trust policy it brings, when
   it names another one, whose file must have that digest (``trust-policy-changed``); each
   environment's TUF root it implies is there, signed by a threshold of the previous root's
   keys and of its own (``tuf-mismatch``, ``tuf-root-threshold``); other records name the
   config in effect (``config-mismatch``);
5. the actor may do this event (``untrusted-signer``); a published bundle's stored bytes match
   its digest (``bundle-tampered``); promotions and rollbacks pass every gate again, at the
   record's time, on evidence in the repository, with the same verdicts (``gate-<name>``,
   ``gate-mismatch``).

When a config names ``commitSigners``, each record's commit must be SSH-signed by one of the
signers of the config in effect before it (``commit-unsigned``; see ``commits``).

Then the derived files: every ``live/<env>.json`` equals the replayed live set
(``live-tampered``), every stored bundle was published (``unrecorded-bundle``), the trust
policy is the one the last config record names (``trust-policy-changed``), and each
environment's TUF targets are signed per its latest root, which a config record justifies, and
list exactly the live set (``tuf-mismatch``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

from nexusctl.canonical import canonical_bytes, sha256_hex
from nexusctl.clock import SYSTEM_CLOCK, Clock, format_rfc3339, parse_rfc3339
from nexusctl.errors import InputError, VerificationError
from nexusctl.registry._context import Registry
from nexusctl.registry._prefetch import (
    Prefetched,
    fingerprints,
    parse_evidence,
    prefetch,
)
from nexusctl.registry._state import State
from nexusctl.registry._store import (
    BUNDLES,
    CONFIG,
    LIVE,
    RECORDS,
    TUF,
    Store,
    config_name,
    record_name,
)
from nexusctl.registry.config import LoadedConfig, load_config
from nexusctl.registry.configchange import check_config_record
from nexusctl.registry.gates import Evidence, GateInputs, RegistryGateFailed, run_gates
from nexusctl.registry.identities import verify_signed_record
from nexusctl.registry.ops import MAX_ATTESTATION_BYTES
from nexusctl.registry.records import read_record, verify_record
from nexusctl.registry.trustfiles import held_digest
from nexusctl.registry.tufroots import MAX_TUF_BYTES, RootChain
from nexusctl.statements import PromotionPredicate

CLOCK_SKEW = dt.timedelta(minutes=5)


def verify_registry(
    root: Path, known: tuple[int, str] | None = None, *, clock: Clock = SYSTEM_CLOCK
) -> dict[str, Any]:
    """Verify the registry at ``root``; return a summary (records, head, live sets).

    ``known`` is a (sequence, record digest) a consumer verified before: the history must
    still contain it (a rewritten, force-pushed history does not). No record may be later
    than ``clock`` (plus five minutes of skew).

    Raises:
        VerificationError: the first bad record or file, with its reason code.
    """
    store = Store(root)
    if store.dirty():
        store.close()
        raise VerificationError(
            f"{root}: uncommitted changes (an event was interrupted)",
            reason="uncommitted-event",
            hint="the next registry command on this clone undoes it; or `git stash` to inspect",
        )
    store.close()
    names = store.record_names()  # names, not Paths: 20,000 Path objects cost ~0.3 s
    if not names:
        raise VerificationError(f"{root}: no records", reason="sequence-gap")
    replay = _Replay(store, format_rfc3339(clock.now() + CLOCK_SKEW))
    folder = str(store.root / RECORDS)
    checked = prefetch([os.path.join(folder, n) for n in names], replay.all_configs(), store.root)
    for index, name in enumerate(names, 1):
        _, digest = replay.record(index, name, next(checked))
        if known is not None and known[0] == index and known[1] != digest:
            raise VerificationError(
                f"record {index} is not the one verified before (history was rewritten)",
                reason="history-rewritten",
            )
    state, reg = replay.state, replay.reg
    if any(c.config.spec.commit_signers for c in replay.configs.values()):
        from nexusctl.registry.commits import check_commit_signatures

        check_commit_signatures(root, replay.governed)
    if known is not None and known[0] > state.sequence:
        raise VerificationError(
            f"the log has {state.sequence} records; {known[0]} were verified before",
            reason="history-rewritten",
        )
    _check_derived(store, reg, replay.trust_digest or "", replay.roots)
    return {
        "ok": True,
        "records": state.sequence,
        "head": state.last_digest,
        "config_version": state.config_version,
        "live": {
            env.name: state.live_document(env.name)["live"] for env in reg.cfg.spec.environments
        },
        "roots": replay.roots.expiries(),
        "trust_files_pinned": replay.trust_pinned,
    }


class _Replay:
    def __init__(self, store: Store, latest: str) -> None:
        self.store = store
        self.latest = parse_rfc3339(latest)
        self.state = State()
        self.configs: dict[int, LoadedConfig] = {}
        self.fingerprints: dict[str, dict[str, str]] = {}
        #: record file name -> (sequence, config in effect before it): whose commit signers.
        self.governed: dict[str, tuple[int, LoadedConfig]] = {}
        self.reg = Registry(store, self.state, self.config(1, "config v1"))
        self.last_time: dt.datetime | None = None
        self.trust_digest: str | None = None
        #: Whether the admins' threshold signed the trust policy's files (see configchange).
        self.trust_pinned = True
        self.roots = RootChain(store)
        #: The workers' extra checks for the record being replayed (see ``_prefetch``).
        self.checked: Prefetched | None = None

    def config(self, version: int, what: str) -> LoadedConfig:
        if version not in self.configs:
            path = self.store.root / CONFIG / config_name(version)
            try:
                self.configs[version] = load_config(path)
            except InputError as exc:
                raise VerificationError(f"{what}: {exc}", reason="config-mismatch") from None
        return self.configs[version]

    def all_configs(self) -> list[LoadedConfig]:
        """Every config version in the repository that loads (for the signature workers)."""
        out = []
        for path in self.store.config_paths():
            try:
                out.append(load_config(path))
            except InputError:
                continue  # the replay names it when a record relies on it
        return out

    def record(
        self, index: int, name: str, checked: Prefetched | None = None
    ) -> tuple[PromotionPredicate, str]:
        """Check the record file ``name`` as the ``index``-th of the log; apply it."""
        what = f"record {index} ({name})"
        if name != record_name(index):
            raise VerificationError(
                f"{what}: expected {record_name(index)} (a record is missing or inserted)",
                reason="sequence-gap",
            )
        version = self.state.config_version or 1
        cfg = self.config(version, what)
        if index > 1:
            self.governed[name] = (index, cfg)
        found = None
        if checked is not None and checked.fingerprint is not None:
            if cfg.digest not in self.fingerprints:
                self.fingerprints[cfg.digest] = fingerprints(cfg)
            signer_id = self.fingerprints[cfg.digest].get(checked.fingerprint)
            if signer_id is not None and checked.predicate is not None:
                found = (checked.digest, signer_id, checked.predicate)
        if found is not None:
            digest, signer, predicate = found
        else:  # checked here, in order (and named exactly, when it fails)
            path = self.store.root / RECORDS / name
            raw = read_record(path, what)
            digest = "sha256:" + hashlib.sha256(raw).hexdigest()
            if cfg.config.spec.identities:
                signer, predicate = verify_signed_record(raw, cfg, self.store.root, what)
            else:
                signer, predicate = verify_record(path, cfg.signers(), what, raw)
        if predicate.actor != signer:
            raise VerificationError(
                f"{what}: names actor '{predicate.actor}' but was signed by '{signer}'",
                reason="actor-mismatch",
            )
        if predicate.sequence != index or predicate.previous_record != self.state.last_digest:
            raise VerificationError(
                f"{what}: does not link to the record before it", reason="chain-broken"
            )
        moment = parse_rfc3339(predicate.time)
        if self.last_time is not None and moment < self.last_time:
            raise VerificationError(f"{what}: time goes backwards", reason="time-regression")
        if moment > self.latest:
            raise VerificationError(
                f"{what}: dated {predicate.time}, later than now", reason="time-in-future"
            )
        self.last_time = moment
        self.checked = checked
        try:
            self._event(predicate, signer, what)
        except RegistryGateFailed as exc:
            raise VerificationError(f"{what}: {exc}", reason=f"gate-{exc.gate}") from None
        except VerificationError as exc:
            if exc.reason.startswith(("gate", "config", "bundle", "untrusted", "trust", "tuf")):
                raise VerificationError(f"{what}: {exc}", reason=exc.reason) from None
            raise VerificationError(f"{what}: {exc}", reason="gate-signature") from None
        self.state.apply(predicate, digest, signer)
        return predicate, digest

    def _event(self, predicate: PromotionPredicate, signer: str, what: str) -> None:
        event = predicate.event
        if (event == "init") != (predicate.sequence == 1):
            raise VerificationError(f"{what}: only the first record is init", reason="chain-broken")
        if event in ("init", "config"):
            self._config_event(predicate, signer, what)
            return
        if predicate.trust_policy_digest is not None:
            raise VerificationError(
                f"{what}: only config records name a trust policy", reason="trust-policy-changed"
            )
        if (predicate.config_version, predicate.config_digest) != (
            self.state.config_version,
            self.state.config_digest,
        ):
            raise VerificationError(
                f"{what}: names a config that is not in effect", reason="config-mismatch"
            )
        cfg = self.reg.cfg
        bundle = predicate.bundle
        if bundle is None:
            raise VerificationError(f"{what}: names no bundle", reason="malformed-record")
        if event == "publish":
            _require(signer, cfg.spec.releasers, what)
            self._check_stored(bundle.digest, what, predicate.time)
            return
        if self.state.published.get(bundle.digest) != bundle:
            raise VerificationError(
                f"{what}: the bundle was never published", reason="chain-broken"
            )
        env = cfg.environment(predicate.environment or "")
        if event == "approve":
            grant = predicate.grant
            purpose = grant.purpose if grant else "promote"
            quorum = env.override_approvers if purpose == "override" else env.approvers
            _require(signer, quorum.keys, what)
            return
        _require(signer, cfg.spec.releasers, what)
        self._move(predicate, env, what)

    def _move(self, predicate: PromotionPredicate, env: Any, what: str) -> None:
        assert predicate.bundle is not None
        moment = parse_rfc3339(predicate.time)
        evidence = None
        for gate in predicate.gates:
            if gate.name == "simulation" and gate.evidence is not None:
                evidence = self._evidence(gate.evidence, what)
        previous = self.state.live_in(env.name, predicate.bundle.name)
        if predicate.previous_live != (previous.digest if previous else None):
            raise VerificationError(f"{what}: wrong previous live digest", reason="gate-mismatch")
        gates, approvals, overridden = run_gates(
            GateInputs(
                state=self.state,
                config=self.reg.cfg,
                env=env,
                bundle=predicate.bundle,
                time=moment,
                rollback=predicate.event == "rollback",
                override=predicate.override,
                evidence=evidence,
                check_signature=lambda d, t: self._signature(d, t, moment),
            )
        )
        if (
            [(g.name, g.verdict, g.evidence) for g in gates]
            != [(g.name, g.verdict, g.evidence) for g in predicate.gates]
            or sorted(approvals) != sorted(predicate.approvals)
            or overridden != predicate.override
        ):
            raise VerificationError(
                f"{what}: recorded gate verdicts differ from the evidence", reason="gate-mismatch"
            )

    def _signature(self, digest: str, trust_env: str, moment: Any) -> str:
        try:
            return self.reg.check_signature(digest, trust_env, moment)
        except InputError as exc:
            raise VerificationError(
                f"the stored trust policy is unusable: {exc}", reason="trust-policy-changed"
            ) from None

    def _evidence(self, digest: str, what: str) -> Evidence:
        for done in self.checked.evidence if self.checked else ():
            if done.digest == digest:  # a worker read the file with this digest and parsed it
                return done
        path = self.store.evidence_path(digest)
        try:
            raw = read_record(path, what, MAX_ATTESTATION_BYTES, "gate-simulation")
        except VerificationError:
            raw = b""
        if not raw or "sha256:" + sha256_hex(raw) != digest:
            raise VerificationError(
                f"{what}: evidence {digest} is missing or altered", reason="gate-simulation"
            )
        # The file's digest is the one the promotion verified its signature over.
        evidence = parse_evidence(raw, digest)
        if evidence is None:
            raise VerificationError(
                f"{what}: evidence {digest} is not a routing-diff attestation",
                reason="gate-simulation",
            )
        return evidence

    def _check_stored(self, digest: str, what: str, time: str) -> None:
        # As at publish: the stored bytes verify under the first environment's trust policy.
        first = self.reg.cfg.spec.environments[0].trust_environment
        policy = self.reg.cfg.spec.trust_policy
        for done in self.checked.stored if self.checked else ():
            if (done.policy, done.environment, done.time, done.digest) == (
                policy,
                first,
                time,
                digest,
            ):  # a worker ran this very check, and it passed
                with contextlib.suppress(InputError):  # the check below names it
                    self.reg.accept_verified(digest, first, done.signer)
        moment = parse_rfc3339(time)
        try:
            self._signature(digest, first, moment)
        except VerificationError as exc:
            if exc.reason == "trust-policy-changed":
                raise
            raise VerificationError(
                f"{what}: stored bundle: {exc}", reason="bundle-tampered"
            ) from None

    def _config_event(self, predicate: PromotionPredicate, signer: str, what: str) -> None:
        version = predicate.config_version
        if version != self.state.config_version + 1:
            raise VerificationError(
                f"{what}: config versions must go up by one", reason="config-mismatch"
            )
        new = self.config(version, what)
        previous = new if version == 1 else self.config(version - 1, what)
        if new.digest != predicate.config_digest:
            raise VerificationError(
                f"{what}: config v{version} was changed", reason="config-mismatch"
            )
        _require(signer, previous.config.spec.admins.keys, what)
        checked = check_config_record(self.store, predicate, new, previous, self.trust_digest)
        self.trust_digest = checked.trust_digest
        if checked.pinned is not None:
            self.trust_pinned = checked.pinned
        self.roots.advance(new.config, predicate.renewed_roots)
        self.reg = Registry(self.store, self.state, new)


def _require(signer: str, allowed: list[str], what: str) -> None:
    if signer not in allowed:
        raise VerificationError(
            f"{what}: '{signer}' is not allowed to sign this record", reason="untrusted-signer"
        )


def _check_derived(store: Store, reg: Registry, trust_digest: str, roots: RootChain) -> None:
    state = reg.state
    for env in reg.cfg.spec.environments:
        path = store.root / LIVE / f"{env.name}.json"
        expected = canonical_bytes(state.live_document(env.name))
        actual = (
            read_record(path, f"{LIVE}/{env.name}.json", reason="live-tampered")
            if os.path.lexists(path)
            else canonical_bytes({"environment": env.name, "live": {}})
        )
        if actual != expected:
            raise VerificationError(
                f"{LIVE}/{env.name}.json does not match the records", reason="live-tampered"
            )
        _check_tuf(store, env.name, state, roots)
    bundles = store.root / BUNDLES
    stored = set(os.listdir(bundles)) if bundles.is_dir() else set()
    extra = sorted(stored - {d.removeprefix("sha256:") for d in state.published})
    if extra:
        raise VerificationError(
            f"{BUNDLES}/{extra[0]} was never published", reason="unrecorded-bundle"
        )
    trust = store.root / reg.cfg.spec.trust_policy
    if held_digest(trust, reg.cfg.spec.trust_policy) != trust_digest:
        raise VerificationError(
            f"{reg.cfg.spec.trust_policy} is not the trust policy the config records name",
            reason="trust-policy-changed",
        )
    if len(store.config_paths()) != state.config_version:
        raise VerificationError(
            "a config version was added without a record", reason="config-mismatch"
        )


def _check_tuf(store: Store, env: str, state: State, roots: RootChain) -> None:
    from nexusctl.registry._tufload import load_tuf

    load_tuf()
    from tuf.api.exceptions import UnsignedMetadataError
    from tuf.api.metadata import Metadata, Targets, Timestamp
    from tuf.api.serialization import DeserializationError

    folder = store.root / TUF / env / "metadata"
    root = roots.final(env)
    live = state.live.get(env, {})
    timestamp_path = folder / "timestamp.json"
    if not timestamp_path.is_file():
        if live:
            raise VerificationError(
                f"{TUF}/{env}: no TUF metadata for a live set", reason="tuf-mismatch"
            )
        return
    try:
        if root is None:
            raise ValueError("no root justifies the metadata")
        timestamp = Metadata[Timestamp].from_bytes(_tuf_file(timestamp_path))
        version = timestamp.signed.snapshot_meta.version
        targets = Metadata[Targets].from_bytes(_tuf_file(folder / f"{version}.targets.json"))
        root.verify_delegate("timestamp", timestamp)
        root.verify_delegate("targets", targets)
    except (OSError, ValueError, KeyError, DeserializationError, UnsignedMetadataError) as exc:
        raise VerificationError(f"{TUF}/{env}: {exc}", reason="tuf-mismatch") from None
    listed = {
        path.removesuffix(".tar"): target.unrecognized_fields.get("custom", {}).get("digest")
        for path, target in targets.signed.targets.items()
    }
    if listed != {name: entry.digest for name, entry in live.items()}:
        raise VerificationError(
            f"{TUF}/{env}: the TUF targets do not list the live set", reason="tuf-mismatch"
        )


def _tuf_file(path: Path) -> bytes:
    """A TUF metadata file of the registry's tree, bounded like any file of it."""
    return read_record(
        path, f"{TUF}/{path.parent.parent.name}/{path.name}", MAX_TUF_BYTES, "tuf-mismatch"
    )
