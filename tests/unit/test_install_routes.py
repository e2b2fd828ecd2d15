"""No page tells anyone to install the package index's unrelated "nexusctl"."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: `pip install nexusctl` (or `pip install -U nexusctl==1`), but not `nexusctl-routing`.
BARE = re.compile(r"pip3?\s+install\s+(?:-\S+\s+)*[\"']?nexusctl(?![-\w])")


def _pages() -> list[Path]:
    pages = [REPO / "README.md", REPO / ".pre-commit-hooks.yaml"]
    pages += sorted((REPO / "docs").rglob("*.md")) + sorted((REPO / "docs").rglob("*.yml"))
    pages += sorted(p for p in (REPO / ".github").rglob("*") if p.is_file())
    return pages


def test_the_pattern_catches_the_bare_name() -> None:
    assert BARE.search("run pip install nexusctl now")
    assert BARE.search("pip install -U 'nexusctl==0.9'")
    assert not BARE.search("pip install nexusctl-routing")
    assert not BARE.search('pip install "nexusctl-routing @ git+https://example/x@v1"')


def test_no_page_says_pip_install_nexusctl() -> None:
    pages = _pages()
    assert len(pages) > 10
    offenders = [str(p.relative_to(REPO)) for p in pages if BARE.search(p.read_text("utf-8"))]
    assert offenders == []


def test_the_distribution_has_its_own_name_and_the_command_keeps_ours() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["name"] == "nexusctl-routing"
    assert project["scripts"] == {"nexusctl": "nexusctl.cli.entry:main"}
