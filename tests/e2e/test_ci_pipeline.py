"""The policy gate's scripts on a real two-commit policy repository, as the workflow runs them.

``.github/workflows/policy-gate.yml`` (and the GitLab example) run
``scripts/pr-gate.sh`` on pull requests and ``scripts/release.sh`` on merge; these tests run
the same scripts with the environment the workflow gives them, against a real git history and
the fake GitHub API on 127.0.0.1 (never the real one).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nexusctl.ci import marker
from nexusctl.traffic.synth import write_synth
from tests.e2e.fake_forges import FakeForge

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / ".github" / "actions" / "nexusctl" / "scripts"
NEBULA = REPO / "policies" / "nebula"
BIN = Path(sys.executable).parent
TOKEN = "ghs_pipeline_token_value"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@nexus.test", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()


@pytest.fixture
def policy_repo(tmp_path: Path) -> tuple[Path, str]:
    """A policy repository: v3 of retail-chat committed, then a PR-like commit with v4."""
    root = tmp_path / "nebula-policies"
    (root / "policies").mkdir(parents=True)
    shutil.copy(NEBULA / "retail-chat.yaml", root / "policies" / "retail-chat.yaml")
    shutil.copy(NEBULA / "catalog.yaml", root / "policies" / "catalog.yaml")
    shutil.copytree(NEBULA / "prices", root / "policies" / "prices")
    shutil.copy(NEBULA / "gates" / "retail-chat.gates.yaml", root / "gates.yaml")
    (root / "traffic").mkdir()
    write_synth(root / "traffic" / "sample.parquet", 3000, 11)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "retail-chat v3")
    base = _git(root, "rev-parse", "HEAD")
    shutil.copy(NEBULA / "retail-chat.candidate.yaml", root / "policies" / "retail-chat.yaml")
    _git(root, "commit", "-qam", "retail-chat v4: advice climbs to mid earlier")
    return root, base


def _run(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))}
    return subprocess.run(
        ["bash", str(SCRIPTS / script)],
        cwd=cwd,
        env={**clean, "PATH": f"{BIN}{os.pathsep}{clean['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_pull_request_gate_lints_simulates_summarises_and_comments_once(
    policy_repo: tuple[Path, str], tmp_path: Path
) -> None:
    root, base = policy_repo
    out = tmp_path / "out"
    summary = tmp_path / "summary.md"
    outputs = tmp_path / "github-output"
    with FakeForge("github", token=TOKEN, repo="nebula/policies", number=12) as fake:
        env = {
            "POLICIES": "policies",
            "TRAFFIC": "traffic/sample.parquet",
            "GATES": "gates.yaml",
            "BASE_REF": base,
            "OUT": str(out),
            "COMMENT_PLATFORM": "github",
            "COMMENT_REPO": "nebula/policies",
            "COMMENT_NUMBER": "12",
            "COMMENT_API_URL": fake.api_url,
            "COMMENT_REPORT_URL": "https://ci.example/runs/1",
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(outputs),
        }
        first = _run("pr-gate.sh", root, **env)
        second = _run("pr-gate.sh", root, **env)
        bodies = fake.bodies()
        posts = fake.calls("POST")
    report = (out / "reports" / "retail-chat.md").read_text(encoding="utf-8")
    # v4 moves more decisions than gates.yaml allows: the gate fails on purpose (exit 6).
    assert report.startswith("## ❌ Policy simulation: retail-chat v3 → retail-chat v4")
    assert first.returncode == 6, first.stderr[-3000:]
    assert "changed policies: policies/retail-chat.yaml" in first.stdout
    assert "a simulation gate failed" in first.stderr
    assert second.returncode == 6
    # The upload step reads where the SARIF is from the step's output.
    assert outputs.read_text().splitlines()[0] == f"sarif={out / 'lint.sarif'}"
    sarif = json.loads((out / "lint.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    # One sticky comment, tagged with the policy; the second run found it and sent nothing.
    assert len(posts) == 1
    assert bodies == [marker("retail-chat") + "\n" + report]
    assert "unchanged comment" in second.stdout
    assert summary.read_text(encoding="utf-8") == report * 2
    assert TOKEN not in first.stdout + first.stderr
    # The base worktree was cleaned up.
    assert "base" not in _git(root, "worktree", "list")


def test_a_pull_request_without_policy_changes_only_lints(
    policy_repo: tuple[Path, str], tmp_path: Path
) -> None:
    root, _ = policy_repo
    head = _git(root, "rev-parse", "HEAD")
    proc = _run(
        "pr-gate.sh",
        root,
        POLICIES="policies",
        TRAFFIC="traffic/sample.parquet",
        BASE_REF=head,
        OUT=str(tmp_path / "out"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "changed policies: (none)" in proc.stdout
    assert list((tmp_path / "out" / "reports").iterdir()) == []


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "release.pem"
    subprocess.run([str(BIN / "nexusctl"), "key", "generate", "--out", str(path)], check=True)
    return path


def test_merge_bundles_signs_and_attests_each_changed_policy(
    policy_repo: tuple[Path, str], tmp_path: Path, key: Path
) -> None:
    root, base = policy_repo
    out = tmp_path / "out"
    proc = _run(
        "release.sh",
        root,
        POLICIES="policies",
        BEFORE_REF=base,
        OUT=str(out),
        SIGN_ARGS=f"--key\n{key}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    bundle = out / "bundles" / "retail-chat"
    assert (bundle / "signature.sigstore.json").is_file()
    assert [p.suffix for p in (bundle / "attestations").iterdir()] == [".json"]


def test_merge_with_a_registry_but_no_registry_key_stops_before_publishing(
    policy_repo: tuple[Path, str], tmp_path: Path, key: Path
) -> None:
    root, base = policy_repo
    proc = _run(
        "release.sh",
        root,
        BEFORE_REF=base,
        OUT=str(tmp_path / "out"),
        SIGN_ARGS=f"--key\n{key}",
        REGISTRY=str(tmp_path / "registry"),
    )
    assert proc.returncode != 0
    assert "REGISTRY_KEY must name the releaser registry key file" in proc.stderr
    assert not (tmp_path / "registry").exists()
