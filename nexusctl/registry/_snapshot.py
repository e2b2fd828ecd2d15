"""``registry status`` from the clone-local state cache alone (no YAML, no pydantic).

The cache (``.git/nexusctl-state.json``, written by every command that replays the log) holds
the replayed state after some record, and a summary of the config in effect (its name and
environments). It answers ``status`` only when it is current: the log has exactly as many
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


def cached_status(root: Path) -> dict[str, Any] | None:
    """Return ``status``'s document from a current cache, or None (replay instead)."""
    try:
        doc = json.loads((root / ".git" / CACHE_NAME).read_bytes())
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
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
