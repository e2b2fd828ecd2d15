"""The terminal summary as plain data: lines and tables, drawn by the CLI (with rich).

The view holds what the summary says (verdict, gates, headline numbers, tier transitions,
the top changed routes); the drawing (boxes, colours) is the CLI's. Cells carry a tone only
where the summary colours them (a gate's pass / fail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from nexusctl.simulate.reports import _format as fmt
from nexusctl.simulate.reports import _reader
from nexusctl.simulate.result import SimulationResult

Tone = Literal["pass", "fail", "warn"]
TOP_CHANGED_ROUTES = 5


@dataclass(frozen=True)
class Cell:
    """One table cell."""

    text: str
    tone: Tone | None = None


@dataclass(frozen=True)
class Column:
    """A table column; numbers are right-aligned."""

    header: str
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    """A titled table."""

    title: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass(frozen=True)
class Line:
    """One line of text; with ``verdict`` it opens with PASS or FAIL."""

    text: str
    verdict: bool | None = None


Block = Line | Table


def _cells(*texts: str) -> list[Cell]:
    return [Cell(text) for text in texts]


def terminal_view(result: SimulationResult) -> list[Block]:
    """Return the terminal summary of ``result``, block by block, in display order."""
    r = result
    blocks: list[Block] = [Line(fmt.headline(r), verdict=r.verdict.passed)]
    blocks += [Line(line) for line in _reader.window_lines(r.review)]
    if r.catalog_changed:
        blocks.append(Line("catalog changed: " + "; ".join(r.catalog_changes)))
    blocks += [Line("needs a look: " + line) for line in _reader.attention_lines(r)]
    gate_columns = ("gate", "value", "threshold", "result", "from")
    gates = Table("Gates", [Column(n, n in ("value", "threshold")) for n in gate_columns])
    for g in r.verdict.gates:
        verdict = Cell("pass", "pass") if g.passed else Cell("FAIL", "fail")
        value, threshold = fmt.gate_value(g), fmt.gate_threshold(g)
        gates.rows.append([Cell(g.name), Cell(value), Cell(threshold), verdict, Cell(g.source)])
    summary = Table("Summary", [Column("")] + [Column(n, True) for n in _SIDES_AND_CHANGE])
    summary.rows.extend(_cells(*row) for row in fmt.summary_rows(r))
    blocks += [gates, summary]
    blocks.append(
        Line(
            f"spend change {fmt.usd(r.spend.change, signed=True)} = price effect "
            f"{fmt.usd(r.spend.price_effect, signed=True)} + routing effect "
            f"{fmt.usd(r.spend.routing_effect, signed=True)}"
        )
    )
    budgets = _reader.budget_rows(r.review)
    if budgets:
        header = _reader.BUDGET_HEADER
        tenants = Table(
            "Spend by tenant, projected to a month",
            [Column(header[0])] + [Column(name, True) for name in header[1:]],
        )
        tenants.rows.extend(_cells(*row) for row in budgets)
        blocks.append(tenants)
    rows, cols, counts = fmt.matrix(
        [(t.baseline, t.candidate, t.requests) for t in r.decisions.by_tier]
    )
    tiers = Table(
        "Decisions by tier (rows: baseline, columns: candidate)",
        [Column("")] + [Column(col, True) for col in cols],
    )
    for label in rows:
        tiers.rows.append(_cells(label, *[fmt.count(counts.get((label, c), 0)) for c in cols]))
    blocks.append(tiers)
    if r.decisions.by_route:
        changed = Table(
            "Top changed routes",
            [Column("baseline route"), Column("candidate route"), Column("changed", True)],
        )
        for t in r.decisions.by_route[:TOP_CHANGED_ROUTES]:
            changed.rows.append(_cells(t.baseline, t.candidate, fmt.count(t.requests)))
        blocks.append(changed)
    blocks.append(Line(_reader.LEGEND))
    return blocks


_SIDES_AND_CHANGE = ("baseline", "candidate", "change")
