"""kill -9 a promotion at five points: afterwards verify passes or names an interrupted event,
the next command completes or undoes it by itself, and resolve never sees a half-written state:
it reads only committed TUF files, refusing (``uncommitted-event``) while an interrupted event's
are in the tree, and leaves the gateway's state untouched then."""

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
# whether the event was committed, and what a gateway resolving from the clone meanwhile gets:
# "nothing" (prod has no TUF metadata yet: exit 4), "refused" (tuf/prod holds files no commit
# has: the killed event's) or "v3".
POINTS = {
    "after storing the bundle and live set": ("write", "rel.startswith('tuf/')", False, "nothing"),
    "while writing TUF metadata": ("write", "rel.endswith('snapshot.json')", False, "refused"),
    "after writing the timestamp": ("write", "rel.startswith('records/')", False, "refused"),
    "after writing the record": ("commit", "True", False, "refused"),
    "after committing, before pushing": ("push", "True", True, "v3"),
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
    method, condition, committed, seen = POINTS[point]
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
    # A gateway resolving from this clone sees a committed state: nothing yet, or v3.
    gateway = tmp_path / "c"
    if seen == "v3":
        assert resolve(str(world.reg), "prod", "retail-chat", gateway).version == 3
    elif seen == "refused":
        with pytest.raises(VerificationError) as info:
            resolve(str(world.reg), "prod", "retail-chat", gateway)
        assert info.value.reason == "uncommitted-event"
        assert not gateway.exists()  # refused before the client kept anything
    else:
        with pytest.raises(EnvironmentError_, match=r"timestamp\.json not found"):
            resolve(str(world.reg), "prod", "retail-chat", gateway)
    # The next command undoes (or pushes) what the killed one left, then does its own work.
    world.clock.advance(dt.timedelta(minutes=1))
    if committed:
        with pytest.raises(GateFailed, match="gate 'forward'"):
            ops.promote(world.reg, "retail-chat", 3, "prod", world.keys["ci"], world.clock)
    else:
        ops.promote(world.reg, "retail-chat", 3, "prod", world.keys["ci"], world.clock)
    summary = verify_registry(world.reg)
    assert summary["live"]["prod"]["retail-chat"]["version"] == 3
    assert resolve(str(world.reg), "prod", "retail-chat", gateway).version == 3
    local = subprocess.run(["git", "-C", world.reg, "rev-parse", "HEAD"], capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    remote = subprocess.run(["git", "-C", world.reg, "rev-parse", "origin/main"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert local == remote
