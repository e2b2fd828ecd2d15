"""``nexusctl policy test``: run PolicyTest files (expected routing decisions) against policies."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from nexusctl.cli._apps import policy_app
from nexusctl.cli._common import handle_errors, plain, stderr_console, write_stdout
from nexusctl.cli._repo_root import RootOpt


class TestFormat(StrEnum):
    """Output formats of ``policy test``."""

    text = "text"
    json = "json"
    junit = "junit"
    github = "github"


@policy_app.command("test")
@handle_errors
def policy_test(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="PolicyTest files or folders (folders: every *.yaml/*.yml of kind PolicyTest). "
            "Default: the current folder.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        TestFormat,
        typer.Option("--format", help="text, json, junit (XML) or github annotations."),
    ] = TestFormat.text,
    root: RootOpt = None,
) -> None:
    """Run policy unit tests: each case's request through the reference router, checked.

    A PolicyTest file (docs/policy-test.md) names the policy it tests and lists cases: a
    request (inline, or requestFile beside the test file), a load, and the expected route,
    tier, deployment (or deploymentIn), outcome, reason codes, cost and latency bounds.
    Every case runs and every failed expectation is reported at file:line:column.

    Exit codes: 0 every case passed, 1 a case failed or no test case was found, 2 usage
    error, 3 a test, policy or request file could not be loaded.
    """
    from nexusctl.policytest import formats, run_tests

    report = run_tests(paths or [Path(".")], root=root)
    render = {
        TestFormat.json: formats.to_json,
        TestFormat.junit: formats.to_junit,
        TestFormat.github: formats.to_github,
        TestFormat.text: formats.to_text,
    }[output_format]
    write_stdout(render(report))
    if report.no_cases and output_format is not TestFormat.text:
        stderr_console().print(f"error: {plain(formats.summary_line(report))}", markup=False)
    raise typer.Exit(int(report.exit_code()))
