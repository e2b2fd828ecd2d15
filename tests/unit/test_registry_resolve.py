"""`registry resolve` is python-tuf's real ngclient: it refuses rollback, freeze, mix-and-match
and altered bytes, over a local folder and over HTTP on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from nexusctl.clock import FixedClock
from nexusctl.errors import UsageError, VerificationError
from nexusctl.registry import ops
from nexusctl.registry.resolve import resolve
from tests.local_http import serve_local
from tests.registry_kit import World, live_in_prod, routing_diff, to_prod_ready


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = live_in_prod(tmp_path / "w")
    return world


def promote_v4(world: World, v3: str) -> None:
    v4 = to_prod_ready(world, 4)
    attestation = routing_diff(world.tmp, world.keys["ci"], v3, v4)
    ops.promote(
        world.reg, "retail-chat", 4, "prod", world.keys["ci"], world.clock, attestation=attestation
    )


def test_resolves_the_live_bundle_and_keeps_state(world: World, tmp_path: Path) -> None:
    state = tmp_path / "client"
    first = resolve(str(world.reg), "prod", "retail-chat", state)
    manifest = (first.path / "manifest.json").read_bytes()
    assert first.digest == "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert first.version == 3
    assert (state / "prod" / "metadata" / "timestamp.json").is_file()
    promote_v4(world, first.digest)
    second = resolve(str(world.reg), "prod", "retail-chat", state)
    assert second.version == 4
    with pytest.raises(VerificationError) as info:
        resolve(str(world.reg), "staging", "code-assistant", state)
    assert info.value.reason == "not-live"


def test_rollback_of_metadata_is_refused(world: World, tmp_path: Path) -> None:
    metadata = world.reg / "tuf" / "prod" / "metadata"
    old_timestamp = (metadata / "timestamp.json").read_bytes()
    state = tmp_path / "client"
    v3 = resolve(str(world.reg), "prod", "retail-chat", state).digest
    promote_v4(world, v3)
    assert resolve(str(world.reg), "prod", "retail-chat", state).version == 4
    (metadata / "timestamp.json").write_bytes(old_timestamp)  # a mirror replays v3's pointer
    with pytest.raises(VerificationError) as info:
        resolve(str(world.reg), "prod", "retail-chat", state)
    assert info.value.reason == "tuf-refused"
    assert "BadVersionNumberError" in str(info.value)


def test_mix_and_match_is_refused(world: World, tmp_path: Path) -> None:
    metadata = world.reg / "tuf" / "prod" / "metadata"
    state = tmp_path / "client"
    v3 = resolve(str(world.reg), "prod", "retail-chat", state).digest
    promote_v4(world, v3)
    # Serve the newest snapshot's name with an older, validly signed targets file.
    newest = max(int(p.name.split(".")[0]) for p in metadata.glob("*.targets.json"))
    shutil.copy(metadata / "1.targets.json", metadata / f"{newest}.targets.json")
    with pytest.raises(VerificationError) as info:
        resolve(str(world.reg), "prod", "retail-chat", tmp_path / "fresh")
    assert info.value.reason == "tuf-refused"


def test_altered_bundle_bytes_are_refused(world: World, tmp_path: Path) -> None:
    (target,) = (world.reg / "tuf" / "prod" / "targets").glob("*.retail-chat.tar")
    data = bytearray(target.read_bytes())
    data[600] ^= 1
    target.write_bytes(bytes(data))
    with pytest.raises(VerificationError) as info:
        resolve(str(world.reg), "prod", "retail-chat", tmp_path / "client")
    assert info.value.reason == "tuf-refused"


def test_expired_metadata_is_refused(tmp_path: Path) -> None:
    # The registry's clock was 30 days ago; prod's pointers expire after 7 days: frozen.
    old = FixedClock(dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
    world = live_in_prod(tmp_path / "w", old)
    with pytest.raises(VerificationError) as info:
        resolve(str(world.reg), "prod", "retail-chat", tmp_path / "client")
    assert "ExpiredMetadataError" in str(info.value)


@pytest.fixture
def served(world: World) -> Iterator[str]:
    with serve_local(partial(_QuietHandler, directory=str(world.reg))) as url:
        yield url


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def test_resolves_over_http(world: World, served: str, tmp_path: Path) -> None:
    root = world.reg / "tuf" / "prod" / "metadata" / "1.root.json"
    resolved = resolve(served, "prod", "retail-chat", tmp_path / "client", root=root)
    assert resolved.version == 3
    assert (resolved.path / "retail-chat.yaml").is_file()
    (target,) = (world.reg / "tuf" / "prod" / "targets").glob("*.retail-chat.tar")
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(VerificationError):
        resolve(served, "prod", "retail-chat", tmp_path / "other", root=root)


@pytest.mark.parametrize(
    ("env", "name"), [("prod/../..", "retail-chat"), ("prod", "../retail-chat"), ("..", "x")]
)
def test_a_path_in_place_of_a_name_is_refused(
    world: World, tmp_path: Path, env: str, name: str
) -> None:
    """Both become folder names in the gateway's state and segments of the metadata URL."""
    state = tmp_path / "state" / "gateway"
    with pytest.raises(UsageError, match="is not an identifier"):
        resolve(str(world.reg), env, name, state)
    assert not (tmp_path / "state").exists()  # nothing created, inside the state folder or out
    assert resolve(str(world.reg), "prod", "retail-chat", state).version == 3
