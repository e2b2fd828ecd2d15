"""Every broken lint asset fails with exactly its own rule id, at its expected location."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.lint import RULES

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "lint"
FOLDERS = sorted(p for p in ASSETS.iterdir() if p.is_dir())


def run_in(folder: Path, *args: str) -> tuple[int, str]:
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(app, ["policy", "lint", *args], prog_name="nexusctl")
    finally:
        os.chdir(cwd)
    return result.exit_code, result.stdout


def expected(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "expected.json").read_text())
    return data


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_asset_fails_with_its_rule_only(folder: Path) -> None:
    want = expected(folder)
    assert folder.name.startswith(want["rule"] + "-")
    args = [*want["args"], *want.get("paths", ["."])]
    code, out = run_in(folder, "--format", "json", *args)
    document = json.loads(out)
    assert code == want["exitCode"] == 1
    assert {f["rule"] for f in document["findings"]} == {want["rule"]}
    first = document["findings"][0]
    assert (first["path"], first["line"], first["column"]) == (
        want["path"],
        want["line"],
        want["column"],
    )
    assert want["message"] in first["message"]
    assert first["severity"] == RULES[want["rule"]].severity


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_asset_text_line_names_rule_and_location(folder: Path) -> None:
    want = expected(folder)
    code, out = run_in(folder, *want["args"], *want.get("paths", ["."]))
    assert code == 1
    location = f"{want['path']}:{want['line']}:{want['column']}"
    assert out.splitlines()[0].startswith(
        f"{location}: {RULES[want['rule']].severity} {want['rule']} "
    )


def test_every_rule_has_a_broken_asset() -> None:
    covered = {p.name.split("-")[0] for p in FOLDERS}
    assert covered == set(RULES) - {"NXL000"}  # NXL000 is covered by the loader corpus
