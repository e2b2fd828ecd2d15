"""Render a LintReport as text, JSON or GitHub workflow commands (SARIF lives in ``sarif.py``).

Each renderer returns one string; the CLI writes it to stdout unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from nexusctl import __version__
from nexusctl.document.text import escape_controls
from nexusctl.lint.findings import RULES, Finding, LintReport, Severity


def _plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def summary_line(report: LintReport) -> str:
    """One line: what was linted and how many findings of each severity."""
    return (
        f"{_plural(len(report.policies), 'policy', 'policies')} and "
        f"{_plural(len(report.catalogs), 'catalog')} linted: "
        f"{_plural(report.count('error'), 'error')}, "
        f"{_plural(report.count('warning'), 'warning')}, "
        f"{_plural(report.count('note'), 'note')}; "
        f"{len(report.suppressed)} suppressed"
    )


def text_line(item: Finding) -> str:
    """``path:line:col: severity RULE message [name]``."""
    return (
        f"{escape_controls(item.location)}: {item.severity} {item.rule} "
        f"{escape_controls(item.message)} [{RULES[item.rule].name}]"
    )


def to_text(report: LintReport) -> str:
    """Plain text: one line per active finding, then the summary line."""
    lines = [text_line(item) for item in report.findings]
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def _finding_json(item: Finding) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rule": item.rule,
        "name": RULES[item.rule].name,
        "severity": item.severity,
        "message": item.message,
        "path": item.path,
        "line": item.line,
        "column": item.column,
        "targets": list(item.targets),
    }
    if item.suppressed is not None:
        data["suppression"] = {
            "reason": item.suppressed.reason,
            "path": item.suppressed.path,
            "line": item.suppressed.line,
            "column": item.suppressed.column,
        }
    return data


def to_json(report: LintReport, fail_on: Severity) -> str:
    """One JSON document: tool, summary, findings, suppressed findings and notes."""
    document = {
        "tool": {"name": "nexusctl", "version": __version__},
        "failOn": fail_on,
        "exitCode": int(report.exit_code(fail_on)),
        "summary": {
            "policies": list(report.policies),
            "catalogs": list(report.catalogs),
            "errors": report.count("error"),
            "warnings": report.count("warning"),
            "notes": report.count("note"),
            "suppressed": len(report.suppressed),
        },
        "findings": [_finding_json(item) for item in report.findings],
        "suppressed": [_finding_json(item) for item in report.suppressed],
        "notes": list(report.notes),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def escape_data(value: str) -> str:
    """Escape a workflow command's message (GitHub: %25, %0D, %0A; other controls visible)."""
    return escape_controls(value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def escape_property(value: str) -> str:
    """Escape a workflow command property value (also ':' as %3A and ',' as %2C)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def to_github(report: LintReport) -> str:
    """GitHub Actions workflow commands, one annotation per active finding, then a summary."""
    lines = []
    for item in report.findings:
        props = [f"file={escape_property(item.path)}"]
        if item.line is not None:
            props.append(f"line={item.line}")
            props.append(f"col={item.column or 1}")
        props.append(f"title={escape_property(item.rule)}")
        level = _GITHUB_LEVEL[item.severity]
        lines.append(f"::{level} {','.join(props)}::{escape_data(item.message)}")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"
