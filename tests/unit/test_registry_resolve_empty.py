"""`registry init --releaser-key` publishes empty TUF metadata for every environment, so a
gateway resolving where nothing was promoted yet is told "not live" (exit 5), not exit 4."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.errors import EnvironmentError_, VerificationError
from nexusctl.registry import ops
from nexusctl.registry.resolve import resolve
from nexusctl.registry.verify import verify_registry
from tests.local_http import serve_local
from tests.registry_kit import World, clock, make_keys, signed_bundle, write_setup


def make_world(tmp: Path, releaser: bool) -> World:
    tmp.mkdir(parents=True, exist_ok=True)
    keys = make_keys(tmp)
    config, trust = write_setup(tmp, soak=0)
    world = World(tmp, keys, clock(), tmp / "reg")
    ops.init_registry(
        world.reg,
        config,
        trust,
        [keys["admin"]],
        world.clock,
        releaser_key=keys["ci"] if releaser else None,
    )
    return world


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path / "w", releaser=True)


@pytest.fixture
def served(world: World) -> Iterator[str]:
    with serve_local(partial(_QuietHandler, directory=str(world.reg))) as url:
        yield url


def test_nothing_promoted_is_not_live_over_http(world: World, served: str, tmp_path: Path) -> None:
    root = world.reg / "tuf" / "staging" / "metadata" / "1.root.json"
    with pytest.raises(VerificationError) as info:
        resolve(served, "staging", "retail-chat", tmp_path / "client", root=root)
    assert info.value.reason == "not-live"
    assert "not live in 'staging'" in str(info.value)
    assert verify_registry(world.reg)["ok"] is True


def test_without_empty_metadata_the_client_finds_nothing_to_fetch(tmp_path: Path) -> None:
    # The twin: a registry initialised without --releaser-key has no timestamp yet.
    bare = make_world(tmp_path / "bare", releaser=False)
    root = bare.reg / "tuf" / "staging" / "metadata" / "1.root.json"
    handler = partial(_QuietHandler, directory=str(bare.reg))
    with serve_local(handler) as url, pytest.raises(EnvironmentError_):
        resolve(url, "staging", "retail-chat", tmp_path / "client", root=root)


def test_first_promotion_after_empty_metadata_resolves(world: World, tmp_path: Path) -> None:
    keys, c = world.keys, world.clock
    ops.publish(world.reg, signed_bundle(world.tmp, 3, keys["ci"]), keys["ci"], c)
    state = tmp_path / "client"
    args = ["registry", "resolve", "dev", "retail-chat", "--from", str(world.reg)]
    args += ["--state", str(state), "--format", "json"]
    refused = CliRunner().invoke(app, args, prog_name="nexusctl")
    assert refused.exit_code == 5, refused.stdout
    assert "not live in 'dev'" in refused.stderr
    ops.promote(world.reg, "retail-chat", 3, "dev", keys["ci"], c)
    resolved = CliRunner().invoke(app, args, prog_name="nexusctl")
    assert resolved.exit_code == 0, resolved.stderr
    assert json.loads(resolved.stdout)["version"] == 3
    assert verify_registry(world.reg)["ok"] is True


def test_releaser_key_must_be_a_releaser(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    config, trust = write_setup(tmp_path)
    with pytest.raises(VerificationError) as info:
        ops.init_registry(
            tmp_path / "reg", config, trust, [keys["admin"]], clock(), releaser_key=keys["alice"]
        )
    assert info.value.reason == "untrusted-signer"
    assert not (tmp_path / "reg").exists()
