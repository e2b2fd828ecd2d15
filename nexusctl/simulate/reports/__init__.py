"""Reports of a simulation: the formats of `simulate --format`, rendered from one result.

``render(result, format)`` returns the document of a file format (JSON, Markdown, HTML,
JUnit XML); ``terminal_view(result)`` (``terminal.py``) returns the terminal summary as
plain data, which the CLI draws with rich. The human formatting they share is ``_format``.
Nothing here imports pydantic, rich or the renderers until a report is rendered.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nexusctl.simulate.result import SimulationResult


class ReportFormat(enum.StrEnum):
    """Output formats of `nexusctl simulate`."""

    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"
    junit = "junit"
    #: GitHub Actions: the job summary and ``::error`` annotations, drawn by the CLI with
    #: ``nexusctl.ci.github`` (CI glue sits above simulate).
    github = "github"


def render(
    result: SimulationResult, report_format: ReportFormat, *, report_url: str | None = None
) -> str:
    """Return the report document of ``result`` in a file format.

    ``report_url`` (Markdown only) is where the full report is published: the comment links it.

    Raises:
        ValueError: ``text`` (drawn from ``terminal_view``) or ``github`` (``nexusctl.ci``).
    """
    from nexusctl.simulate.reports.report_html import render_html
    from nexusctl.simulate.reports.report_json import render_json
    from nexusctl.simulate.reports.report_junit import render_junit
    from nexusctl.simulate.reports.report_markdown import render_markdown

    if report_format is ReportFormat.markdown:
        return render_markdown(result, report_url=report_url)
    renderers = {
        ReportFormat.json: render_json,
        ReportFormat.html: render_html,
        ReportFormat.junit: render_junit,
    }
    if report_format not in renderers:
        raise ValueError(f"{report_format.value} is not a file format rendered here")
    return renderers[report_format](result)


__all__ = ["ReportFormat", "render"]
