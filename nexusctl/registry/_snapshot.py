"""``registry status`` from the clone-local state cache alone (no YAML, no pydantic).

The cache (``.git/nexusctl-state.json``, written by every command that replays the log) holds
the replayed state after some record, and a summary of the config in effect (its name and
environments). Its head — everything ``status`` reads, without the published bundles and the
approvals that make a 20,000-record log's cache ~2 MB — is written beside it
(``.git/nexusctl-status.json``), so ``status`` parses a few hundred bytes. It answers ``status``
only when it is current: the log has exactly as many
records as the cache covers, the last one still has the digest the cache saw, and the config
file it names still has its recorded digest. Otherwise the caller replays (which refreshes it).
Like every query, this reads what the clone holds; ``registry verify`` proves it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from nexusctl.registry._store import CONFIG, RECORDS, config_name, record_name

CACHE_NAME = "nexusctl-state.json"
STATUS_NAME = "nexusctl-status.json"
#: The cache's fields ``status`` reads (and checks against the log).
HEAD_FIELDS = ("sequence", "last_digest", "config_version", "config_digest", "live", "summary")


def write_head(git_dir: Path, cache: dict[str, Any]) -> None:
    """Write the head of ``cache`` (the full cache document) for ``status``; best effort."""
    from nexusctl.errors import EnvironmentError_
    from nexusctl.files import write_atomic

    data = json.dumps({k: cache[k] for k in HEAD_FIELDS}, separators=(",", ":")).encode()
    try:
        write_atomic(git_dir / STATUS_NAME, data, what="the status cache")
    except EnvironmentError_:
        return  # without it, status replays (and writes it again): only slower


def cached_status(root: Path) -> dict[str, Any] | None:
    """Return ``status``'s document from a current cache, or None (replay instead)."""
    try:
        doc = json.loads((root / ".git" / STATUS_NAME).read_bytes())
        sequence, summary = int(doc["sequence"]), doc["summary"]
        names = [n for n in os.listdir(root / RECORDS) if n.endswith(".json")]
        if sequence < 1 or len(names) != sequence:
            return None
        last = (root / RECORDS / record_name(sequence)).read_bytes()
        if "sha256:" + hashlib.sha256(last).hexdigest() != doc["last_digest"]:
            return None
        config = (root / CONFIG / config_name(int(doc["config_version"]))).read_bytes()
        if "sha256:" + hashlib.sha256(config).hexdigest() != doc["config_digest"]:
            return None
        if summary["config_digest"] != doc["config_digest"]:
            return None
        live = doc["live"]
        return {
            "registry": str(summary["registry"]),
            "config_version": int(doc["config_version"]),
            "records": sequence,
            "environments": [
                {
                    "name": env,
                    "environment": env,
                    "live": {name: live.get(env, {})[name] for name in sorted(live.get(env, {}))},
                }
                for env in summary["environments"]
            ],
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None  # a cache is only ever a shortcut: anything odd means a replay
