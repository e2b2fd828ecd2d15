"""Terminal control characters in policy text are shown as visible escapes, never raw.

YAML's double-quoted escapes put ESC, C1 controls and bidirectional overrides into policy
strings; before, `policy show` printed them raw (a policy could clear the reviewer's screen or
retitle the window). Lint flags them as NXL016 as well.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from nexusctl.cli.app import app
from tests.conftest import ASSETS, POLICIES

POLICY = ASSETS / "hostile" / "policy" / "control-characters" / "policy.yaml"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="nexusctl")


def assert_no_raw_controls(text: str) -> None:
    for character in RAW:
        assert character not in text, f"raw {character!r} in output"


def test_policy_show_escapes_control_characters() -> None:
    result = run("policy", "show", str(POLICY))
    assert result.exit_code == 0, result.stderr
    assert_no_raw_controls(result.stdout)
    assert "owner platform\\x1b]0;owned\\x07" in result.stdout
    assert "Approved by risk.\\x1b[2J\\x1b[HApproved by nobody." in result.stdout
    assert "review\\x1b[8m" in result.stdout


def test_policy_show_json_keeps_the_text_exact_and_escaped_by_json() -> None:
    result = run("policy", "show", str(POLICY), "--format", "json")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout  # JSON writes it as \u001b
    document = json.loads(result.stdout)
    assert document["policy"]["owner"] == "platform\x1b]0;owned\x07"


def test_lint_flags_every_string_with_nxl016_and_prints_it_escaped() -> None:
    result = run("policy", "lint", str(POLICY))
    assert result.exit_code == 1
    assert_no_raw_controls(result.stdout)
    flagged = [line for line in result.stdout.splitlines() if " NXL016 " in line]
    assert [line.split(" policy text at ")[1].split()[0] for line in flagged] == [
        "metadata.owner",
        "metadata.description",
        "spec.residencyClasses.0.description",
        "spec.guardrails.0.description",
        "spec.escalation.0.reason",
        "spec.escalation.0.target",
    ]
    assert "control character \\u202e" in flagged[2]
    assert "control character \\x9b" in flagged[3]


def test_lint_github_annotations_escape_control_characters() -> None:
    result = run("policy", "lint", str(POLICY), "--format", "github")
    assert result.exit_code == 1
    assert_no_raw_controls(result.stdout)
    assert result.stdout.count("::error ") == 6


def test_explain_text_escapes_the_request_id() -> None:
    body = (
        '{"requestId": "r-1\\u001b[2J\\u202e", "tenant": "retail-banking", "app": "web-chat", '
        '"residencyClass": "ca", "inputTokens": 600, "outputTokens": 150}'
    )
    result = run("policy", "explain", str(POLICIES / "retail-chat.yaml"), "-r", body)
    assert result.exit_code == 0, result.stderr
    assert_no_raw_controls(result.stdout)
    assert "r-1\\x1b[2J\\u202e" in result.stdout


def test_error_messages_escape_control_characters(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('kind: RoutingPolicy\n"\\e[2Jk": 1\n"\\e[2Jk": 2\n', encoding="utf-8")
    result = run("policy", "show", str(policy))
    assert result.exit_code == 3
    assert_no_raw_controls(result.stderr)
    assert "duplicate key '\\x1b[2Jk'" in result.stderr


@pytest.mark.parametrize("name", ["NXL016-control-character"])
def test_the_lint_asset_holds_an_escape_sequence(name: str) -> None:
    """The broken lint asset really carries ESC once loaded (not a literal backslash)."""
    from nexusctl.policy.loader import load_policy

    loaded = load_policy(ASSETS / "lint" / name / "policy.yaml")
    assert "\x1b[2J" in loaded.policy.spec.escalation[0].reason
