"""``registry history --at``: what was live when, from a clone-local index of the log.

The index (``.git/nexusctl-index.json``, never committed, like the state cache) keeps one short
row per record: sequence, time, event, environment, bundle (name, version, digest), actor and
the record file's digest. It is used while its last row's record still has the digest it saw
(each record names the digest of the one before it, so that digest stands for the whole
prefix); records after it are read and appended; otherwise it is rebuilt from the log. The
answer replays the rows up to the time asked, then reads in full only the records that made
each bundle live. Like every query this reads what the clone holds; ``registry verify`` proves it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from nexusctl.clock import format_rfc3339, parse_rfc3339
from nexusctl.errors import VerificationError
from nexusctl.registry._store import RECORDS, record_name
from nexusctl.registry.records import read_record

INDEX_NAME = "nexusctl-index.json"
# Row fields, in order.
SEQUENCE, TIME, EVENT, ENV, NAME, VERSION, DIGEST, ACTOR, RECORD = range(9)


def _row(raw: bytes, what: str) -> list[Any]:
    from nexusctl.registry.records import read_unverified

    predicate = read_unverified(raw, what)
    bundle = predicate.bundle
    return [
        predicate.sequence,
        predicate.time,
        predicate.event,
        predicate.environment,
        bundle.name if bundle else None,
        bundle.version if bundle else None,
        bundle.digest if bundle else None,
        predicate.actor,
        "sha256:" + hashlib.sha256(raw).hexdigest(),
    ]


def load_index(root: Path) -> list[list[Any]]:
    """Return one row per record of the log at ``root`` (reading only what the index lacks).

    Raises:
        VerificationError: ``malformed-record`` for a record that cannot be read.
    """
    folder = root / RECORDS
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    rows = _cached_rows(root, names)
    start = len(rows)
    for name in names[start:]:
        rows.append(_row(read_record(folder / name, name), name))
    if len(rows) > start:
        _save(root, rows)
    return rows


def _cached_rows(root: Path, names: list[str]) -> list[list[Any]]:
    try:
        rows = json.loads((root / ".git" / INDEX_NAME).read_bytes())["rows"]
        count = len(rows)
        if count == 0 or count > len(names) or names[count - 1] != record_name(count):
            return []
        last = read_record(root / RECORDS / names[count - 1], names[count - 1])
        if "sha256:" + hashlib.sha256(last).hexdigest() != rows[-1][RECORD]:
            return []
        return list(rows)
    except (OSError, LookupError, ValueError, TypeError, RecursionError, VerificationError):
        return []  # a cache is only a shortcut: anything odd means reading the log again


def _save(root: Path, rows: list[list[Any]]) -> None:
    target = root / ".git" / INDEX_NAME
    try:
        fd, tmp = tempfile.mkstemp(prefix=".nexusctl-index.", dir=target.parent)
        data = json.dumps({"rows": rows}, separators=(",", ":")).encode("utf-8")  # C encoder
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except OSError:
        return  # an index is an optimisation; failing to write it changes nothing


def live_at(
    root: Path, at: dt.datetime, env: str | None, name: str | None
) -> list[dict[str, object]]:
    """Return, per environment and policy live at ``at``, the record that made it live and why.

    Raises:
        VerificationError: ``malformed-record`` for a record that cannot be read.
    """
    from nexusctl.registry.records import read_unverified

    rows = load_index(root)
    live: dict[str, dict[str, list[Any]]] = {}
    actors: dict[str, str] = {}
    for row in rows:
        if parse_rfc3339(row[TIME]) > at:
            break
        actors[row[RECORD]] = row[ACTOR]
        if row[EVENT] in ("promote", "rollback") and row[NAME] is not None:
            live.setdefault(row[ENV] or "", {})[row[NAME]] = row
    out: list[dict[str, object]] = []
    for env_name in sorted(live):
        if env is not None and env_name != env:
            continue
        for bundle_name, row in sorted(live[env_name].items()):
            if name is not None and bundle_name != name:
                continue
            seq = int(row[SEQUENCE])
            path = root / RECORDS / record_name(seq)
            record = read_unverified(read_record(path, path.name), path.name)
            out.append(
                {
                    "environment": env_name,
                    "name": bundle_name,
                    "version": row[VERSION],
                    "digest": row[DIGEST],
                    "since": format_rfc3339(parse_rfc3339(row[TIME])),
                    "record": seq,
                    "promoted_by": record.actor,
                    "event": record.event,
                    "gates": [g.model_dump() for g in record.gates],
                    "approvals": record.approvals,
                    "approved_by": [actors.get(d) for d in record.approvals],
                    "reason": record.reason,
                }
            )
    return out
