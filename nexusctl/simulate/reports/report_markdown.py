"""Render a SimulationResult as GitHub-flavoured Markdown for a pull-request comment."""

from __future__ import annotations

import re

from nexusctl.simulate.reports import _format as fmt
from nexusctl.simulate.reports import _reader
from nexusctl.simulate.result import SimulationResult, SpendRow

TOP_ROUTES = 10
TOP_SPEND = 10
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(text: str) -> str:
    """Escape text for Markdown prose or a table cell: HTML, emphasis, links, pipes, newlines."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text).replace("\n", " ").replace("\r", " ")


def code(text: str) -> str:
    """A code span (backslashes are literal there): no backticks, pipes escaped for tables."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _threshold(text: str) -> str:
    return text.replace("<=", "≤").replace(">=", "≥")


def _table(header: list[str], rows: list[list[str]], align: list[str]) -> list[str]:
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _report_link(report_url: str | None) -> list[str]:
    if report_url is None:
        return []
    if report_url.startswith(("https://", "http://")):
        return [f"**[Full report]({report_url})** (charts, every table).", ""]
    return [f"Full report: {code(report_url)} (HTML, written by the same run).", ""]


def render_markdown(result: SimulationResult, *, report_url: str | None = None) -> str:
    """Return the Markdown report: verdict, what needs a look, gates, summary, spend by tenant
    against budgets, by tier and route, transitions, changed routes.

    ``report_url`` is linked as the full report (an http(s) URL checked by the caller, or the
    name of the HTML file written beside this one).
    """
    r = result
    ok = r.verdict.passed
    lines = [
        f"## {'✅' if ok else '❌'} Policy simulation: {md(fmt.headline(r))}",
        "",
        f"Replayed **{fmt.count(r.decisions.requests)}** recorded requests from "
        f"{code(r.traffic.path)} (sha256 `{r.traffic.sha256[:12]}`) under "
        f"{code(r.baseline.path)} (baseline) and {code(r.candidate.path)} (candidate).",
        "",
        *[f"{md(line)}\n" for line in _reader.window_lines(r.review)],
        *_report_link(report_url),
    ]
    if r.catalog_changed:
        lines += [
            "**Catalog changed:** " + md("; ".join(r.catalog_changes)),
            "",
        ]
    attention = _reader.attention_lines(r)
    if attention:
        lines += ["### Needs a look", ""]
        lines += [f"- ⚠️ {md(line)}" for line in attention]
        lines.append("")
    lines += ["### Gates", ""]
    lines += _table(
        ["gate", "value", "threshold", "result", "from"],
        [
            [
                f"`{g.name}`",
                fmt.gate_value(g),
                _threshold(fmt.gate_threshold(g)),
                "✅ pass" if g.passed else "❌ **fail**",
                g.source,
            ]
            for g in r.verdict.gates
        ],
        ["l", "r", "r", "l", "l"],
    )
    lines += ["### Summary", ""]
    lines += _table(
        ["", "baseline", "candidate", "change"], fmt.summary_rows(r), ["l", "r", "r", "r"]
    )
    lines += [
        f"Spend change {fmt.usd(r.spend.change, signed=True)} = price effect "
        f"{fmt.usd(r.spend.price_effect, signed=True)} + routing effect "
        f"{fmt.usd(r.spend.routing_effect, signed=True)}.",
        "",
    ]
    budgets = _reader.budget_rows(r.review)
    if budgets:
        lines += ["### Spend by tenant, projected to a month", ""]
        lines += _table(
            _reader.BUDGET_HEADER,
            [[md(row[0]), *row[1:]] for row in budgets],
            ["l", "r", "r", "r", "r", "r", "r"],
        )
    lines += ["### Spend by tier", ""]
    lines += _spend_table(r.spend.by_tier, "tier")
    lines += ["### Spend by route (largest changes)", ""]
    lines += _spend_table(fmt.top_rows(r.spend.by_route, TOP_SPEND), "route")
    lines += ["### Decisions by tier (rows: baseline, columns: candidate)", ""]
    rows, cols, cells = fmt.matrix(
        [(t.baseline, t.candidate, t.requests) for t in r.decisions.by_tier]
    )
    lines += _table(
        ["baseline \\ candidate", *[md(c) for c in cols]],
        [[f"**{md(b)}**", *[fmt.count(cells.get((b, c), 0)) for c in cols]] for b in rows],
        ["l", *["r"] * len(cols)],
    )
    lines += ["### Top changed routes", ""]
    if r.decisions.by_route:
        lines += _table(
            ["baseline route", "candidate route", "changed", "share of changes"],
            [
                [
                    md(t.baseline),
                    md(t.candidate),
                    fmt.count(t.requests),
                    fmt.percent(100 * t.requests / r.decisions.changed),
                ]
                for t in r.decisions.by_route[:TOP_ROUTES]
            ],
            ["l", "l", "r", "r"],
        )
    else:
        lines += ["No decision changed.", ""]
    if r.residency.candidate_violations:
        lines += ["### Residency violations (candidate)", ""]
        lines += _table(
            ["request", "residency class", "deployment", "region"],
            [
                [md(v.request_id), md(v.residency_class), md(v.deployment_id), md(v.region)]
                for v in r.residency.candidate_examples[:20]
            ],
            ["l", "l", "l", "l"],
        )
    lines.append(
        f"<sub>nexusctl simulate · {md(_reader.LEGEND)} Latency is predicted by the "
        "catalog's profiles.</sub>"
    )
    return "\n".join(lines) + "\n"


def _spend_table(rows: list[SpendRow], what: str) -> list[str]:
    return _table(
        [what, *_reader.SPEND_HEADINGS],
        [[md(row.key), *_reader.spend_cells(row)] for row in rows],
        ["l", "r", "r", "r", "r", "r", "r"],
    )
