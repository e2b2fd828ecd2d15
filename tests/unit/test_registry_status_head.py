"""``registry status`` answers from the small head of the clone-local cache, and only when the
head still matches the log (new records, another config, a removed file: it replays instead)."""

from __future__ import annotations

import json
from pathlib import Path

from nexusctl.registry import ops
from nexusctl.registry._snapshot import CACHE_NAME, HEAD_FIELDS, STATUS_NAME, cached_status
from nexusctl.registry.query import status
from tests.registry_kit import live_in_prod, new_world, to_prod_ready


def _replayed(reg: Path) -> dict[str, object]:
    """``status`` with no cache at all: the whole log replayed."""
    for name in (CACHE_NAME, STATUS_NAME):
        (reg / ".git" / name).unlink(missing_ok=True)
    assert cached_status(reg) is None
    return status(reg)


def test_status_reads_the_head_which_is_the_cache_without_its_bulk(tmp_path: Path) -> None:
    world = live_in_prod(tmp_path)
    git_dir = world.reg / ".git"
    head = json.loads((git_dir / STATUS_NAME).read_bytes())
    cache = json.loads((git_dir / CACHE_NAME).read_bytes())
    assert set(head) == set(HEAD_FIELDS)
    assert head == {k: cache[k] for k in HEAD_FIELDS}
    assert "approvals" in cache
    assert "published" in cache
    answered = cached_status(world.reg)
    assert answered is not None
    assert _prod_version(answered) == 3
    assert answered == _replayed(world.reg)
    # The replay wrote both files again, and the head answers once more.
    assert cached_status(world.reg) == answered


def test_a_head_behind_the_log_is_not_believed(tmp_path: Path) -> None:
    world = new_world(tmp_path)
    to_prod_ready(world, 3)
    head_path = world.reg / ".git" / STATUS_NAME
    old_head = head_path.read_bytes()
    ops.promote(world.reg, "retail-chat", 3, "prod", world.keys["ci"], world.clock)
    # As after a `git pull` by plain git: the log has a record the head does not cover.
    head_path.write_bytes(old_head)
    assert cached_status(world.reg) is None
    answered = status(world.reg)
    assert _prod_version(answered) == 3
    assert cached_status(world.reg) == answered
    # A head naming the right count but another last digest is not believed either.
    doc = json.loads(head_path.read_bytes())
    doc["last_digest"] = "sha256:" + "0" * 64
    head_path.write_text(json.dumps(doc))
    assert cached_status(world.reg) is None
    assert status(world.reg) == answered


def test_a_malformed_head_means_a_replay(tmp_path: Path) -> None:
    world = new_world(tmp_path)
    to_prod_ready(world, 3)
    expected = _replayed(world.reg)
    head_path = world.reg / ".git" / STATUS_NAME
    for junk in (b"", b"[]", b'{"sequence": "x"}', b"\xff" * 10, b"[" * 100_000, b"1" * 5000):
        head_path.write_bytes(junk)
        assert cached_status(world.reg) is None
        assert status(world.reg) == expected


def test_a_hostile_state_cache_means_a_replay(tmp_path: Path) -> None:
    world = new_world(tmp_path)
    to_prod_ready(world, 3)
    expected = _replayed(world.reg)
    cache_path = world.reg / ".git" / CACHE_NAME
    for junk in (b"[" * 100_000, b'{"sequence": 1' + b', "x": [' * 50_000, b"1" * 5000):
        cache_path.write_bytes(junk)
        (world.reg / ".git" / STATUS_NAME).unlink()
        assert status(world.reg) == expected  # replayed from the log, cache written again
        ops.approve(world.reg, "retail-chat", 3, "prod", world.keys["carol"], world.clock)
        expected = _replayed(world.reg)


def _prod_version(doc: dict[str, object]) -> object:
    """The version of retail-chat live in prod, as ``status`` reports it."""
    environments = {e["name"]: e for e in json.loads(json.dumps(doc))["environments"]}
    return environments["prod"]["live"]["retail-chat"]["version"]
