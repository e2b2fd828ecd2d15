"""kill -9 a promotion at five points: afterwards verify passes or names an interrupted event,
the next command completes or undoes it by itself, and resolve never sees a half-written state."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nexusctl.errors import EnvironmentError_, GateFailed, VerificationError
from nexusctl.registry import ops
from nexusctl.registry.resolve import resolve
from nexusctl.registry.verify import verify_registry
from tests.conftest import REPO
from tests.registry_kit import KILL_AT_STORE_CALL, World, new_world, to_prod_ready

# Each point: the Store method to patch, the condition (on its first argument) to die at,
# whether the event was committed, and whether prod's TUF timestamp (v3) was written.
POINTS = {
    "after storing the bundle and live set": ("write", "rel.startswith('tuf/')", False, False),
    "while writing TUF metadata": ("write", "rel.endswith('snapshot.json')", False, False),
    "after writing the timestamp": ("write", "rel.startswith('records/')", False, True),
    "after writing the record": ("commit", "True", False, True),
    "after committing, before pushing": ("push", "True", True, True),
}

DRIVER = (
    KILL_AT_STORE_CALL
    + """
from nexusctl.registry import ops
ops.promote(Path(sys.argv[3]), "retail-chat", 3, "prod", Path(sys.argv[5]), clock)
"""
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = new_world(tmp_path / "w")
    to_prod_ready(world, 3)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", world.reg, remote], check=True)
    subprocess.run(["git", "-C", world.reg, "remote", "add", "origin", remote], check=True)
    subprocess.run(["git", "-C", world.reg, "fetch", "--quiet", "origin"], check=True)
    return world


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(POINTS))
def test_kill_9_mid_promotion(world: World, tmp_path: Path, point: str) -> None:
    method, condition, committed, timestamp_written = POINTS[point]
    before = verify_registry(world.reg)["records"]
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, method, condition, str(world.reg),
         world.clock.now().isoformat(), str(world.keys["ci"])],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if committed:
        assert verify_registry(world.reg)["records"] == before + 1
    else:
        with pytest.raises(VerificationError) as info:
            verify_registry(world.reg)
        assert info.value.reason == "uncommitted-event"
    # A gateway resolving from this clone sees a complete state: nothing yet, or v3.
    if timestamp_written:
        assert resolve(str(world.reg), "prod", "retail-chat", tmp_path / "c").version == 3
    else:
        with pytest.raises(EnvironmentError_, match=r"timestamp\.json not found"):
            resolve(str(world.reg), "prod", "retail-chat", tmp_path / "c")
    # The next command undoes (or pushes) what the killed one left, then does its own work.
    world.clock.advance(dt.timedelta(minutes=1))
    if committed:
        with pytest.raises(GateFailed, match="gate 'forward'"):
            ops.promote(world.reg, "retail-chat", 3, "prod", world.keys["ci"], world.clock)
    else:
        ops.promote(world.reg, "retail-chat", 3, "prod", world.keys["ci"], world.clock)
    summary = verify_registry(world.reg)
    assert summary["live"]["prod"]["retail-chat"]["version"] == 3
    local = subprocess.run(["git", "-C", world.reg, "rev-parse", "HEAD"], capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    remote = subprocess.run(["git", "-C", world.reg, "rev-parse", "origin/main"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert local == remote
