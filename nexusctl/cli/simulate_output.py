"""`simulate`'s reports: render every planned target from the one result, then write them.

The plan (which format goes where) is ``nexusctl.simulate.reports.outputs``; this module only
draws what needs rich (the text summary) or the CI glue (the github summary), and puts each
document where it belongs. Every report is rendered before any is written, files are published
atomically, and stdout comes last.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from nexusctl.cli._common import stderr_console, stdout_console, write_stdout
from nexusctl.simulate.reports import ReportFormat

if TYPE_CHECKING:
    from rich.console import Console

    from nexusctl.simulate.reports.outputs import OutputTarget
    from nexusctl.simulate.reports.terminal import Block
    from nexusctl.simulate.result import SimulationResult

#: Width of the text summary when it is written to a file (a log, not a terminal).
TEXT_FILE_WIDTH = 110


def note(text: str) -> None:
    """One diagnostic line on stderr (never markup)."""
    stderr_console().print(text, markup=False, highlight=False)


def emit_reports(
    result: SimulationResult, targets: list[OutputTarget], *, report_url: str | None = None
) -> None:
    """Render ``result`` once per target and write each where it goes.

    Raises:
        EnvironmentError_: a report file or the job summary cannot be written.
    """
    from nexusctl.simulate.reports import render
    from nexusctl.simulate.reports.outputs import write_atomic
    from nexusctl.simulate.reports.terminal import terminal_view

    url = report_url or _html_sibling(targets)
    rendered: list[tuple[OutputTarget, str]] = []
    annotations = ""
    for target in targets:
        if target.format is ReportFormat.github:
            from nexusctl.ci.github import render_github

            github = render_github(result, report_url=url)
            annotations += github.annotations
            rendered.append((target, github.summary))
        elif target.format is ReportFormat.text:
            text = "" if target.path is None else _terminal_text(terminal_view(result))
            rendered.append((target, text))
        else:
            rendered.append((target, render(result, target.format, report_url=url)))
    verdict = "passed" if result.verdict.passed else "FAILED"
    for target, text in rendered:
        if target.format is ReportFormat.github:
            _write_summary(target.path, text)
        elif target.path is not None:
            write_atomic(target.path, text)
            note(f"wrote {target.format.value} report to {target.path} (gates {verdict})")
    for target, text in rendered:
        if not target.to_stdout:
            continue
        if target.format is ReportFormat.text:
            draw_terminal(terminal_view(result), stdout_console())
        else:
            write_stdout(text)
    if annotations:
        # The runner reads workflow commands (::error, ::notice) from stdout.
        write_stdout(annotations)


def _html_sibling(targets: list[OutputTarget]) -> str | None:
    """The HTML report written in the same run, by file name (the Markdown mentions it)."""
    for target in targets:
        if target.format is ReportFormat.html and target.path is not None:
            return target.path.name
    return None


def _write_summary(path: Path | None, summary: str) -> None:
    """Append the job summary to ``path``, else ``$GITHUB_STEP_SUMMARY``, else stdout.

    Appended, not replaced: the summary file is shared by every step of the job, and the
    runner owns it (one ``write`` call per summary).
    """
    from nexusctl.errors import EnvironmentError_

    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    target = path or (Path(summary_file) if summary_file else None)
    if target is None:
        write_stdout(summary)
        return
    try:
        with target.open("a", encoding="utf-8") as handle:
            handle.write(summary)
    except OSError as exc:
        message = f"{target}: cannot write the job summary: {exc.strerror}"
        raise EnvironmentError_(message) from None


def _terminal_text(view: list[Block]) -> str:
    import io

    from rich.console import Console

    console = Console(record=True, width=TEXT_FILE_WIDTH, file=io.StringIO(), color_system=None)
    draw_terminal(view, console)
    return console.export_text()


_TONES = {"pass": "[green]{}[/]", "fail": "[bold red]{}[/]", "warn": "[yellow]{}[/]"}


def draw_terminal(view: list[Block], console: Console) -> None:
    """Draw the terminal summary (``nexusctl.simulate.reports.terminal``) with rich."""
    from rich.markup import escape
    from rich.table import Table

    from nexusctl.simulate.reports.terminal import Line

    for block in view:
        if isinstance(block, Line):
            # Wrapped by rich at word boundaries (the console's soft wrap would leave long
            # lines to the terminal, which cuts words at its edge).
            if block.verdict is None:
                console.print(block.text, markup=False, highlight=False, soft_wrap=False)
                continue
            style, word = ("bold green", "PASS") if block.verdict else ("bold red", "FAIL")
            text = f"[{style}]{word}[/] {escape(block.text)}"
            console.print(text, highlight=False, soft_wrap=False)
            continue
        table = Table(title=block.title, title_justify="left")
        for column in block.columns:
            table.add_column(column.header, justify="right" if column.numeric else "left")
        for row in block.rows:
            table.add_row(
                *[_TONES[c.tone].format(escape(c.text)) if c.tone else escape(c.text) for c in row]
            )
        console.print(table)
