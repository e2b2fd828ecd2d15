"""Renewing TUF roots before they expire: `config propose --renew-roots` re-issues every
environment's root with the same keys and a later expiry, signed like any rotation (a threshold
of root N's keys and of its own); the config record names the renewed environments, which is
what justifies the new roots to `registry verify`. python-tuf's real ngclient follows the
renewal. `registry verify` warns while a root has less than 90 days left.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.clock import FixedClock
from nexusctl.errors import VerificationError
from nexusctl.registry import configchange
from nexusctl.registry.resolve import resolve
from nexusctl.registry.tufroots import ROOT_EXPIRY, proposal_dir
from nexusctl.registry.verify import verify_registry
from tests.registry_kit import World, config_yaml, new_world
from tests.unit.test_registry_rotation import ENVS, root_versions, trusted_root_version, walk


@pytest.fixture
def world(tmp_path: Path) -> World:
    """v3 live in every environment, promoted by ci."""
    world = new_world(tmp_path / "w")
    walk(world, 3, "ci")
    return world


def same_config(world: World, version: int = 2) -> Path:
    path = world.tmp / f"v{version}.yaml"
    path.write_text(config_yaml(world.tmp, version=version))
    return path


def root_expiry(world: World, env: str, version: int) -> str:
    path = world.reg / "tuf" / env / "metadata" / f"{version}.root.json"
    return str(json.loads(path.read_bytes())["signed"]["expires"])


def last_record(reg: Path) -> dict[str, Any]:
    import base64

    path = sorted((reg / "records").glob("*.json"))[-1]
    envelope = json.loads(path.read_bytes())
    statement = json.loads(base64.b64decode(envelope["dsseEnvelope"]["payload"]))
    return dict(statement["predicate"])


def test_renewal_reissues_every_root_and_the_gateway_follows(world: World, tmp_path: Path) -> None:
    gateway = tmp_path / "gateway"
    before = resolve(str(world.reg), "prod", "retail-chat", gateway)
    assert trusted_root_version(gateway, "prod") == 1
    old = {env: root_expiry(world, env, 1) for env in ENVS}
    world.clock.advance(dt.timedelta(days=1))  # the kit's clock starts two days back
    # The same config, next version: without --renew-roots nothing about the roots changes.
    plain = configchange.propose(world.reg, same_config(world), world.keys["admin"], world.clock)
    assert plain.roots == []
    renewing = configchange.propose(
        world.reg, same_config(world), world.keys["admin"], world.clock, renew_roots=True
    )
    assert sorted(r["environment"] for r in renewing.roots) == sorted(ENVS)
    assert all(r["version"] == 2 for r in renewing.roots)
    configchange.apply(world.reg, world.keys["admin"], world.clock)
    assert all(root_versions(world, env) == [1, 2] for env in ENVS)
    expected = (world.clock.now() + ROOT_EXPIRY).isoformat().replace("+00:00", "Z")
    for env in ENVS:
        assert root_expiry(world, env, 2) == expected
        assert root_expiry(world, env, 2) > old[env]
    assert sorted(last_record(world.reg)["renewed_roots"]) == sorted(ENVS)
    summary = verify_registry(world.reg)
    assert summary["roots"]["prod"] == {"version": 2, "expires": expected}
    # The gateway walks root 1 -> 2 by itself; the live bundle is unchanged.
    again = resolve(str(world.reg), "prod", "retail-chat", gateway)
    assert (again.digest, trusted_root_version(gateway, "prod")) == (before.digest, 2)


def test_a_renewed_root_without_its_config_record_is_refused(world: World) -> None:
    """Root 2 signed by the admin but copied in by hand, not applied: nothing justifies it."""
    configchange.propose(
        world.reg, same_config(world), world.keys["admin"], world.clock, renew_roots=True
    )
    proposed = world.reg / proposal_dir(2)
    shutil.copy(proposed / "prod" / "2.root.json", world.reg / "tuf/prod/metadata/2.root.json")
    shutil.rmtree(proposed.parent)
    git = ["git", "-C", str(world.reg), "-c", "user.name=M", "-c", "user.email=m@x.invalid"]
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "renew by hand"], check=True)
    with pytest.raises(VerificationError) as info:
        verify_registry(world.reg)
    assert info.value.reason == "tuf-mismatch"
    assert "2.root.json: no config record justifies it" in str(info.value)


def test_a_renewal_that_expires_no_later_is_refused(world: World) -> None:
    world.clock.advance(dt.timedelta(days=-1))  # proposed with a clock behind root 1's making
    configchange.propose(
        world.reg, same_config(world), world.keys["admin"], world.clock, renew_roots=True
    )
    world.clock.advance(dt.timedelta(days=2))
    with pytest.raises(VerificationError) as info:
        configchange.apply(world.reg, world.keys["admin"], world.clock)
    assert info.value.reason == "tuf-mismatch"
    assert "renews nothing" in str(info.value)


def test_verify_warns_of_expiring_roots_and_the_cli_renews_them(tmp_path: Path) -> None:
    """Roots made 300 days ago have 65 days left: `registry verify` says so, per environment;
    after `config propose --renew-roots` and `config apply` (the system clock) it does not."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=300)
    world = new_world(tmp_path / "w", FixedClock(start))
    runner = CliRunner()
    verify = ["registry", "verify", "-r", str(world.reg)]
    result = runner.invoke(app, verify, prog_name="nexusctl")
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert [w.split("'")[0] for w in warnings] == [f"warning: {env}" for env in ENVS]
    assert all("--renew-roots" in w for w in warnings)
    key = ["--key", str(world.keys["admin"]), "-r", str(world.reg)]
    proposed = runner.invoke(
        app,
        ["registry", "config", "propose", str(same_config(world)), "--renew-roots", *key],
        prog_name="nexusctl",
    )
    assert proposed.exit_code == 0, proposed.stderr
    applied = runner.invoke(app, ["registry", "config", "apply", *key], prog_name="nexusctl")
    assert applied.exit_code == 0, applied.stderr
    result = runner.invoke(app, verify, prog_name="nexusctl")
    assert result.exit_code == 0, result.stderr
    assert "warning:" not in result.stderr


@pytest.mark.parametrize(
    "content",
    ["{}", "[", '{"records": "5", "head": "x"}', '{"records": 5, "head": 3}', "[" * 500],
)
def test_a_malformed_verified_state_file_is_an_input_error(world: World, content: str) -> None:
    state = world.tmp / "state.json"
    state.write_text(content)
    args = ["registry", "verify", "-r", str(world.reg), "--state", str(state)]
    result = CliRunner().invoke(app, args, prog_name="nexusctl")
    assert result.exit_code == 3, result.stderr
    assert "not a verified-state file" in result.stderr
    assert "internal error" not in result.stderr
