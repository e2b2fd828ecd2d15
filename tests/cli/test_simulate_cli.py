"""`nexusctl simulate` end to end through the CLI, with the real replay engine."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.traffic.synth import write_synth

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies" / "nebula"
BASELINE = str(POLICIES / "retail-chat.yaml")
CANDIDATE = str(POLICIES / "retail-chat.candidate.yaml")
REPRICED = str(POLICIES / "candidates" / "retail-chat.yaml")
GATES = REPO / "tests" / "assets" / "simulate" / "gates"


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("simulate") / "synth.parquet"
    write_synth(path, 3000, 11)
    return path


def _invoke(*args: str) -> object:
    return CliRunner().invoke(app, ["simulate", *args], prog_name="nexusctl")


def _base(traffic: Path, *extra: str) -> list[str]:
    return ["--baseline", BASELINE, "--candidate", CANDIDATE, "--traffic", str(traffic), *extra]


def test_simulate_text_summary(traffic: Path) -> None:
    result = _invoke(*_base(traffic))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "PASS retail-chat v3 → retail-chat v4 over 3,000 requests" in out
    assert "residency_violations_max" in out
    assert "Decisions by tier" in out
    assert result.stderr == ""


def test_simulate_json_is_one_document(traffic: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.parquet"
    result = _invoke(*_base(traffic, "--format", "json", "--decisions", str(pairs)))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["decisions"]["requests"] == 3000
    assert data["residency"]["candidate_violations"] == 0
    assert data["spend"]["change"] == data["spend"]["candidate"] - data["spend"]["baseline"]
    assert data["decisions"]["changed"] > 0
    assert pq.read_metadata(pairs).num_rows == 3000


def test_simulate_failed_gate_exits_6_after_writing_the_report(traffic: Path) -> None:
    result = _invoke(
        *_base(traffic, "--format", "markdown", "--gate", "changed_decisions_max_pct=0")
    )
    assert result.exit_code == 6
    assert result.stdout.startswith("## ❌")
    assert "1 gate(s) failed: changed_decisions_max_pct" in result.stderr


def test_simulate_junit_to_file(traffic: Path, tmp_path: Path) -> None:
    out = tmp_path / "gates.xml"
    result = _invoke(
        *_base(
            traffic,
            "--format",
            "junit",
            "-o",
            str(out),
            "--gates",
            str(GATES / "disable-residency.gates.yaml"),
        )
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"wrote junit report to {out}" in result.stderr
    root = ET.parse(out).getroot()  # noqa: S314 (our own output)
    names = [c.get("name") for c in root.iter("testcase")]
    assert names == ["changed_decisions_max_pct", "frontier_share_max_pct"]


def test_simulate_html_to_file(traffic: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = _invoke(*_base(traffic, "--format", "html", "-o", str(out)))
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_simulate_catalog_change_needs_the_flag(traffic: Path) -> None:
    args = ["--baseline", BASELINE, "--candidate", REPRICED, "--traffic", str(traffic)]
    refused = _invoke(*args)
    assert refused.exit_code == 3
    assert "catalog differs" in refused.stderr
    assert "--allow-catalog-change" in refused.stderr
    allowed = _invoke(*args, "--allow-catalog-change", "--format", "json")
    assert allowed.exit_code == 0, allowed.stderr
    spend = json.loads(allowed.stdout)["spend"]
    assert spend["price_effect"] != 0
    assert spend["price_effect"] + spend["routing_effect"] == spend["change"]


def test_simulate_empty_traffic(tmp_path: Path) -> None:
    empty = tmp_path / "empty.parquet"
    write_synth(empty, 0, 1)
    refused = _invoke(*_base(empty))
    assert refused.exit_code == 3
    assert "holds no requests" in refused.stderr
    allowed = _invoke(*_base(empty, "--allow-empty", "--format", "json"))
    assert allowed.exit_code == 0, allowed.stderr
    assert json.loads(allowed.stdout)["decisions"]["requests"] == 0


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--gate", "bogus=1"], 2, "expected NAME=THRESHOLD"),
        (["--gates", str(GATES / "unknown-field.gates.yaml")], 3, "unknown-field.gates.yaml:6:3"),
        (["--format", "pdf"], 2, "pdf"),
    ],
)
def test_simulate_bad_arguments(traffic: Path, extra: list[str], code: int, message: str) -> None:
    result = _invoke(*_base(traffic, *extra))
    assert result.exit_code == code
    assert message in result.stderr
    assert result.stdout == ""


def test_simulate_bad_traffic(tmp_path: Path) -> None:
    missing = _invoke(*_base(tmp_path / "absent.parquet"))
    assert missing.exit_code == 3
    assert "traffic file not found" in missing.stderr
    junk = REPO / "tests" / "assets" / "simulate" / "not-parquet.parquet"
    result = _invoke(*_base(junk))
    assert result.exit_code == 3
    assert "Traceback" not in result.stderr


def test_simulate_unwritable_output_exits_4(traffic: Path, tmp_path: Path) -> None:
    result = _invoke(*_base(traffic, "--format", "json", "-o", str(tmp_path)))
    assert result.exit_code == 4
    assert "cannot write the report" in result.stderr


def test_simulate_github_format_appends_the_job_summary_and_annotates_failed_gates(
    traffic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = _invoke(*_base(traffic, "--format", "github", "--gate", "spend_change_max_pct=-90"))
    assert result.exit_code == 6, result.stderr
    written = summary.read_text(encoding="utf-8")
    assert written.startswith("earlier step\n")  # appended, never overwritten
    assert "retail-chat" in written
    assert "spend_change_max_pct" in written
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert any("nexusctl gate spend_change_max_pct failed" in line for line in errors)
    assert "::error title=nexusctl simulate::" in result.stdout


def test_simulate_github_format_without_a_summary_file_prints_it(
    traffic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    result = _invoke(*_base(traffic, "--format", "github"))
    assert result.exit_code == 0, result.stderr
    assert "::notice title=nexusctl simulate::" in result.stdout
    assert "retail-chat" in result.stdout.split("::notice")[0]
