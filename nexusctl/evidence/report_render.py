"""Render an :class:`EvidenceReport` as JSON, Markdown or one self-contained HTML page.

The HTML page has inline CSS and inline SVG charts (:mod:`nexusctl.evidence.charts`): no
scripts, no external URLs, so it opens the same offline, in an archive, years later.
"""

from __future__ import annotations

import html
import json
from typing import Any

from nexusctl.evidence.charts import Bar, bar_chart
from nexusctl.evidence.conformance_checks import format_usd
from nexusctl.evidence.conformance_model import ConformanceReport
from nexusctl.evidence.report_model import EvidenceReport, PolicyPromotions, Section


def _cell(column: str, value: Any) -> str:
    if column.endswith("_pusd"):
        return format_usd(value)
    return "" if value is None else str(value)


def render_json(report: EvidenceReport) -> str:
    """Return the report as one JSON document (schema: ``schemas/EvidenceReport.json``)."""
    return json.dumps(report.model_dump(mode="json"), indent=2, sort_keys=True)


def _summary(report: EvidenceReport) -> str:
    totals = report.totals
    return (
        f"Decisions: {totals.decisions}, spend {format_usd(totals.spend_pusd)}, "
        f"from {totals.first} to {totals.last}"
    )


def _promotion_lines(entry: PolicyPromotions) -> list[str]:
    if not entry.promotions:
        return ["never made live here by the registry"]
    lines = []
    for p in entry.promotions:
        gates = ", ".join(f"{g.name}:{g.verdict}" for g in p.gates) or "none"
        approved = ", ".join(p.approved_by) or "nobody"
        text = f"{p.event} {p.time} by {p.promoted_by}; approved by {approved}; gates {gates}"
        lines.append(text + (f"; reason: {p.reason}" if p.reason else ""))
    return lines


def _conformance_rows(conf: ConformanceReport) -> list[list[str]]:
    return [
        [d.kind, str(d.count), str(d.checked), f"{d.rate_pct:.2f}%", d.description]
        for d in conf.deviations
    ]


def _conformance_head(conf: ConformanceReport) -> str:
    unchecked = ", ".join(f"{k}: {v}" for k, v in conf.not_checkable.items()) or "none"
    return (
        f"Policy source: {conf.policy_source}. Real records: {conf.records}; decision "
        f"checked: {conf.decision_checked}; with a deviation: {conf.deviating_records}. "
        f"Not checkable: {unchecked}."
    )


def render_markdown(report: EvidenceReport) -> str:
    """Return the report as Markdown."""
    lines = ["# Evidence report", "", f"Filter: {report.filter or 'none'}  ", _summary(report)]
    lines += ["", "| log | origin | tree size | root hash |", "| --- | --- | --- | --- |"]
    for kind, log in report.logs.items():
        lines.append(f"| {kind} | {log.origin} | {log.tree_size} | {log.root_hash} |")
    if report.promotions is not None:
        lines += ["", "## Signed policy versions: promoted and approved by whom", ""]
        lines += ["| environment | policy | version | digest | decisions | registry record |"]
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for entry in report.promotions:
            record = "<br>".join(_promotion_lines(entry))
            lines.append(
                f"| {entry.environment} | {entry.policy} | {entry.version} | "
                f"{entry.digest} | {entry.decisions} | {record} |"
            )
    for section in report.sections:
        lines += ["", f"## {section.title}", ""]
        if not section.rows:
            lines.append("(none)")
            continue
        lines.append("| " + " | ".join(section.columns) + " |")
        lines.append("|" + " --- |" * len(section.columns))
        for row in section.rows:
            cells = [_cell(c, v) for c, v in zip(section.columns, row, strict=True)]
            lines.append("| " + " | ".join(cells) + " |")
    if report.budgets:
        lines += [
            "",
            "Monthly budgets: "
            + ", ".join(f"{t} {format_usd(b)}" for t, b in report.budgets.items()),
        ]
    if report.conformance is not None:
        conf = report.conformance
        lines += ["", "## Conformance to the signed policy", "", _conformance_head(conf), ""]
        lines += [
            "| deviation | count | checked | rate | meaning |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in _conformance_rows(conf)]
        examples = [e for d in conf.deviations for e in d.examples]
        if examples:
            lines += [
                "",
                "| request id | reason | expected | actual |",
                "| --- | --- | --- | --- |",
            ]
            for e in examples:
                lines.append(f"| {e.request_id} | {e.reason} | {e.expected} | {e.actual} |")
    return "\n".join(lines) + "\n"


_CSS = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}"
    "th{background:#f3f3f3}td ul{margin:0;padding-left:1.2em}"
    ".chart{display:block;margin:1em 0}"
)


def _table(header: list[str], rows: list[list[str]]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _promotions_table(entries: list[PolicyPromotions]) -> str:
    esc = html.escape
    header = ["environment", "policy", "version", "bundle digest", "decisions", "registry records"]
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for e in entries:
        digest = e.digest or ""
        short = f"<code title='{esc(digest)}'>{esc(digest[:19])}\u2026</code>" if digest else ""
        items = "".join(f"<li>{esc(line)}</li>" for line in _promotion_lines(e))
        cells = [esc(str(e.environment)), esc(str(e.policy)), esc(str(e.version)), short]
        cells += [str(e.decisions), f"<ul>{items}</ul>"]
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "".join(out) + "</table>"


def _section_chart(section: Section, budgets: dict[str, int]) -> str:
    col = {name: index for index, name in enumerate(section.columns)}

    def label(row: list[Any], *names: str) -> str:
        return " / ".join(str(row[col[n]]) if row[col[n]] is not None else "-" for n in names)

    if section.id == "routes":
        bars = [
            Bar(label(r, "route_id", "outcome"), int(r[col["decisions"]] or 0))
            for r in section.rows
        ]
        return bar_chart("Decisions by route", bars)
    if section.id == "deployments":
        bars = [
            Bar(label(r, "deployment_id", "region"), int(r[col["decisions"]] or 0))
            for r in section.rows
        ]
        return bar_chart("Decisions by deployment", bars)
    if section.id == "tenants":
        bars = [
            Bar(
                str(r[col["tenant"]]),
                int(r[col["spend_pusd"]] or 0),
                budgets.get(str(r[col["tenant"]])),
            )
            for r in section.rows
        ]
        title = "Spend by tenant" + (" vs monthly budget" if budgets else "")
        return bar_chart(title, bars, format_usd)
    return ""


def render_html(report: EvidenceReport) -> str:
    """Return the report as one self-contained HTML page (no scripts, no external URLs)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Evidence report</title><style>{_CSS}</style></head><body>",
        "<h1>Evidence report</h1>",
        f"<p>{esc(_summary(report))}. Filter: {esc(str(report.filter or 'none'))}</p>",
        _table(
            ["log", "origin", "tree size", "root hash"],
            [[k, v.origin, str(v.tree_size), str(v.root_hash)] for k, v in report.logs.items()],
        ),
    ]
    if report.promotions is not None:
        parts.append("<h2>Signed policy versions: promoted and approved by whom</h2>")
        parts.append(_promotions_table(report.promotions))
    if report.conformance is not None:
        conf = report.conformance
        parts += [
            "<h2>Conformance to the signed policy</h2>",
            f"<p>{esc(_conformance_head(conf))}</p>",
        ]
        bars = [Bar(d.kind, d.count) for d in conf.deviations if d.count]
        parts.append(bar_chart("Deviations by kind", bars))
        parts.append(
            _table(["deviation", "count", "checked", "rate", "meaning"], _conformance_rows(conf))
        )
        examples = [
            [e.request_id, e.reason, e.expected, e.actual]
            for d in conf.deviations
            for e in d.examples
        ]
        if examples:
            parts.append(_table(["request id", "reason", "expected", "actual"], examples))
    for section in report.sections:
        parts.append(f"<h2>{esc(section.title)}</h2>")
        if not section.rows:
            parts.append("<p>(none)</p>")
            continue
        parts.append(_section_chart(section, report.budgets))
        rows = [
            [_cell(c, v) for c, v in zip(section.columns, r, strict=True)] for r in section.rows
        ]
        parts.append(_table(section.columns, rows))
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p) + "\n"


def conformance_text(conf: ConformanceReport) -> str:
    """Return the conformance result as terminal text (``evidence conformance``)."""
    lines = [
        f"conformance ({conf.policy_source}): {conf.records} real record(s), "
        f"{conf.decision_checked} decision-checked, {conf.deviating_records} with a deviation"
    ]
    for d in conf.deviations:
        if d.count:
            lines.append(f"  {d.kind}: {d.count} of {d.checked} ({d.rate_pct:.2f}%)")
            lines += [
                f"    {e.request_id}: expected {e.expected}; recorded {e.actual}"
                for e in d.examples
            ]
    if conf.not_checkable:
        lines.append(
            "not checkable: " + ", ".join(f"{k} {v}" for k, v in conf.not_checkable.items())
        )
    for group in conf.policies:
        digest = f" {group.digest}" if group.digest else ""
        where = f" in {group.environment}" if group.environment else ""
        lines.append(
            f"policy {group.policy}@{group.version}{where}{digest}: {group.records} record(s), "
            f"{group.decision_checked} decision-checked, {group.deviating} deviating"
        )
    lines.append("OK: no deviation" if not conf.deviating_records else "DEVIATIONS FOUND")
    return "\n".join(lines)
