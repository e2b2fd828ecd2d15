"""Read-only views: what is live now (``status``) and what happened when (``history``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nexusctl.statements import PromotionPredicate


def status(root: Path) -> dict[str, object]:
    """Return every environment's live bundles (from the record log)."""
    from nexusctl.registry._snapshot import cached_status

    cached = cached_status(root)
    if cached is not None:
        return cached
    from nexusctl.registry._context import Registry, save_cache

    reg = Registry.open(root)
    save_cache(reg)  # the next status answers from it
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
    from nexusctl.registry._store import Store

    store = Store(root)  # refuses a folder that is not a registry
    if at is not None:
        from nexusctl.clock import format_rfc3339
        from nexusctl.registry._index import live_at

        return {"at": format_rfc3339(at), "live": live_at(root, at, env, name)}
    from nexusctl.registry.records import read_record, read_unverified

    entries: list[HistoryEntry] = []
    for path in store.record_paths():
        raw = read_record(path, path.name)
        predicate = read_unverified(raw, path.name)
        if env is not None and predicate.environment != env:
            continue
        if name is not None and (predicate.bundle is None or predicate.bundle.name != name):
            continue
        entries.append(HistoryEntry("sha256:" + hashlib.sha256(raw).hexdigest(), predicate))
    return {"records": [e.to_json() for e in entries]}


#: A verified-state file holds two fields; anything larger is not one.
MAX_STATE_BYTES = 4096


def read_known_state(path: Path) -> tuple[int, str] | None:
    """Read the (records, head) a consumer kept from an earlier ``registry verify --state``;
    None when the file does not exist yet.

    Raises:
        InputError: the file is not a state this command wrote (located where the parser can).
    """
    from nexusctl.document.strict_json import JsonLimitError, loads_strict
    from nexusctl.errors import InputError
    from nexusctl.files import read_bounded

    if not os.path.lexists(path):  # a dangling or looping symlink is refused, not "new"
        return None
    raw = read_bounded(path, MAX_STATE_BYTES, what="verified-state file")
    try:
        doc = loads_strict(raw, max_depth=2)
    except JsonLimitError as exc:
        where = f"{path}:{exc.line}:{exc.column}" if exc.line else str(path)
        raise InputError(f"{where}: not a verified-state file: {exc}") from None
    records, head = (doc.get("records"), doc.get("head")) if isinstance(doc, dict) else (0, 0)
    if type(records) is not int or records < 1 or not isinstance(head, str):
        raise InputError(
            f'{path}: not a verified-state file: want {{"records": N, "head": "sha256:..."}}'
        )
    return records, head
