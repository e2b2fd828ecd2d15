"""kill -9 a config change that rotates the TUF roots (and re-signs the metadata a removed
releaser signed) at five points: afterwards verify passes or names an interrupted event, the
next command undoes it, and a gateway resolving from the clone meanwhile never trusts an
uncommitted state — it gets the old complete set, is refused (``uncommitted-event``, its state
untouched), or gets the committed new one — and keeps resolving afterwards with the same state,
even when a *different* proposal is applied after the killed one."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nexusctl.errors import UsageError, VerificationError
from nexusctl.registry import configchange, ops
from nexusctl.registry.resolve import resolve
from nexusctl.registry.verify import verify_registry
from tests.conftest import REPO
from tests.registry_kit import KILL_AT_STORE_CALL, World, config_yaml, new_world, to_prod_ready

# Each point: the Store method to patch, the condition (on its first argument) to die at,
# whether the change was committed, and what a gateway resolving meanwhile gets ("old": the
# committed set, the killed change had not touched tuf/prod yet; "refused": tuf/prod holds its
# uncommitted files; "new": the committed change).
POINTS = {
    "while re-signing TUF metadata": ("write", "rel.endswith('snapshot.json')", False, "old"),
    "after re-signing, before the roots": (
        "write",
        "rel.endswith('2.root.json')",
        False,
        "refused",
    ),
    "after the roots, before the record": (
        "write",
        "rel.startswith('records/')",
        False,
        "refused",
    ),
    "after writing the record": ("commit", "True", False, "refused"),
    "after committing, before pushing": ("push", "True", True, "new"),
}

DRIVER = (
    KILL_AT_STORE_CALL
    + """
from nexusctl.registry import configchange
configchange.apply(Path(sys.argv[3]), Path(sys.argv[5]), clock, Path(sys.argv[6]))
"""
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    """v3 live in prod (promoted by ci); v2 of the config, proposed, replaces ci by carol."""
    world = new_world(tmp_path / "w")
    to_prod_ready(world, 3)
    ops.promote(world.reg, "retail-chat", 3, "prod", world.keys["ci"], world.clock)
    v2 = tmp_path / "v2.yaml"
    v2.write_text(config_yaml(world.tmp, version=2, releasers=("carol",)))
    configchange.propose(world.reg, v2, world.keys["admin"], world.clock)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", world.reg, remote], check=True)
    subprocess.run(["git", "-C", world.reg, "remote", "add", "origin", remote], check=True)
    subprocess.run(["git", "-C", world.reg, "fetch", "--quiet", "origin"], check=True)
    return world


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(POINTS))
def test_kill_9_mid_rotation(world: World, tmp_path: Path, point: str) -> None:
    method, condition, committed, seen = POINTS[point]
    gateway = tmp_path / "gateway"
    assert resolve(str(world.reg), "prod", "retail-chat", gateway).version == 3
    before = verify_registry(world.reg)["records"]
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, method, condition, str(world.reg),
         world.clock.now().isoformat(), str(world.keys["admin"]), str(world.keys["carol"])],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if committed:
        assert verify_registry(world.reg)["records"] == before + 1
    else:
        with pytest.raises(VerificationError) as info:
            verify_registry(world.reg)
        assert info.value.reason == "uncommitted-event"
    # A gateway resolving from this clone meanwhile: the old set, a refusal, or the new set.
    if seen == "refused":
        kept = sorted((p.name, p.read_bytes()) for p in (gateway / "prod").rglob("*.json"))
        with pytest.raises(VerificationError) as info:
            resolve(str(world.reg), "prod", "retail-chat", gateway)
        assert info.value.reason == "uncommitted-event"
        assert sorted((p.name, p.read_bytes()) for p in (gateway / "prod").rglob("*.json")) == kept
    else:
        assert resolve(str(world.reg), "prod", "retail-chat", gateway).version == 3
    # The next command undoes (or pushes) what the killed one left, then does its own work.
    if committed:
        with pytest.raises(UsageError, match="no config change is proposed"):
            configchange.apply(world.reg, world.keys["admin"], world.clock, world.keys["carol"])
    else:
        configchange.apply(world.reg, world.keys["admin"], world.clock, world.keys["carol"])
    summary = verify_registry(world.reg)
    assert (summary["config_version"], summary["live"]["prod"]["retail-chat"]["version"]) == (2, 3)
    # The same gateway keeps resolving: root 2 and carol's metadata, whatever it saw before.
    assert resolve(str(world.reg), "prod", "retail-chat", gateway).version == 3
    local = subprocess.run(["git", "-C", world.reg, "rev-parse", "HEAD"], capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    remote = subprocess.run(["git", "-C", world.reg, "rev-parse", "origin/main"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert local == remote


@pytest.mark.e2e
@pytest.mark.slow
def test_a_different_proposal_after_a_killed_apply(world: World, tmp_path: Path) -> None:
    """An apply killed with its rotated roots in place, then another proposal applied: the
    gateway never trusted the killed apply's root, so it keeps resolving without a reset. A
    gateway that read those files (here: from a copy of the folder, which has no lock or
    stamp to honour) trusts a root no commit has, and is refused afterwards."""
    gateway = tmp_path / "gateway"
    history = gateway / "prod" / "metadata" / "root_history"
    assert resolve(str(world.reg), "prod", "retail-chat", gateway).version == 3
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, "write", "rel.startswith('records/')", str(world.reg),
         world.clock.now().isoformat(), str(world.keys["admin"]), str(world.keys["carol"])],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    killed_root = (world.reg / "tuf" / "prod" / "metadata" / "2.root.json").read_bytes()
    control = tmp_path / "control"
    shutil.copytree(world.reg / "tuf", tmp_path / "copy" / "tuf")
    assert resolve(str(tmp_path / "copy"), "prod", "retail-chat", control).version == 3
    assert (control / "prod" / "metadata" / "root_history" / "2.root.json").read_bytes() == (
        killed_root
    )
    with pytest.raises(VerificationError) as info:
        resolve(str(world.reg), "prod", "retail-chat", gateway)
    assert info.value.reason == "uncommitted-event"
    assert sorted(p.name for p in history.iterdir()) == ["1.root.json"]
    # Another proposal (bob releases instead of carol); proposing undoes the killed apply.
    world.clock.advance(dt.timedelta(minutes=1))
    other = tmp_path / "v2-bob.yaml"
    other.write_text(config_yaml(world.tmp, version=2, releasers=("bob",)))
    configchange.propose(world.reg, other, world.keys["admin"], world.clock)
    configchange.apply(world.reg, world.keys["admin"], world.clock, world.keys["bob"])
    applied_root = (world.reg / "tuf" / "prod" / "metadata" / "2.root.json").read_bytes()
    assert applied_root != killed_root
    assert verify_registry(world.reg)["config_version"] == 2
    # The same gateway state walks from root 1 to the committed root 2.
    assert resolve(str(world.reg), "prod", "retail-chat", gateway).version == 3
    assert (history / "2.root.json").read_bytes() == applied_root
    with pytest.raises(VerificationError) as info:
        resolve(str(world.reg), "prod", "retail-chat", control)
    assert info.value.reason == "tuf-refused"
