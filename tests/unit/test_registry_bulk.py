"""Bulk sessions: the same events, one git commit each, streamed through git fast-import."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from nexusctl.errors import GateFailed
from nexusctl.registry import ops
from nexusctl.registry._index import INDEX_NAME
from nexusctl.registry._snapshot import cached_status
from nexusctl.registry.bulk import Session
from nexusctl.registry.query import history, status
from nexusctl.registry.verify import verify_registry
from tests.registry_kit import World, new_world, routing_diff, signed_bundle

HOUR = dt.timedelta(hours=1)


def git(reg: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(reg), *args], capture_output=True, text=True, check=True
    ).stdout


def walk(world: World, session: Session, version: int, live_prod: str | None) -> str:
    keys, c = world.keys, world.clock
    bundle = signed_bundle(world.tmp, version, keys["ci"])
    digest = session.publish(bundle, keys["ci"]).predicate.bundle.digest
    session.promote("retail-chat", version, "dev", keys["ci"])
    c.advance(HOUR)
    session.approve("retail-chat", version, "staging", keys["alice"])
    session.promote("retail-chat", version, "staging", keys["ci"])
    c.advance(HOUR)
    session.approve("retail-chat", version, "prod", keys["alice"])
    session.approve("retail-chat", version, "prod", keys["bob"])
    attestation = None
    if live_prod is not None:
        attestation = routing_diff(world.tmp, keys["ci"], live_prod, digest, name=f"{version}.json")
    session.promote("retail-chat", version, "prod", keys["ci"], attestation=attestation)
    return digest


def test_a_bulk_built_registry_is_one_commit_per_event_and_verifies(tmp_path: Path) -> None:
    world = new_world(tmp_path)
    with Session(world.reg, world.clock) as session:
        v3 = walk(world, session, 3, None)
        walk(world, session, 4, v3)
        # Gates still refuse inside a session, and nothing of the refused event is kept.
        with pytest.raises(GateFailed):
            session.promote("retail-chat", 4, "prod", world.keys["ci"])
    records = sorted((world.reg / "records").glob("*.json"))
    assert len(records) == 15
    log = git(world.reg, "log", "--format=%an|%s").splitlines()
    assert len(log) == len(records)  # one commit per event, init included
    assert log[0] == "ci|promote: retail-chat v4 to prod (record 15)"
    assert log[-1].startswith("admin|init: registry nebula (record 1)")
    assert git(world.reg, "status", "--porcelain") == ""
    # Every commit holds exactly its event's record (and the files that event wrote).
    changed = git(world.reg, "show", "--name-only", "--format=", "HEAD~1").split()
    assert changed == ["records/000000000014.json"]
    summary = verify_registry(world.reg)
    assert summary["records"] == 15
    assert summary["live"]["prod"]["retail-chat"]["version"] == 4
    # The session left a current state cache and history index behind.
    assert cached_status(world.reg) == status(world.reg)
    rows = json.loads((world.reg / ".git" / INDEX_NAME).read_bytes())["rows"]
    assert [r[0] for r in rows] == list(range(1, 16))
    # ... and single events carry on from it with git commit.
    ops.approve(world.reg, "retail-chat", 4, "prod", world.keys["carol"], world.clock)
    assert verify_registry(world.reg)["records"] == 16


def test_a_failed_session_keeps_nothing(tmp_path: Path) -> None:
    world = new_world(tmp_path)
    head = git(world.reg, "rev-parse", "HEAD")
    bundle = signed_bundle(world.tmp, 3, world.keys["ci"])

    def dies() -> None:
        with Session(world.reg, world.clock) as session:
            session.publish(bundle, world.keys["ci"])
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        dies()
    assert git(world.reg, "rev-parse", "HEAD") == head
    # The next command undoes the session's files, and the log is as before.
    ops.publish(world.reg, signed_bundle(world.tmp / "again", 3, world.keys["ci"]),
                world.keys["ci"], world.clock)  # fmt: skip
    assert verify_registry(world.reg)["records"] == 2


def test_history_at_uses_and_repairs_its_index(tmp_path: Path) -> None:
    world = new_world(tmp_path)
    with Session(world.reg, world.clock) as session:
        walk(world, session, 3, None)
    at = world.clock.now()
    first = history(world.reg, env="prod", at=at)
    assert first["live"][0]["approved_by"] == ["alice", "bob"]
    index = world.reg / ".git" / INDEX_NAME
    index.write_text('{"rows": [[1, "x"]]}')  # a stale or broken index is rebuilt
    assert history(world.reg, env="prod", at=at) == first
    index.unlink()
    assert history(world.reg, env="prod", at=at) == first
