"""The GitHub job summary and ``::error`` annotations of a real simulation result."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nexusctl.ci.github import render_github, render_github_json
from nexusctl.errors import InputError
from nexusctl.simulate.result import SimulationResult
from nexusctl.traffic.synth import write_synth

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies" / "nebula"
NEXUSCTL = Path(sys.executable).parent / "nexusctl"


def _simulate(folder: Path, *gates: str) -> str:
    traffic = folder / "synth.parquet"
    if not traffic.exists():
        write_synth(traffic, 2000, 5)
    proc = subprocess.run(
        [
            str(NEXUSCTL),
            "simulate",
            "-b",
            str(POLICIES / "retail-chat.yaml"),
            "-c",
            str(POLICIES / "retail-chat.candidate.yaml"),
            "-t",
            str(traffic),
            *[a for g in gates for a in ("--gate", g)],
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 6), proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("sim")
    return {
        "failing": _simulate(folder, "changed_decisions_max_pct=0", "spend_change_max_pct=off"),
        "passing": _simulate(
            folder,
            "changed_decisions_max_pct=100",
            "spend_change_max_pct=off",
            "frontier_share_max_pct=off",
            "slo_attainment_drop_max_points=off",
            "pgr_min=off",
            "accuracy_min=off",
            "escalation_share_max_pct=off",
        ),
    }


def test_each_failed_gate_is_one_error_on_the_candidate_file(results: dict[str, str]) -> None:
    result = SimulationResult.model_validate_json(results["failing"])
    failed = [g for g in result.verdict.gates if not g.passed]
    assert failed, "the test needs a failing gate"
    out = render_github(result)
    errors = [line for line in out.annotations.splitlines() if line.startswith("::error file=")]
    assert len(errors) == len(failed)
    path = result.candidate.path.replace(":", "%3A").replace(",", "%2C")
    gate = next(g for g in failed if g.name == "changed_decisions_max_pct")
    line = next(e for e in errors if "changed_decisions_max_pct" in e)
    assert line.startswith(f"::error file={path},title=nexusctl gate changed_decisions_max_pct")
    assert f"required <= {gate.threshold:g}" in line
    assert "(flag)" in line
    assert out.annotations.splitlines()[-1].startswith("::error title=nexusctl simulate::")
    assert "gate(s) failed" in out.annotations


def test_a_passing_run_is_one_notice(results: dict[str, str]) -> None:
    out = render_github_json(results["passing"])
    assert out.annotations.count("\n") == 1
    assert out.annotations.startswith("::notice title=nexusctl simulate::retail-chat v3 -> ")
    assert "gates passed" in out.annotations


def test_the_summary_is_the_pull_request_markdown(results: dict[str, str]) -> None:
    out = render_github_json(results["failing"])
    assert out.summary.startswith("## ❌ Policy simulation: retail-chat v3 → retail-chat v4")
    assert "### Gates" in out.summary
    assert "::" not in out.summary.split("\n")[0]


def test_messages_are_escaped_for_workflow_commands(results: dict[str, str]) -> None:
    result = SimulationResult.model_validate_json(results["failing"])
    hostile = result.candidate.model_copy(update={"path": "a,b:c\n::warning::x.yaml"})
    out = render_github(result.model_copy(update={"candidate": hostile}))
    for line in out.annotations.splitlines():
        assert line.count("::") == 2
    assert "file=a%2Cb%3Ac%0A%3A%3Awarning%3A%3Ax.yaml" in out.annotations


def test_a_document_that_is_not_a_result_is_invalid_input() -> None:
    with pytest.raises(InputError, match="not a SimulationResult"):
        render_github_json('{"kind": "RoutingPolicy"}')
