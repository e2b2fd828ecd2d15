"""The report's inline SVG charts: escaped text, bars scaled to the largest value or limit,
over-limit bars marked, long lists folded, nothing external."""

from __future__ import annotations

import re

from nexusctl.evidence.charts import MAX_BARS, OVER, Bar, bar_chart


def test_labels_are_escaped_and_nothing_is_external() -> None:
    svg = bar_chart("Spend <by> tenant", [Bar("<script>alert(1)</script>", 5), Bar("b&c", 10)])
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "b&amp;c" in svg
    assert "<title>Spend &lt;by&gt; tenant</title>" in svg
    assert not re.search(r"https?://|href=", svg)


def test_bars_scale_to_the_largest_value_or_limit_and_overruns_are_red() -> None:
    svg = bar_chart("t", [Bar("a", 50, limit=100), Bar("b", 200, limit=100)], lambda v: f"${v}")
    widths = [int(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="(\d+)"', svg)]
    assert widths[1] == 4 * widths[0]  # scaled to the largest (200), not the limit (100)
    fills = re.findall(r'fill="(#[0-9a-f]+)"', svg)
    assert fills[1] == OVER
    assert fills[0] != OVER
    assert "$50 / $100" in svg
    assert svg.count("<line ") == 2  # one limit marker per bar


def test_long_lists_fold_into_other_and_empty_is_nothing() -> None:
    bars = [Bar(f"d{i}", i + 1) for i in range(MAX_BARS + 5)]
    svg = bar_chart("t", bars)
    assert svg.count("<rect ") == MAX_BARS
    assert "other (6)" in svg
    assert bar_chart("t", []) == ""
