"""Small inline-SVG charts for the HTML report: grouped bars and a heatmap. No scripts, no URLs."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

BASELINE_COLOUR = "#6c8ebf"
CANDIDATE_COLOUR = "#e07b39"
FONT = "font-family='system-ui, sans-serif' font-size='12'"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def grouped_bars(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    value_label: Callable[[float], str],
    *,
    width: int = 640,
    height: int = 280,
) -> str:
    """Bars for each category, one per series, with a y axis, gridlines and a legend."""
    left, right, top, bottom = 90, 20, 40, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((v for _, values, _ in series for v in values), default=0))
    parts = [
        f"<svg role='img' width='{width}' height='{height}' viewBox='0 0 {width} {height}' {FONT}>",
        f"<title>{escape(title)}</title>",
        f"<text x='{left}' y='20' font-size='14' font-weight='600'>{escape(title)}</text>",
    ]
    for i in range(5):
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f"<line x1='{left}' x2='{left + plot_w}' y1='{y:.1f}' y2='{y:.1f}' "
            f"stroke='#ddd'/><text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' "
            f"fill='#555'>{escape(value_label(value))}</text>"
        )
    n = max(len(categories), 1)
    group_w = plot_w / n
    bar_w = max(min(group_w * 0.8 / max(len(series), 1), 40), 2)
    for ci, category in enumerate(categories):
        x0 = left + ci * group_w + (group_w - bar_w * len(series)) / 2
        for si, (name, values, colour) in enumerate(series):
            value = values[ci]
            h = plot_h * value / peak
            x = x0 + si * bar_w
            parts.append(
                f"<rect x='{x:.1f}' y='{top + plot_h - h:.1f}' width='{bar_w - 1:.1f}' "
                f"height='{h:.1f}' fill='{colour}'><title>{escape(name)} · "
                f"{escape(category)}: {escape(value_label(value))}</title></rect>"
            )
        parts.append(
            f"<text x='{left + ci * group_w + group_w / 2:.1f}' y='{top + plot_h + 16}' "
            f"text-anchor='middle' fill='#333'>{escape(category)}</text>"
        )
    legend_y = height - 18
    x = left
    for name, _, colour in series:
        parts.append(
            f"<rect x='{x}' y='{legend_y - 10}' width='12' height='12' fill='{colour}'/>"
            f"<text x='{x + 16}' y='{legend_y}'>{escape(name)}</text>"
        )
        x += 16 + 8 * len(name) + 24
    parts.append("</svg>")
    return "".join(parts)


def heatmap(
    title: str,
    rows: Sequence[str],
    cols: Sequence[str],
    cells: dict[tuple[str, str], int],
    *,
    cell: int = 56,
) -> str:
    """A transition matrix: rows = baseline, columns = candidate, shade = log of the count."""
    label_w = max((len(r) for r in rows), default=4) * 7 + 20
    longest = max((len(c) for c in cols), default=4)
    # Column labels are rotated 45 degrees: ~7 px per character, 0.71 of it upwards/rightwards.
    head_h = round(longest * 7 * 0.71) + 40
    width = max(
        label_w + cell * max(len(cols), 1) + round(longest * 7 * 0.71) + 10,
        len(title) * 8 + 10,
    )
    height = head_h + cell * max(len(rows), 1) + 20
    peak = max(cells.values(), default=0)
    parts = [
        f"<svg role='img' width='{width}' height='{height}' viewBox='0 0 {width} {height}' {FONT}>",
        f"<title>{escape(title)}</title>",
        f"<text x='4' y='18' font-size='14' font-weight='600'>{escape(title)}</text>",
    ]
    for ci, col in enumerate(cols):
        x = label_w + ci * cell + cell / 2
        parts.append(
            f"<text transform='translate({x:.1f},{head_h - 6}) rotate(-45)' "
            f"fill='#333'>{escape(col)}</text>"
        )
    for ri, row in enumerate(rows):
        y = head_h + ri * cell
        parts.append(
            f"<text x='{label_w - 6}' y='{y + cell / 2 + 4:.1f}' text-anchor='end' "
            f"fill='#333'>{escape(row)}</text>"
        )
        for ci, col in enumerate(cols):
            n = cells.get((row, col), 0)
            shade = 0.0 if n == 0 or peak == 0 else math.log1p(n) / math.log1p(peak)
            fill = _blend(shade)
            text_colour = "#fff" if shade > 0.6 else "#222"
            stroke = "#222" if row == col else "#fff"
            x = label_w + ci * cell
            parts.append(
                f"<rect x='{x}' y='{y}' width='{cell}' height='{cell}' fill='{fill}' "
                f"stroke='{stroke}' stroke-width='{2 if row == col else 1}'>"
                f"<title>{escape(row)} → {escape(col)}: {n:,}</title></rect>"
                f"<text x='{x + cell / 2:.1f}' y='{y + cell / 2 + 4:.1f}' text-anchor='middle' "
                f"fill='{text_colour}'>{escape(_short(n))}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _blend(shade: float) -> str:
    low, high = (0xF4, 0xF6, 0xFA), (0x1F, 0x4E, 0x8C)
    rgb = [round(lo + (hi - lo) * shade) for lo, hi in zip(low, high, strict=True)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _short(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)
