"""docs/cli.md is generated from the typer application and kept in sync (drift check)."""

from __future__ import annotations

import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from nexusctl.cli.app import app
from nexusctl.cli.reference import render_cli_reference

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "cli.md"


def test_docs_cli_md_matches_the_commands() -> None:
    expected = render_cli_reference(app)
    assert PAGE.read_text(encoding="utf-8") == expected, (
        "docs/cli.md is stale: run `.venv/bin/python -m nexusctl.cli.reference`"
    )


def test_every_registered_command_has_a_section() -> None:
    text = render_cli_reference(app)
    root = typer.main.get_command(app)
    ctx = root.make_context("nexusctl", [], resilient_parsing=True)
    for name in root.list_commands(ctx):
        assert f"## `nexusctl {name}`" in text
    assert "#### `nexusctl ci comment`" in text
    assert "#### `nexusctl policy lint`" in text


class Colour(StrEnum):
    red = "red"
    blue = "blue"


def test_a_command_registered_later_appears_with_its_options() -> None:
    later = typer.Typer(no_args_is_help=True)
    group = typer.Typer(help="Things added later.")
    later.add_typer(group, name="registry")

    @group.command("promote")
    def promote(
        name: Annotated[str, typer.Argument(help="The policy.")],
        to: Annotated[Colour, typer.Option("--to", help="Where | what.")] = Colour.red,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan only.")] = False,
    ) -> None:
        """Promote a policy <now>."""

    text = render_cli_reference(later, prog_name="tool")
    assert "### `tool registry promote`" in text
    assert "tool registry promote [OPTIONS]" in text
    assert "Promote a policy &lt;now&gt;." in text
    assert "| `NAME` | text | yes |  | The policy. |" in text
    assert "| `--to` | red \\| blue |  | `red` | Where \\| what. |" in text
    assert "| `--dry-run` | flag |  |  | Plan only. |" in text


def test_the_check_mode_reports_drift(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "cli.md").write_text("# stale\n")
    code = "from nexusctl.cli.reference import main; raise SystemExit(main(['--check']))"
    stale = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert stale.returncode == 1
    assert "docs/cli.md is stale" in stale.stderr
    current = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert current.returncode == 0, current.stderr
