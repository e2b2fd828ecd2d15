"""`nexusctl ci comment`: exit codes, stdout/stderr, the token's handling, both platforms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.ci import marker
from nexusctl.cli.app import app
from tests.e2e.fake_forges import Canned, FakeForge

TOKEN = "glpat-secret-VALUE-0123456789"
NEXUSCTL = Path(sys.executable).parent / "nexusctl"


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "diff.md"
    path.write_text("## ❌ Policy simulation\n\n| gate | result |\n| --- | --- |\n")
    return path


@pytest.fixture(params=["github", "gitlab"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeForge]:
    with FakeForge(request.param, token=TOKEN) as forge:
        yield forge


def _args(fake: FakeForge, report: Path, *extra: str) -> list[str]:
    return [
        "ci",
        "comment",
        str(report),
        "--platform",
        fake.kind,
        "--repo",
        fake.repo,
        "--pr" if fake.kind == "github" else "--mr",
        str(fake.number),
        "--api-url",
        fake.api_url,
        *extra,
    ]


def _env(fake: FakeForge, token: str = TOKEN) -> dict[str, str]:
    return {"GITHUB_TOKEN" if fake.kind == "github" else "GITLAB_TOKEN": token}


def test_posts_then_updates_and_prints_one_line(fake: FakeForge, report: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, _args(fake, report), env=_env(fake), prog_name="nexusctl")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith("created comment ")
    assert first.stderr == ""
    second = runner.invoke(app, _args(fake, report), env=_env(fake), prog_name="nexusctl")
    assert second.stdout.startswith("unchanged comment ")
    assert len(fake.bodies()) == 1
    assert fake.bodies()[0].startswith(marker("simulate") + "\n## ❌ Policy simulation")


def test_json_format_is_one_document(fake: FakeForge, report: Path) -> None:
    fake.add(marker("pay") + "\nold")
    result = CliRunner().invoke(
        app,
        _args(fake, report, "--behavior", "delete-and-new", "--tag", "pay", "--format", "json"),
        env=_env(fake),
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["action"] == "created"
    assert len(doc["deleted"]) == 1
    assert doc["truncated"] is False


def test_token_env_names_another_variable(fake: FakeForge, report: Path) -> None:
    result = CliRunner().invoke(
        app,
        _args(fake, report, "--token-env", "POLICY_BOT_TOKEN"),
        env={"POLICY_BOT_TOKEN": TOKEN, "GITHUB_TOKEN": "", "GITLAB_TOKEN": ""},
    )
    assert result.exit_code == 0, result.stderr


def test_no_token_is_a_usage_error_before_any_request(fake: FakeForge, report: Path) -> None:
    result = CliRunner().invoke(app, _args(fake, report), env=_env(fake, ""))
    assert result.exit_code == 2
    assert "environment variable" in result.stderr
    assert fake.requests == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tag", "a -->"], "--tag"),
        (["--report-url", "javascript:alert(1)"], "--report-url"),
        (["--repo", "no-slash-here"], "--repo"),
    ],
)
def test_bad_options_are_usage_errors(
    fake: FakeForge, report: Path, extra: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, _args(fake, report, *extra), env=_env(fake))
    assert result.exit_code == 2
    assert message in result.stderr
    assert fake.bodies() == []


def test_a_missing_report_is_invalid_input(fake: FakeForge, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, _args(fake, tmp_path / "nope.md"), env=_env(fake))
    assert result.exit_code == 3
    assert fake.requests == []


@pytest.mark.parametrize(("status", "code"), [(401, 4), (403, 4), (404, 4), (422, 3)])
def test_api_errors_map_to_documented_exit_codes(
    fake: FakeForge, report: Path, status: int, code: int
) -> None:
    fake.script.append(Canned(status, body={"message": f"status {status}"}))
    result = CliRunner().invoke(app, _args(fake, report), env=_env(fake))
    assert result.exit_code == code
    assert result.stderr.startswith(f"error: {fake.kind}: GET ")
    assert f"answered {status}: status {status}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_the_token_never_appears_in_any_output(report: Path, debug: list[str]) -> None:
    """A real process, a server that echoes the credentials back: the token stays hidden."""
    with FakeForge("github", token="the-right-one", echo_auth_in_errors=True) as fake:
        env = {**os.environ, "GITHUB_TOKEN": TOKEN, "COLUMNS": "200"}
        proc = subprocess.run(
            [str(NEXUSCTL), *debug, *_args(fake, report)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        # The server did receive it (the test would prove nothing otherwise) ...
        assert fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    # ... and the one-line error shows the echo, redacted.
    assert proc.returncode == 4 if not debug else proc.returncode == 1
    assert "Bearer ***" in proc.stderr
    assert TOKEN not in proc.stdout
    assert TOKEN not in proc.stderr
