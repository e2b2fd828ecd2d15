"""``nexusctl policy lint``: schema and semantic checks with stable rule ids."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from nexusctl.lint import LintReport, Severity

from nexusctl.cli._apps import policy_app
from nexusctl.cli._common import (
    handle_errors,
    plain,
    shown,
    stderr_console,
    stdout_console,
    write_stdout,
)
from nexusctl.cli._repo_root import RootOpt


class FailOn(StrEnum):
    """The lowest severity that makes lint exit 1."""

    error = "error"
    warning = "warning"
    note = "note"


class LintFormat(StrEnum):
    """Output formats of ``policy lint``."""

    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}


@policy_app.command("lint")
@handle_errors
def lint(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Policy files or folders (folders: every *.yaml/*.yml whose kind is linted)."
        ),
    ],
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity."),
    ] = FailOn.error,
    output_format: Annotated[
        LintFormat,
        typer.Option("--format", help="text, json, sarif (2.1.0) or github annotations."),
    ] = LintFormat.text,
    previous: Annotated[
        Path | None,
        typer.Option(
            "--previous", help="The previous version of a policy; its version must be lower."
        ),
    ] = None,
    root: RootOpt = None,
) -> None:
    """Lint routing policies and their catalogs: schema, references, residency, budgets.

    Each finding has a stable rule id (NXL001..., one page each under docs/rules/), a severity,
    one line and file:line:column. Accept a finding in the policy itself, under
    spec.suppressions (rule, reason, optional target and expires); suppressed findings are
    counted, never failed on.

    Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage error,
    3 a file could not be loaded (reported as NXL000) or no policy was found.
    """
    from nexusctl.clock import SystemClock
    from nexusctl.lint import formats, lint_paths

    report = lint_paths(paths, today=SystemClock().now().date(), previous=previous, root=root)
    level: Severity = fail_on.value
    if output_format is LintFormat.json:
        write_stdout(formats.to_json(report, level))
    elif output_format is LintFormat.sarif:
        from nexusctl.lint.sarif import to_sarif

        write_stdout(to_sarif(report, level, Path.cwd().as_uri() + "/"))
    elif output_format is LintFormat.github:
        write_stdout(formats.to_github(report))
    else:
        _print_text(report)
    if report.notes:
        err = stderr_console()
        for note in report.notes:
            err.print(f"note: {plain(note)}", markup=False, highlight=False)
    raise typer.Exit(int(report.exit_code(level)))


def _print_text(report: LintReport) -> None:
    from nexusctl.lint.findings import RULES
    from nexusctl.lint.formats import summary_line

    out = stdout_console()
    for item in report.findings:
        style = _STYLE[item.severity]
        out.print(
            f"{shown(item.location)}: [{style}]{item.severity}[/] [bold]{item.rule}[/] "
            f"{shown(item.message)} [dim]\\[{RULES[item.rule].name}][/]",
            highlight=False,
        )
    out.print(summary_line(report), markup=False, highlight=False)
