"""Inline SVG bar charts for the HTML report: no scripts, no fonts, no external references.

Each chart is one ``<svg role="img">`` element with a ``<title>`` (what a screen reader says)
and horizontal bars scaled to the largest value (or budget). Every text is escaped; numbers
are formatted by the caller, so a chart never shows a float the report does not.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH = 680
LABEL_WIDTH = 230
VALUE_WIDTH = 130
ROW = 22
#: Rows drawn at most; the rest are summed into one "other" bar.
MAX_BARS = 12
BAR = "#4a7bd0"
OVER = "#c0392b"
MARK = "#222"


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value and an optional limit drawn as a marker (e.g. a budget)."""

    label: str
    value: int
    limit: int | None = None


def _folded(bars: Sequence[Bar]) -> list[Bar]:
    if len(bars) <= MAX_BARS:
        return list(bars)
    kept = list(bars[: MAX_BARS - 1])
    rest = sum(b.value for b in bars[MAX_BARS - 1 :])
    return [*kept, Bar(f"other ({len(bars) - MAX_BARS + 1})", rest)]


def bar_chart(title: str, bars: Sequence[Bar], fmt: Callable[[int], str] = str) -> str:
    """Return an inline SVG horizontal bar chart (empty string for no bars)."""
    rows = _folded(bars)
    if not rows:
        return ""
    esc = html.escape
    scale = max([b.value for b in rows] + [b.limit or 0 for b in rows]) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = ROW * len(rows) + 34
    parts = [
        f'<svg role="img" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" class="chart">',
        f"<title>{esc(title)}</title>",
        f'<text x="0" y="14" font-size="13" font-weight="bold">{esc(title)}</text>',
    ]
    for index, bar in enumerate(rows):
        y = 24 + index * ROW
        width = max(1, round(span * bar.value / scale)) if bar.value else 0
        over = bar.limit is not None and bar.value > bar.limit
        label = bar.label if len(bar.label) <= 32 else bar.label[:31] + "\u2026"
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 14}" font-size="12" '
            f'text-anchor="end">{esc(label)}</text>'
        )
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{width}" height="{ROW - 6}" '
            f'fill="{OVER if over else BAR}"><title>{esc(bar.label)}: '
            f"{esc(fmt(bar.value))}</title></rect>"
        )
        text = fmt(bar.value)
        if bar.limit is not None:
            x = LABEL_WIDTH + round(span * bar.limit / scale)
            parts.append(
                f'<line x1="{x}" x2="{x}" y1="{y}" y2="{y + ROW}" stroke="{MARK}" '
                f'stroke-width="2"><title>limit {esc(fmt(bar.limit))}</title></line>'
            )
            text += f" / {fmt(bar.limit)}"
        parts.append(
            f'<text x="{LABEL_WIDTH + span + 6}" y="{y + 14}" font-size="12">{esc(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
