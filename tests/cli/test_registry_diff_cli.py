"""`nexusctl registry diff` and `history --at` through the CLI: text, JSON, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.registry_kit import World, diverged_world

runner = CliRunner()


def run(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args], prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def world(tmp_path: Path) -> World:
    return diverged_world(tmp_path)


def test_text_names_each_side_and_each_changed_field(world: World) -> None:
    code, out, err = run("registry", "diff", "dev", "staging", "-r", world.reg)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "dev -> staging: differs"
    assert lines[1] == "retail-chat: differs"
    assert lines[2].startswith("  dev:     v4 sha256:")
    assert lines[3].startswith("  staging: v3 sha256:")
    at = lines.index("  ~ routes faq sloMs")
    assert lines[at + 1 : at + 3] == ["      dev:     3000", "      staging: 4000"]
    assert "  - guardrails no-mistral: only in dev" in lines
    assert "  + tenants wealth: only in staging" in lines
    assert '      {"id": "wealth", "monthlyBudget": 15000000000}' in lines
    assert "  ~ routeOrder" in lines
    assert "  ~ limits frontierShareMaxPct" in lines


def test_json_is_one_document(world: World) -> None:
    code, out, _ = run("registry", "diff", "staging", "dev", "-r", world.reg, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["identical"] is False
    assert (doc["env_a"], doc["env_b"]) == ("staging", "dev")
    (policy,) = doc["policies"]
    assert (policy["a"]["version"], policy["b"]["version"]) == (3, 4)
    kinds = {(c["section"], c["item"]): c["kind"] for c in policy["changes"]}
    assert kinds[("guardrails", "no-mistral")] == "added"
    assert kinds[("tenants", "wealth")] == "removed"
    code, out, _ = run("registry", "diff", "staging", "staging", "-r", world.reg)
    assert code == 0
    assert out.splitlines()[:2] == ["staging -> staging: identical", "retail-chat: same"]


def test_nothing_live_on_one_side(world: World) -> None:
    code, out, _ = run("registry", "diff", "dev", "prod", "-r", world.reg)
    assert code == 0
    lines = out.splitlines()
    assert lines[1:4] == ["retail-chat: only in dev", lines[2], "  prod: (not live)"]
    assert lines[2].startswith("  dev:  v4 sha256:")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("dev", "qa"), 2, "environment 'qa' is not in the registry"),
        (("dev", "prod", "--format", "yaml"), 2, "'yaml' is not one of"),
    ],
)
def test_bad_arguments(world: World, args: tuple[str, ...], code: int, message: str) -> None:
    got, out, err = run("registry", "diff", *args, "-r", world.reg)
    assert got == code
    assert out == ""
    assert message in err


def test_not_a_registry(tmp_path: Path) -> None:
    code, out, err = run("registry", "diff", "dev", "prod", "-r", tmp_path)
    assert code == 3
    assert out == ""
    assert "not a registry" in err


def test_history_at_shows_approvers_and_evidence(world: World) -> None:
    at = world.clock.now().isoformat().replace("+00:00", "Z")
    code, out, err = run("registry", "history", "--env", "staging", "--at", at, "-r", world.reg)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("  staging: retail-chat v3 sha256:")
    assert lines[2].startswith("    promote by ci at ")
    assert lines[2].endswith("approved by alice")
    assert lines[3].startswith("    gates: forward=pass, order=pass, signature=pass")
