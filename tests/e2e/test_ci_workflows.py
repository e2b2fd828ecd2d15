"""Every workflow and action file passes zizmor (offline) and GitHub's/GitLab's JSON schemas."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ASSETS = REPO / "tests" / "assets" / "ci"
WORKFLOWS = (
    sorted((REPO / ".github" / "workflows").glob("*.yml"))
    + sorted((REPO / "docs" / "examples" / "github").glob("*.yml"))
    + sorted((REPO / "examples" / "policy-repo" / ".github" / "workflows").glob("*.yml"))
)
ACTIONS = sorted((REPO / ".github" / "actions").glob("*/action.yml"))
GITLAB = [REPO / "docs" / "examples" / "gitlab-ci.yml"]
PINNED = re.compile(r"^[^@]+@[0-9a-f]{40}$")


def _zizmor(*paths: Path) -> tuple[int, list[dict[str, Any]]]:
    proc = subprocess.run(
        [
            str(BIN / "zizmor"),
            "--offline",
            "--no-progress",
            "--format",
            "json",
            "--min-severity",
            "medium",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout or "[]")


def _schema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_files_under_test_exist() -> None:
    names = {p.name for p in WORKFLOWS} | {p.parent.name for p in ACTIONS}
    assert {
        "ci.yml",
        "policy-gate.yml",
        "policy-gate-caller.yml",
        "policy.yml",
        "nexusctl",
    } <= names


def test_zizmor_finds_nothing_medium_or_higher() -> None:
    code, findings = _zizmor(*WORKFLOWS, *ACTIONS)
    assert findings == [], json.dumps(findings, indent=1)[:4000]
    assert code == 0


def test_zizmor_does_flag_an_injectable_workflow() -> None:
    code, findings = _zizmor(ASSETS / "injectable-workflow.yml")
    audits = {f["ident"] for f in findings}
    assert {"template-injection", "dangerous-triggers"} <= audits
    assert code != 0


def test_workflows_match_githubs_schema() -> None:
    proc = _schema("vendor.github-workflows", *WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actions_match_githubs_schema() -> None:
    proc = _schema("vendor.github-actions", *ACTIONS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_gitlab_example_matches_gitlabs_schema() -> None:
    proc = _schema("vendor.gitlab-ci", *GITLAB)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_rejects_a_broken_workflow() -> None:
    proc = _schema("vendor.github-workflows", ASSETS / "schema-invalid-workflow.yml")
    assert proc.returncode == 1
    assert "jobs" in proc.stdout


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if "runs" in doc:
        return list(doc["runs"].get("steps", []))
    return [s for job in doc["jobs"].values() for s in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: p.name)
def test_remote_actions_are_pinned_by_commit_and_no_target_trigger(path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for step in _steps(doc):
        uses = step.get("uses")
        if uses and not uses.startswith("./"):
            assert PINNED.match(uses), f"{path.name}: {uses} is not pinned by commit SHA"
    triggers = doc.get(True, doc.get("on", {}))  # YAML 1.1 reads `on:` as True
    assert "pull_request_target" not in (triggers or {})
    if "jobs" in doc:
        for name, job in doc["jobs"].items():
            if "steps" in job:
                assert "permissions" in job or "permissions" in doc, f"{name} lacks permissions"


def test_the_action_passes_each_line_as_one_literal_argument(tmp_path: Path) -> None:
    fake = tmp_path / "nexusctl"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "[$a]"; done\nexit 6\n')
    fake.chmod(0o755)
    outputs = tmp_path / "outputs"
    args = "policy\nlint\npolicies/with space/*.yaml\n$(touch pwned)\n\n--format\ngithub\n"
    proc = subprocess.run(
        ["bash", str(REPO / ".github" / "actions" / "nexusctl" / "scripts" / "run.sh")],
        cwd=tmp_path,
        env={
            "PATH": f"{tmp_path}:/usr/bin:/bin",
            "NEXUSCTL_ARGS": args,
            "GITHUB_OUTPUT": str(outputs),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 6
    assert proc.stdout.splitlines() == [
        "[policy]",
        "[lint]",
        "[policies/with space/*.yaml]",
        "[$(touch pwned)]",
        "[--format]",
        "[github]",
    ]
    assert not (tmp_path / "pwned").exists()
    assert outputs.read_text() == "exit-code=6\n"
