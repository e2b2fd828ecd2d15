"""Read-only views: what is live now (``status``) and what happened when (``history``)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from nexusctl.clock import parse_rfc3339
from nexusctl.registry._context import Registry
from nexusctl.registry._state import State
from nexusctl.registry._store import Store
from nexusctl.registry.records import read_unverified
from nexusctl.statements import PromotionPredicate


def status(root: Path) -> dict[str, object]:
    """Return every environment's live bundles (from the record log)."""
    reg = Registry.open(root)
    return {
        "registry": reg.cfg.metadata.name,
        "config_version": reg.state.config_version,
        "records": reg.state.sequence,
        "environments": [
            {"name": env.name, **reg.state.live_document(env.name)}
            for env in reg.cfg.spec.environments
        ],
    }


@dataclass(frozen=True)
class HistoryEntry:
    """One record, with its file digest."""

    digest: str
    predicate: PromotionPredicate

    def to_json(self) -> dict[str, object]:
        """Return the JSON form of the entry."""
        return {"record_digest": self.digest, **self.predicate.model_dump(mode="json")}


def history(
    root: Path, *, env: str | None = None, name: str | None = None, at: dt.datetime | None = None
) -> dict[str, object]:
    """Return the records (filtered by environment and name), or what was live at ``at``.

    With ``at``: for each matching environment and name, the record that made the bundle live
    there at that time: who promoted it, on which gates and approvals.
    """
    store = Store(root)
    state = State()
    entries: list[HistoryEntry] = []
    actors: dict[str, str] = {}  # record digest -> who signed it (names the approvers)
    for path in store.record_paths():
        raw = path.read_bytes()
        predicate = read_unverified(raw, path.name)
        if at is not None and parse_rfc3339(predicate.time) > at:
            break
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        state.apply(predicate, digest, predicate.actor)
        actors[digest] = predicate.actor
        if env is not None and predicate.environment != env:
            continue
        if name is not None and (predicate.bundle is None or predicate.bundle.name != name):
            continue
        entries.append(HistoryEntry(digest, predicate))
    if at is None:
        return {"records": [e.to_json() for e in entries]}
    by_sequence = {e.predicate.sequence: e for e in entries}
    live = []
    for env_name in sorted(state.live):
        if env is not None and env_name != env:
            continue
        for bundle_name, entry in sorted(state.live[env_name].items()):
            if name is not None and bundle_name != name:
                continue
            record = by_sequence.get(entry.sequence)
            live.append(
                {
                    "environment": env_name,
                    "name": bundle_name,
                    **entry.to_json(),
                    "promoted_by": record.predicate.actor if record else None,
                    "event": record.predicate.event if record else None,
                    "gates": [g.model_dump() for g in record.predicate.gates] if record else [],
                    "approvals": record.predicate.approvals if record else [],
                    "approved_by": [actors.get(d) for d in record.predicate.approvals]
                    if record
                    else [],
                    "reason": record.predicate.reason if record else None,
                }
            )
    from nexusctl.clock import format_rfc3339

    return {"at": format_rfc3339(at), "live": live}
