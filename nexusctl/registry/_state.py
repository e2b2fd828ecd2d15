"""The registry state replayed from the record log: what is published, live, approved.

Every command derives state the same way (``replay``); ``registry verify`` replays with
signature checks and re-runs each gate, queries replay without them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from nexusctl.clock import parse_rfc3339
from nexusctl.statements import BundleRef, PromotionPredicate


@dataclass(frozen=True)
class LiveEntry:
    """A bundle live in an environment, since when, by which record."""

    version: int
    digest: str
    since: dt.datetime
    sequence: int

    def to_json(self) -> dict[str, object]:
        """Return the form written to ``live/<env>.json``."""
        from nexusctl.clock import format_rfc3339

        return {
            "version": self.version,
            "digest": self.digest,
            "since": format_rfc3339(self.since),
            "record": self.sequence,
        }


@dataclass(frozen=True)
class Approval:
    """An approve record: who approved what, until when (record digest is the evidence)."""

    digest: str
    signer: str
    predicate: PromotionPredicate


@dataclass
class State:
    """Registry state after some prefix of the log."""

    sequence: int = 0
    last_digest: str | None = None
    config_version: int = 0
    config_digest: str = ""
    published: dict[str, BundleRef] = field(default_factory=dict)
    live: dict[str, dict[str, LiveEntry]] = field(default_factory=dict)
    #: env -> name -> version -> digest, every version ever live there.
    ever_live: dict[str, dict[str, dict[int, str]]] = field(default_factory=dict)
    #: (environment, name, version) -> approve records for it, in log order.
    approvals: dict[tuple[str, str, int], list[Approval]] = field(default_factory=dict)

    def approvals_for(self, env: str, bundle: BundleRef) -> list[Approval]:
        """Return the approve records naming ``bundle``'s name and version in ``env``."""
        return self.approvals.get((env, bundle.name, bundle.version), [])

    def _add_approval(self, approval: Approval) -> None:
        record = approval.predicate
        if record.bundle is not None:
            key = (record.environment or "", record.bundle.name, record.bundle.version)
            self.approvals.setdefault(key, []).append(approval)

    def live_in(self, env: str, name: str) -> LiveEntry | None:
        """Return what is live for ``name`` in ``env``, if anything."""
        return self.live.get(env, {}).get(name)

    def apply(self, predicate: PromotionPredicate, digest: str, signer: str) -> None:
        """Advance the state by one (already checked) record whose file digest is ``digest``."""
        self.sequence = predicate.sequence
        self.last_digest = digest
        self.config_version = predicate.config_version
        self.config_digest = predicate.config_digest
        bundle = predicate.bundle
        if predicate.event == "publish" and bundle is not None:
            self.published[bundle.digest] = bundle
        elif predicate.event == "approve":
            self._add_approval(Approval(digest, signer, predicate))
        elif predicate.event in ("promote", "rollback") and bundle is not None:
            env = predicate.environment or ""
            entry = LiveEntry(
                bundle.version, bundle.digest, parse_rfc3339(predicate.time), predicate.sequence
            )
            self.live.setdefault(env, {})[bundle.name] = entry
            versions = self.ever_live.setdefault(env, {}).setdefault(bundle.name, {})
            versions[bundle.version] = bundle.digest

    def to_cache(self, now: str) -> dict[str, Any]:
        """Return the state as JSON for the clone-local cache (expired approvals dropped).

        Dropping is safe because record times never go backwards (``verify`` enforces it), an
        approval past its expiry never counts again, and a promote approval for a version that
        was already live in its environment cannot be used (versions only move forward).
        """
        return {
            "sequence": self.sequence,
            "last_digest": self.last_digest,
            "config_version": self.config_version,
            "config_digest": self.config_digest,
            "published": {d: ref.model_dump() for d, ref in self.published.items()},
            "live": {
                env: {name: e.to_json() for name, e in entries.items()}
                for env, entries in self.live.items()
            },
            "ever_live": {
                env: {
                    name: {str(v): d for v, d in versions.items()}
                    for name, versions in names.items()
                }
                for env, names in self.ever_live.items()
            },
            "approvals": [
                [a.digest, a.signer, a.predicate.model_dump(mode="json")]
                for bucket in self.approvals.values()
                for a in bucket
                if _may_count(self, a, parse_rfc3339(now))
            ],
        }

    @classmethod
    def from_cache(cls, doc: dict[str, Any]) -> State:
        """Rebuild a state from ``to_cache`` output.

        Raises:
            KeyError, ValueError, TypeError: the cache is malformed (callers then replay).
        """
        state = cls(
            sequence=int(doc["sequence"]),
            last_digest=doc["last_digest"],
            config_version=int(doc["config_version"]),
            config_digest=str(doc["config_digest"]),
            published={d: BundleRef.model_validate(r) for d, r in doc["published"].items()},
            live={
                env: {
                    name: LiveEntry(
                        int(e["version"]),
                        str(e["digest"]),
                        parse_rfc3339(e["since"]),
                        int(e["record"]),
                    )
                    for name, e in entries.items()
                }
                for env, entries in doc["live"].items()
            },
            ever_live={
                env: {
                    name: {int(v): d for v, d in versions.items()}
                    for name, versions in names.items()
                }
                for env, names in doc["ever_live"].items()
            },
        )
        for digest, signer, pred in doc["approvals"]:
            state._add_approval(Approval(digest, signer, PromotionPredicate.model_validate(pred)))
        return state

    def live_document(self, env: str) -> dict[str, object]:
        """Return ``live/<env>.json``'s content for ``env``."""
        entries = self.live.get(env, {})
        return {
            "environment": env,
            "live": {name: entries[name].to_json() for name in sorted(entries)},
        }


def _may_count(state: State, approval: Approval, now: dt.datetime) -> bool:
    record, grant = approval.predicate, approval.predicate.grant
    if grant is None or parse_rfc3339(grant.expires) < now or record.bundle is None:
        return False
    if grant.purpose != "promote":
        return True
    env = record.environment or ""
    return record.bundle.version not in state.ever_live.get(env, {}).get(record.bundle.name, {})
