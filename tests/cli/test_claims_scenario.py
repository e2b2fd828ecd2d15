"""Issue 12's claims-assistant scenario, end to end through the CLI.

A new tenant folder (policies/claims, naming the shared policies/nebula catalog across folders
inside a repository root, docs/repository-root.md) holds an EU-only-by-allow-list policy whose
complexity threshold raises the floor to a tier the cost cap leaves empty: lint names the
dead route and the threshold (NXL017); the fixed policy passes its PolicyTest, and the same
test run against the dead policy fails on exactly the hard claims.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.document import ROOT_MARKER

REPO = Path(__file__).resolve().parent.parent.parent
SCENARIO = REPO / "tests" / "assets" / "claims-assistant"
NEBULA = REPO / "policies" / "nebula"


@pytest.fixture
def tenant(tmp_path: Path) -> Path:
    shutil.copytree(NEBULA, tmp_path / "policies" / "nebula")
    (tmp_path / ROOT_MARKER).write_bytes(b"")
    folder = tmp_path / "policies" / "claims"
    folder.mkdir()
    for asset in SCENARIO.iterdir():
        shutil.copy(asset, folder / asset.name)
    return folder


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), prog_name="nexusctl")
    return result.exit_code, result.stdout


def test_lint_reports_the_dead_route_and_the_threshold_that_causes_it(tenant: Path) -> None:
    code, out = run("policy", "lint", "--format", "json", str(tenant / "policy-dead.yaml"))
    assert code == 1
    (item,) = json.loads(out)["findings"]
    assert item["rule"] == "NXL017"
    assert item["targets"] == ["claims"]
    # The threshold's minTier line in the policy, and its score in the message.
    line = (tenant / "policy-dead.yaml").read_text().splitlines()[item["line"] - 1]
    assert line.strip() == "minTier: mid"
    assert "complexity >= 0.7 raises the tier floor to 'mid'" in item["message"]
    assert "'bedrock-eu-sonnet' at $0.011550, is over the cost cap $0.002000" in item["message"]


def test_the_fixed_policy_lints_clean_and_passes_its_tests(tenant: Path) -> None:
    assert run("policy", "lint", str(tenant / "policy.yaml"))[0] == 0
    code, out = run("policy", "test", str(tenant))
    assert code == 0, out
    assert out.strip() == "PASS: 3 case(s) in 1 file(s): 3 passed, 0 failed, 0 error(s)"


def test_the_same_tests_fail_on_the_dead_policy(tenant: Path) -> None:
    test_file = tenant / "claims.test.yaml"
    text = test_file.read_text().replace("policy: policy.yaml", "policy: policy-dead.yaml")
    test_file.write_text(text)
    code, out = run("policy", "test", "--format", "json", str(tenant))
    assert code == 1
    cases = {case["name"]: case for case in json.loads(out)["cases"]}
    failed = {name for name, case in cases.items() if not case["passed"]}
    assert failed == {
        "a hard claim is raised to mid and served within the cap",
        "a caller sending the global class still stays in the EU (allow-list)",
    }
    for name in failed:
        assert cases[name]["decision"]["outcome"] == "escalated"
        assert cases[name]["decision"]["reason"] == "NO_ELIGIBLE_DEPLOYMENT"


def test_show_states_the_allow_list(tenant: Path) -> None:
    code, out = run("policy", "show", "--format", "json", str(tenant / "policy.yaml"))
    assert code == 0
    (guardrail,) = json.loads(out)["guardrails"]
    assert guardrail["allow"] == {"allowRegions": ["eu-west", "eu-central"]}
    assert guardrail["deny"] == {}
    code, out = run("policy", "show", str(tenant / "policy.yaml"))
    assert "all but allowRegions = eu-west," in out  # eu-central may wrap at 80 columns
