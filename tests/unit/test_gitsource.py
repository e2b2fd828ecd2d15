"""nexusctl.gitsource against real git repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from nexusctl.errors import InputError
from nexusctl.gitsource import GitSource, open_git_source


def git(folder: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "HOME": str(folder),
    }
    done = subprocess.run(
        ["git", *args], cwd=folder, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "policies").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "policies" / "p.yaml").write_text("a: 1\n")
    git(root, "add", ".")
    git(root, "-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", "x")
    return root


def test_reads_head_root_remote_and_relative_path(repo: Path) -> None:
    source: GitSource = open_git_source(repo / "policies" / "p.yaml")
    assert source.root == repo.resolve()
    assert source.head_commit() == git(repo, "rev-parse", "HEAD")
    assert source.remote_url() is None
    assert source.relative_path(repo / "policies" / "p.yaml") == "policies/p.yaml"
    git(repo, "remote", "add", "origin", "https://example.invalid/r.git")
    assert open_git_source(repo).remote_url() == "https://example.invalid/r.git"


def test_dirty_tracks_modified_tracked_files(repo: Path) -> None:
    assert not open_git_source(repo).is_dirty()
    (repo / "policies" / "p.yaml").write_text("a: 2\n")
    assert open_git_source(repo).is_dirty()


def test_refusals(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        open_git_source(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match="not inside a git repository"):
        open_git_source(tmp_path / "plain")
    with pytest.raises(InputError, match="outside the git work tree"):
        open_git_source(repo).relative_path(tmp_path / "plain")
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(InputError, match="no commit yet"):
        open_git_source(empty).head_commit()
