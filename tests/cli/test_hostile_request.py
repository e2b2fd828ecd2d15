"""The explain request is read strictly: JSON integers for counts, unique keys, every bad
field reported at once (issue 8 Part 2: ``"600"`` and ``true`` were accepted as integers, a
repeated key silently kept its last value, and only the first bad field was named)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from nexusctl.cli.app import app
from tests.conftest import ASSETS, POLICIES

REQUESTS = ASSETS / "hostile" / "requests"
POLICY = str(POLICIES / "retail-chat.yaml")


def explain(request: str) -> Result:
    args = ["policy", "explain", POLICY, "--request", request]
    return CliRunner().invoke(app, args, prog_name="nexusctl")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("string-integer.json", "field 'inputTokens': Input should be a valid integer"),
        ("bool-integer.json", "field 'outputTokens': Input should be a valid integer"),
        ("duplicate-key.json", "duplicate key 'inputTokens'"),
        ("too-many-tokens.json", "field 'inputTokens': Input should be less than or equal to"),
    ],
)
def test_loose_request_is_refused_with_its_reason(name: str, reason: str) -> None:
    result = explain(f"@{REQUESTS / name}")
    assert result.exit_code == 3
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {REQUESTS / name}: ")
    assert reason in line


def test_every_bad_field_is_reported_in_one_line() -> None:
    result = explain(f"@{REQUESTS / 'many-bad-fields.json'}")
    assert result.exit_code == 3
    (line,) = result.stderr.splitlines()
    assert "5 invalid field(s)" in line
    for problem in (
        "missing required field 'tenant'",
        "field 'inputTokens': Input should be a valid integer",
        "field 'outputTokens': Input should be a valid integer",
        "field 'complexity': Input should be less than or equal to 1",
        "unknown field 'prompt'",
    ):
        assert problem in line


def test_integral_scores_and_snake_case_names_still_work() -> None:
    body = (
        '{"tenant": "retail-banking", "app": "web-chat", "residency_class": "ca", '
        '"input_tokens": 600, "output_tokens": 150, "complexity": 1, "confidence": 0}'
    )
    result = explain(body)
    assert result.exit_code == 0, result.stderr
