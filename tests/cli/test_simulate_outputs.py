"""`simulate` writes every report from one replay, and refuses what it cannot pair."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.simulate.result import SimulationResult
from nexusctl.traffic.synth import write_synth

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies" / "nebula"
BASELINE = str(POLICIES / "retail-chat.yaml")
CANDIDATE = str(POLICIES / "retail-chat.candidate.yaml")


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outputs") / "synth.parquet"
    write_synth(path, 2000, 7)
    return path


def _invoke(traffic: Path, *extra: str, env: dict[str, str] | None = None) -> object:
    args = ["simulate", "-b", BASELINE, "-c", CANDIDATE, "-t", str(traffic), *extra]
    return CliRunner().invoke(app, args, prog_name="nexusctl", env=env)


def test_one_replay_writes_every_format_by_extension(traffic: Path, tmp_path: Path) -> None:
    names = ["r.md", "r.html", "r.json", "r.xml", "r.txt"]
    flags = [arg for name in names for arg in ("-o", str(tmp_path / name))]
    result = _invoke(traffic, *flags, "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("PASS retail-chat v3")  # '-': the text summary on stdout
    for name in names:
        assert f"report to {tmp_path / name}" in result.stderr
    document = SimulationResult.model_validate_json((tmp_path / "r.json").read_text("utf-8"))
    assert document.review is not None
    assert document.review.window is not None
    markdown = (tmp_path / "r.md").read_text("utf-8")
    assert "### Spend by tenant, projected to a month" in markdown
    assert "Full report: `r.html`" in markdown  # the HTML written by the same run
    assert "<!DOCTYPE html>" in (tmp_path / "r.html").read_text("utf-8")
    root = ET.fromstring((tmp_path / "r.xml").read_bytes())  # noqa: S314 (our own output)
    assert root.tag == "testsuites"
    text = (tmp_path / "r.txt").read_text("utf-8")
    assert "Gates" in text
    assert "\x1b" not in text
    assert not list(tmp_path.glob(".*.partial"))


def test_format_output_pairs_and_named_formats(traffic: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    result = _invoke(
        traffic,
        "--format",
        "json",
        "-o",
        str(tmp_path / "diff.out"),
        "--format",
        "github",
        "-o",
        str(summary),
        "--report-url",
        "https://ci.example/run/7/report.html",
    )
    assert result.exit_code == 0, result.stderr
    json.loads((tmp_path / "diff.out").read_text("utf-8"))
    written = summary.read_text("utf-8")
    assert "[Full report](https://ci.example/run/7/report.html)" in written
    assert "::notice title=nexusctl simulate::" in result.stdout
    named = _invoke(traffic, "-o", f"junit:{tmp_path / 'gates.txt'}")
    assert named.exit_code == 0, named.stderr
    assert (tmp_path / "gates.txt").read_text("utf-8").startswith("<?xml")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "json", "--format", "html"], "only one report can go to stdout"),
        (["--format", "json", "-o", "a.json", "-o", "b.html"], "1 --format value(s) for 2"),
        (["-o", "report.pdf"], "cannot tell the report format"),
        (["-o", "noextension"], "a name without an extension"),
        (["-o", "-", "-o", "-"], "more than one report names stdout"),
        (["-o", "a.json", "-o", "./a.json"], "is given twice"),
        (["--format", "html", "-o", "json:x.json"], "names json but its --format is html"),
        (["-o", "x.md", "--report-url", "javascript:alert(1)"], "not a plain http(s) URL"),
    ],
)
def test_outputs_that_cannot_be_paired_are_usage_errors(
    traffic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = _invoke(traffic, *extra)
    assert result.exit_code == 2, result.stderr
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_bad_last_output_fails_before_the_replay_and_writes_nothing(
    traffic: Path, tmp_path: Path
) -> None:
    first = tmp_path / "first.json"
    result = _invoke(traffic, "-o", str(first), "-o", str(tmp_path / "missing" / "x.md"))
    assert result.exit_code == 4
    assert "the folder" in result.stderr
    assert "does not exist" in result.stderr
    assert not first.exists()


def test_an_output_never_overwrites_the_traffic(traffic: Path) -> None:
    before = traffic.read_bytes()
    result = _invoke(traffic, "-o", f"json:{traffic}")
    assert result.exit_code == 2
    assert "would overwrite an input" in result.stderr
    assert traffic.read_bytes() == before


def test_reports_are_replaced_whole(traffic: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    out.write_text("old", encoding="utf-8")
    result = _invoke(traffic, "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text("utf-8"))["kind"] == "SimulationResult"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_the_job_summary_shares_stdout_only_when_it_goes_to_its_file(
    traffic: Path, tmp_path: Path
) -> None:
    summary = tmp_path / "step-summary.md"
    both = _invoke(traffic, "-o", "-", "-o", "github:", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert both.exit_code == 0, both.stderr
    assert both.stdout.startswith("PASS retail-chat v3")
    assert "::notice title=nexusctl simulate::" in both.stdout
    assert "## ✅ Policy simulation" in summary.read_text("utf-8")
    clash = _invoke(traffic, "-o", "-", "-o", "github:", env={"GITHUB_STEP_SUMMARY": ""})
    assert clash.exit_code == 2
    assert "both write to stdout" in clash.stderr
