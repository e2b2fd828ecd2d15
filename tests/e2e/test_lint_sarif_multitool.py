"""Microsoft's SARIF multitool validates our SARIF with no errors and no warnings."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLES = [
    REPO / "policies" / "nebula" / name
    for name in ("retail-chat.yaml", "credit-underwriting.yaml", "code-assistant.yaml")
]
LINT_ASSETS = sorted(p for p in (REPO / "tests" / "assets" / "lint").iterdir() if p.is_dir())
LOADER_ASSETS = REPO / "tests" / "assets" / "loader"

pytestmark = pytest.mark.e2e


def sarif_of(paths: list[Path], tmp_path: Path, name: str) -> tuple[Path, int]:
    result = CliRunner().invoke(
        app,
        ["policy", "lint", "--format", "sarif", "--fail-on", "note", *map(str, paths)],
        prog_name="nexusctl",
    )
    out = tmp_path / name
    out.write_text(result.stdout)
    return out, result.exit_code


def validate(node_tools: Path, sarif: Path, tmp_path: Path) -> list[dict[str, object]]:
    report = tmp_path / (sarif.stem + ".validation.sarif")
    proc = subprocess.run(
        [
            str(node_tools / "node_modules" / ".bin" / "sarif-multitool"),
            "validate",
            str(sarif),
            "--output",
            str(report),
            "--log",
            "ForceOverwrite",
        ],
        cwd=node_tools,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results: list[dict[str, object]] = json.loads(report.read_text())["runs"][0]["results"]
    return results


def test_clean_examples_validate(node_tools: Path, tmp_path: Path) -> None:
    sarif, code = sarif_of(EXAMPLES, tmp_path, "examples.sarif")
    assert code == 0
    log = json.loads(sarif.read_text())
    assert len(log["runs"][0]["results"]) == 4  # the suppressed findings, marked as such
    assert validate(node_tools, sarif, tmp_path) == []


def test_broken_corpus_validates(node_tools: Path, tmp_path: Path) -> None:
    broken = [*(folder / "policy.yaml" for folder in LINT_ASSETS)]
    broken += [LOADER_ASSETS / "syntax-error.yaml", LOADER_ASSETS / "not-utf8.yaml"]
    sarif, code = sarif_of(broken, tmp_path, "broken.sarif")
    assert code == 3  # the two loader assets make it invalid input
    rules = {r["ruleId"] for r in json.loads(sarif.read_text())["runs"][0]["results"]}
    assert {"NXL000", "NXL001", "NXL005", "NXL007", "NXL014"} <= rules
    assert validate(node_tools, sarif, tmp_path) == []
