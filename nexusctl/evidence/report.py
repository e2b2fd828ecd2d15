"""``evidence report``: who routed what, under which policy, at what cost -- for auditors.

Every figure is one parameterised SQL query over the ``decisions`` view (real records only),
filtered by time, tenant, app and environment; every query orders its output. Rendered as
Markdown, a self-contained HTML page (inline CSS bars, no scripts, no external URLs) or JSON.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexusctl.evidence.query import open_store
from nexusctl.evidence.store import KINDS, Log, load_config

#: (section id, title, SQL select list + group by); every section shares the WHERE clause.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "policies",
        "Decisions by signed policy",
        "SELECT environment, policy_name, policy_version, policy_digest, count(*) AS decisions, "
        "sum(cost_pusd) AS spend_pusd FROM decisions {where} "
        "GROUP BY ALL ORDER BY decisions DESC, 1, 2, 3, 4",
    ),
    (
        "routes",
        "Decisions by route",
        "SELECT route_id, outcome, count(*) AS decisions, sum(cost_pusd) AS spend_pusd "
        "FROM decisions {where} GROUP BY ALL ORDER BY decisions DESC, 1, 2",
    ),
    (
        "deployments",
        "Decisions by deployment and region",
        "SELECT deployment_id, region, count(*) AS decisions, sum(cost_pusd) AS spend_pusd "
        "FROM decisions {where} GROUP BY ALL ORDER BY decisions DESC, 1, 2",
    ),
    (
        "residency",
        "Decisions by residency class and region",
        "SELECT residency_class, region, count(*) AS decisions FROM decisions {where} "
        "GROUP BY ALL ORDER BY decisions DESC, 1, 2",
    ),
    (
        "refusals",
        "Refusals and escalations",
        "SELECT outcome, escalation_target, array_to_string(reasons, ',') AS reasons, "
        "count(*) AS decisions FROM decisions {where} AND outcome <> 'routed' "
        "GROUP BY ALL ORDER BY decisions DESC, 1, 2, 3",
    ),
    (
        "tenants",
        "Spend by tenant",
        "SELECT tenant, count(*) AS decisions, sum(cost_pusd) AS spend_pusd, "
        "sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens "
        "FROM decisions {where} GROUP BY ALL ORDER BY spend_pusd DESC NULLS LAST, 1",
    ),
)


_TOTALS = (
    "SELECT count(*), sum(cost_pusd), min(time)::VARCHAR, max(time)::VARCHAR FROM decisions {where}"
)


@dataclass(frozen=True)
class ReportFilter:
    """Which decisions a report covers (all given conditions must hold)."""

    start: dt.date | None = None
    end: dt.date | None = None
    tenant: str | None = None
    app: str | None = None
    environment: str | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        """Return the WHERE clause and its parameters."""
        clauses, params = ["TRUE"], {}
        for name, column, op, value in (
            ("start", "dt", ">=", self.start),
            ("end", "dt", "<=", self.end),
            ("tenant", "tenant", "=", self.tenant),
            ("app", "app", "=", self.app),
            ("env", "environment", "=", self.environment),
        ):
            if value is not None:
                clauses.append(f"{column} {op} ${name}")
                params[name] = value
        return "WHERE " + " AND ".join(clauses), params


@dataclass
class Report:
    """The report's data: filter, log state and one table per section."""

    filter: dict[str, Any]
    logs: dict[str, dict[str, Any]]
    totals: dict[str, Any]
    sections: list[dict[str, Any]] = field(default_factory=list)


def build_report(root: Path, selection: ReportFilter) -> Report:
    """Run every report query over the store.

    Raises:
        InputError: not an evidence store.
        VerificationError: a stored checkpoint does not verify under the store's key.
    """
    import base64

    config = load_config(root)
    logs: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        checkpoint = Log(root, kind).latest(config.verifier)
        logs[kind] = {
            "origin": config.log_origin(kind),
            "tree_size": checkpoint.size if checkpoint else 0,
            "root_hash": base64.b64encode(checkpoint.root).decode() if checkpoint else None,
        }
    where, params = selection.where()
    con = open_store(root)
    try:
        total = con.execute(
            _TOTALS.format(where=where),
            params or None,
        ).fetchone() or (0, None, None, None)
        report = Report(
            filter={k: str(v) for k, v in selection.__dict__.items() if v is not None},
            logs=logs,
            totals={
                "decisions": total[0],
                "spend_pusd": total[1] or 0,
                "first": total[2],
                "last": total[3],
            },
        )
        for section, title, sql in SECTIONS:
            cursor = con.execute(sql.format(where=where), params or None)
            columns = [d[0] for d in cursor.description or []]
            rows = [[_plain(v) for v in row] for row in cursor.fetchall()]
            report.sections.append(
                {"id": section, "title": title, "columns": columns, "rows": rows}
            )
    finally:
        con.close()
    return report


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, int | str | float) else str(value)


def _usd(pusd: Any) -> str:
    if pusd is None:
        return ""
    whole, frac = divmod(int(pusd), 10**12)
    return f"${whole}.{frac // 10**6:06d}"


def _cell(column: str, value: Any) -> str:
    if column.endswith("_pusd"):
        return _usd(value)
    return "" if value is None else str(value)


def render_json(report: Report) -> str:
    """Return the report as one JSON document."""
    return json.dumps(report.__dict__, indent=2, sort_keys=True)


def render_markdown(report: Report) -> str:
    """Return the report as Markdown."""
    lines = ["# Evidence report", ""]
    lines.append(f"Filter: {report.filter or 'none'}  ")
    lines.append(
        f"Decisions: {report.totals['decisions']}, spend {_usd(report.totals['spend_pusd'])}, "
        f"from {report.totals['first']} to {report.totals['last']}"
    )
    lines += ["", "| log | origin | tree size | root hash |", "| --- | --- | --- | --- |"]
    for kind, log in report.logs.items():
        lines.append(f"| {kind} | {log['origin']} | {log['tree_size']} | {log['root_hash']} |")
    for section in report.sections:
        lines += ["", f"## {section['title']}", ""]
        if not section["rows"]:
            lines.append("(none)")
            continue
        lines.append("| " + " | ".join(section["columns"]) + " |")
        lines.append("|" + " --- |" * len(section["columns"]))
        for row in section["rows"]:
            cells = [_cell(c, v) for c, v in zip(section["columns"], row, strict=True)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


_CSS = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}"
    "th{background:#f3f3f3}.bar{background:#4a7bd0;height:10px;display:inline-block}"
)


def render_html(report: Report) -> str:
    """Return the report as one self-contained HTML page (no scripts, no external URLs)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Evidence report</title><style>{_CSS}</style></head><body>",
        "<h1>Evidence report</h1>",
        f"<p>Decisions: {report.totals['decisions']}, spend "
        f"{esc(_usd(report.totals['spend_pusd']))}, from {esc(str(report.totals['first']))} "
        f"to {esc(str(report.totals['last']))}. Filter: {esc(str(report.filter or 'none'))}</p>",
        "<table><tr><th>log</th><th>origin</th><th>tree size</th><th>root hash</th></tr>",
    ]
    for kind, log in report.logs.items():
        parts.append(
            f"<tr><td>{esc(kind)}</td><td>{esc(log['origin'])}</td><td>{log['tree_size']}</td>"
            f"<td><code>{esc(str(log['root_hash']))}</code></td></tr>"
        )
    parts.append("</table>")
    for section in report.sections:
        parts.append(f"<h2>{esc(section['title'])}</h2>")
        if not section["rows"]:
            parts.append("<p>(none)</p>")
            continue
        counts = [row[section["columns"].index("decisions")] for row in section["rows"]]
        most = max(counts) or 1
        header = "".join(f"<th>{esc(c)}</th>" for c in section["columns"])
        parts.append(f"<table><tr>{header}<th></th></tr>")
        for row, count in zip(section["rows"], counts, strict=True):
            cells = "".join(
                f"<td>{esc(_cell(c, v))}</td>" for c, v in zip(section["columns"], row, strict=True)
            )
            width = int(200 * count / most)
            parts.append(
                f"<tr>{cells}<td><span class='bar' style='width:{width}px'></span></td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
