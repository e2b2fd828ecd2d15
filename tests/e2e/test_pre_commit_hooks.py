"""The pre-commit hooks, run by `pre-commit try-repo` on a sample policy repository.

pre-commit installs nexusctl from the hook repository (``language: python``: a virtualenv and
``pip install .``, dependencies from the package index), exactly as a policy repository's
``.pre-commit-config.yaml`` would. The hook repository is a one-commit copy of this checkout's
package files as they are on disk, so the test sees uncommitted work, and pre-commit builds the
hook environment once per module (``try-repo`` on a dirty checkout would make a new shadow
commit, and a new environment, on every call).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.checkout import copy_checkout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NEBULA = REPO / "policies" / "nebula"
BROKEN = REPO / "tests" / "assets" / "lint" / "NXL001-frontier-catch-all"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@nexus.test", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's package files (tracked or new, not ignored) as a one-commit git repo."""
    root = tmp_path_factory.mktemp("hook-repo")
    copy_checkout(
        root,
        *("nexusctl", "pyproject.toml", "README.md", "MANIFEST.in", "scripts/build_backend.py"),
        ".pre-commit-hooks.yaml",
    )
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "hooks")
    return root


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PRE_COMMIT_HOME for the module: the hook environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A policy repository: policies/ (a policy, its catalog and prices), schemas/, git."""
    root = tmp_path / "policy-repo"
    (root / "policies").mkdir(parents=True)
    for name in ("retail-chat.yaml", "catalog.yaml"):
        shutil.copy(NEBULA / name, root / "policies" / name)
    shutil.copytree(NEBULA / "prices", root / "policies" / "prices")
    subprocess.run(
        [str(BIN / "nexusctl"), "schema", "export", "--out", str(root / "schemas")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "policies")
    return root


def _pre_commit(sample: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [str(BIN / "pre-commit"), *args, "--all-files", "--verbose"],
        cwd=sample,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _use_hooks(sample: Path, hook_repo: Path) -> None:
    """Write the sample's .pre-commit-config.yaml, as a policy repository would."""
    rev = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=hook_repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    (sample / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n    hooks:\n"
        "      - id: nexusctl-lint\n      - id: nexusctl-schema-check\n"
    )
    _git(sample, "add", "-A")


def _break(sample: Path) -> None:
    """Add a policy that NXL001 flags and make the committed RoutingPolicy schema stale."""
    broken = sample / "policies" / "broken"
    broken.mkdir()
    shutil.copy(BROKEN / "policy.yaml", broken / "policy.yaml")
    shutil.copy(BROKEN / "catalog.yaml", broken / "catalog.yaml")
    stale = sample / "schemas" / "RoutingPolicy.json"
    stale.write_text(stale.read_text(encoding="utf-8").replace('"title"', '"tytle"', 1))
    _git(sample, "add", "-A")


def test_hooks_pass_a_clean_repository_then_catch_each_problem(
    sample: Path, hook_repo: Path, home: Path
) -> None:
    _use_hooks(sample, hook_repo)
    clean = _pre_commit(sample, home, "run")
    assert clean.returncode == 0, clean.stdout[-3000:] + clean.stderr[-3000:]
    assert "1 policy and 1 catalog linted: 0 errors" in clean.stdout
    assert clean.stdout.count("Passed") == 2

    _break(sample)
    failed = _pre_commit(sample, home, "run")
    assert failed.returncode == 1
    lines = failed.stdout.splitlines()
    assert any(line.startswith("nexusctl policy lint") and "Failed" in line for line in lines)
    assert any(line.startswith("nexusctl schema check") and "Failed" in line for line in lines)
    assert "policies/broken/policy.yaml:" in failed.stdout
    assert "NXL001" in failed.stdout
    assert "RoutingPolicy.json" in failed.stdout


def test_try_repo_runs_both_hooks_from_the_hook_repository(
    sample: Path, hook_repo: Path, home: Path
) -> None:
    _break(sample)
    result = _pre_commit(sample, home, "try-repo", str(hook_repo))
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "nexusctl policy lint" in result.stdout
    assert "NXL001" in result.stdout
    assert "RoutingPolicy.json" in result.stdout
