"""``nexusctl policy test``: the Nebula tests pass, and every broken case or file is reported."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app

REPO = Path(__file__).resolve().parent.parent.parent
NEBULA = REPO / "policies" / "nebula"
GOOD = REPO / "tests" / "assets" / "policytest"
BAD = REPO / "tests" / "assets" / "policytest-bad"


def policy_test(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["policy", "test", *args], prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


def test_nebula_tests_pass_and_cover_every_demo_branch() -> None:
    code, out, _ = policy_test("--format", "json", str(NEBULA))
    document = json.loads(out)
    assert code == 0, out
    assert document["summary"]["failed"] == 0
    assert document["summary"]["cases"] >= 9
    decisions = [case["decision"] for case in document["cases"]]
    outcomes = {d["outcome"] for d in decisions}
    assert outcomes == {"routed", "escalated", "refused"}
    assert {d["decodeStrategy"] for d in decisions} >= {"speculative", "standard"}
    assert any(d["sloMet"] is False for d in decisions)
    assert any(d["tierFloor"] == "mid" and d["routeId"] == "advice" for d in decisions)


def test_a_folder_with_policies_but_no_tests_is_a_failure() -> None:
    code, out, _ = policy_test(str(REPO / "tests" / "assets" / "lint"))
    assert code == 1
    assert out.startswith("FAIL: no test cases found under")


def test_no_cases_in_junit_is_a_failing_testcase(tmp_path: Path) -> None:
    code, out, err = policy_test("--format", "junit", str(tmp_path))
    assert code == 1
    assert ET.fromstring(out).find("./testsuite/testcase/failure") is not None  # noqa: S314 (ours)
    assert "no test cases found" in err


def test_every_failed_expectation_is_reported_at_its_key() -> None:
    code, out, _ = policy_test(str(BAD / "failing.test.yaml"))
    assert code == 1
    lines = out.splitlines()
    path = "failing.test.yaml"
    assert [line.split(": ", 1)[0].rsplit("/", 1)[-1] for line in lines[:-1]] == [
        f"{path}:10:9",
        f"{path}:11:9",
        f"{path}:12:20",
        f"{path}:19:19",
        f"{path}:20:22",
    ]
    assert "expected route 'default', got 'chat'" in lines[0]
    assert "above the maximum 1" in lines[2]
    assert "eliminated by RESIDENCY_REGION" in lines[4]
    assert lines[-1] == "FAIL: 3 case(s) in 1 file(s): 1 passed, 2 failed, 0 error(s)"


def test_json_junit_and_github_carry_the_same_failures() -> None:
    target = str(BAD / "failing.test.yaml")
    _, out, _ = policy_test("--format", "json", target)
    document = json.loads(out)
    assert document["exitCode"] == 1
    failures = [f for case in document["cases"] for f in case["failures"]]
    assert [(f["field"], f["line"]) for f in failures] == [
        ("route", 10),
        ("tier", 11),
        ("costPusd", 12),
        ("reasons", 19),
        ("eliminated", 20),
    ]
    code, out, _ = policy_test("--format", "junit", target)
    suite = ET.fromstring(out).find("testsuite")  # noqa: S314 (our own output)
    assert code == 1
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    assert len(suite.findall("testcase/failure")) == 5
    code, out, _ = policy_test("--format", "github", target)
    annotations = [line for line in out.splitlines() if line.startswith("::error ")]
    assert code == 1
    assert len(annotations) == 5
    assert annotations[0].startswith("::error file=")
    assert ",line=10,col=9," in annotations[0]


@pytest.mark.parametrize(
    ("name", "location", "message"),
    [
        ("bad-request.test.yaml", "8:61", "inputTokens: Input should be a valid integer"),
        ("empty-expect.test.yaml", "9:7", "expect states nothing"),
        ("policy-escape.test.yaml", "5:3", "points outside the test file's folder"),
        ("request-escape.test.yaml", "8:7", "points outside the test file's folder"),
    ],
)
def test_broken_test_files_exit_3_located(name: str, location: str, message: str) -> None:
    code, out, _ = policy_test(str(BAD / name))
    assert code == 3
    first = out.splitlines()[0]
    assert first.startswith(f"{(BAD / name).as_posix()}:{location}: error ")
    assert message in first


def test_request_file_beside_the_test_is_read_strictly(tmp_path: Path) -> None:
    shutil.copytree(GOOD, tmp_path / "t")
    code, out, _ = policy_test(str(tmp_path / "t"))
    assert (code, out.splitlines()[-1]) == (
        0,
        "PASS: 1 case(s) in 1 file(s): 1 passed, 0 failed, 0 error(s)",
    )
    test_file = tmp_path / "t" / "passing.test.yaml"
    test_file.write_text(
        test_file.read_text().replace("requests/chat-eu.json", "requests/bad-string-count.json")
    )
    code, out, _ = policy_test(str(test_file))
    assert code == 3
    assert ":8:7: error requests/bad-string-count.json:" in out
    assert "field 'inputTokens': Input should be a valid integer" in out


def test_duplicate_case_names_are_refused(tmp_path: Path) -> None:
    shutil.copytree(GOOD, tmp_path / "t")
    test_file = tmp_path / "t" / "passing.test.yaml"
    text = test_file.read_text()
    case = text[text.index("    - name:") :]
    test_file.write_text(text + case)
    code, out, _ = policy_test(str(test_file))
    assert code == 3
    assert "duplicate case name 'chat in the eu goes to small-eu'" in out


def test_default_path_is_the_current_folder() -> None:
    cwd = Path.cwd()
    os.chdir(GOOD)
    try:
        code, out, _ = policy_test()
    finally:
        os.chdir(cwd)
    assert code == 0, out


def test_a_named_file_of_another_kind_is_an_error() -> None:
    code, out, _ = policy_test(str(GOOD / "policy.yaml"))
    assert code == 3
    assert "kind is 'RoutingPolicy', expected 'PolicyTest'" in out


def test_control_characters_in_case_names_are_shown_escaped(tmp_path: Path) -> None:
    shutil.copytree(GOOD, tmp_path / "t")
    test_file = tmp_path / "t" / "passing.test.yaml"
    text = test_file.read_text()
    text = text.replace("name: chat in the eu goes to small-eu", 'name: "evil\\e[2J\\u202e"')
    test_file.write_text(text.replace("deployment: small-eu", "deployment: small-us"))
    for fmt in ("text", "github", "junit"):
        code, out, _ = policy_test("--format", fmt, str(test_file))
        assert code == 1
        assert "\x1b" not in out
        assert "\u202e" not in out
        assert "\\x1b" in out


def test_a_missing_path_is_invalid_input(tmp_path: Path) -> None:
    code, out, err = policy_test(str(tmp_path / "absent"))
    assert code == 3
    assert out == ""
    assert "no such file or directory" in err
