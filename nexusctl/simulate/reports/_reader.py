"""What the text, Markdown and HTML reports say for a finance or risk reviewer.

Money here is rounded for reading (cents; four decimals under a dollar) — the JSON document
keeps the exact micro-USD. Each helper returns plain strings; the renderers escape and lay
them out.
"""

from __future__ import annotations

import datetime as dt

from nexusctl.simulate.reports import _format as fmt
from nexusctl.simulate.result import Review, RouteReview, SimulationResult, SpendRow

#: Shown under every table that has a PGR row or a ``pt`` value.
LEGEND = (
    "pt = percentage points (the difference of two percentages). PGR = performance gap "
    "recovered (RouteLLM, Ong et al. 2024): 0 is the small model's accuracy, 1 the large "
    "model's, on the labelled requests. Money is rounded for reading; the JSON report "
    "holds the exact micro-USD."
)


def money(micro: int | None, *, signed: bool = False) -> str:
    """``_format.usd`` (rounded for reading), ``n/a`` for None."""
    return "n/a" if micro is None else fmt.usd(micro, signed=signed)


#: The headings of ``spend_cells``, after the row's key.
SPEND_HEADINGS = ["baseline", "candidate", "change", "% change", "price effect", "routing effect"]


def spend_cells(row: SpendRow) -> list[str]:
    """A spend row's money as the reports show it, in ``SPEND_HEADINGS`` order."""
    return [
        fmt.usd(row.baseline),
        fmt.usd(row.candidate),
        fmt.usd(row.change, signed=True),
        change_pct(row.baseline, row.candidate),
        fmt.usd(row.price_effect, signed=True),
        fmt.usd(row.routing_effect, signed=True),
    ]


def change_pct(before: int, after: int) -> str:
    """``+12.3 %`` (after against before); ``new`` from zero; ``0 %`` for zero to zero."""
    if before == after:
        return "0 %"
    if before == 0:
        return "new"
    return f"{(after - before) * 100 / abs(before):+.1f} %"


def duration(ms: int) -> str:
    """``1 h 25 min``, ``3 d 4 h``, ``42 s``: two units at most."""
    seconds = ms // 1000
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{n} {unit}" for n, unit in parts if n][:2]
    return " ".join(shown) if shown else f"{ms} ms"


def _time(text: str) -> str:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def window_lines(review: Review | None) -> list[str]:
    """The traffic window and how spend is projected (none for a result without a review)."""
    return [] if review is None else [window_line(review)]


def window_line(review: Review) -> str:
    """One line: the traffic window and how spend is projected to a month."""
    if review.window is None:
        return "Traffic window: no requests."
    window = review.window
    days = review.month_ms / 86_400_000
    projection = (
        f"spend is projected to a {days:.2f}-day month from it"
        if window.duration_ms
        else "too short to project spend to a month"
    )
    return (
        f"Traffic window: {_time(window.first)} to {_time(window.last)} "
        f"({duration(window.duration_ms)}); {projection}."
    )


#: Under the title "Spend by tenant, projected to a month": baseline and candidate are months.
BUDGET_HEADER = [
    "tenant",
    "monthly budget",
    "baseline",
    "% of budget",
    "candidate",
    "% of budget",
    "change",
]


def budget_rows(review: Review | None) -> list[list[str]]:
    """Per tenant: budget, projected month under each policy, % of budget, % change."""
    if review is None:
        return []
    rows = []
    for t in review.tenants:
        budget = t.candidate_monthly_budget
        if t.baseline_monthly_budget != budget:
            budget_text = f"{money(t.baseline_monthly_budget)} → {money(budget)}"
        else:
            budget_text = money(budget) if budget is not None else "none"
        rows.append(
            [
                t.tenant,
                budget_text,
                money(t.baseline_month),
                fmt.percent(t.baseline_budget_pct, digits=1),
                money(t.candidate_month),
                fmt.percent(t.candidate_budget_pct, digits=1),
                change_pct(t.baseline, t.candidate),
            ]
        )
    return rows


def over_budget(review: Review | None) -> list[str]:
    """Tenants whose candidate month exceeds their budget, as sentences."""
    if review is None:
        return []
    return [
        f"tenant {t.tenant}: the candidate's projected month {money(t.candidate_month)} is "
        f"{fmt.percent(t.candidate_budget_pct, digits=1)} of its monthly budget "
        f"{money(t.candidate_monthly_budget)}"
        for t in review.tenants
        if t.candidate_budget_pct is not None and t.candidate_budget_pct > 100
    ]


def _route_notes(route: RouteReview, review: Review, also: set[str]) -> list[str]:
    where = f"route {route.route_id}" + (" (baseline)" if route.side == "baseline" else "")
    notes = []
    for flag in route.attention:
        if route.side == "baseline" and flag != "no_traffic":
            continue  # the candidate's notes say it, marked as also in the baseline
        tail = "; as in the baseline" if flag in also else ""
        if flag == "no_traffic":
            text = f"{where} matched 0 requests: this traffic never exercises it"
        elif flag == "slo_below_target":
            text = (
                f"{where}: {fmt.percent(route.slo_attainment_pct, digits=1)} of answers within "
                f"its {route.slo_ms:,} ms SLO (target {review.slo_target_pct:g} %)"
            )
        elif flag == "unanswered_high":
            text = (
                f"{where}: {fmt.percent(route.unanswered_pct, digits=1)} of its "
                f"{fmt.count(route.requests)} requests escalated or refused without an answer "
                f"(over {review.unanswered_max_pct:g} %)"
            )
        else:
            text = (
                f"{where}: unanswered share up {review.unanswered_rise_points:g} pt or more "
                "against the baseline"
            )
        notes.append(text + tail)
    return notes


def attention_lines(result: SimulationResult) -> list[str]:
    """Everything a reviewer should look at: budgets exceeded, then routes, candidate first."""
    review = result.review
    if review is None:
        return []
    before: dict[str, set[str]] = {
        r.route_id: set(r.attention) for r in review.routes if r.side == "baseline"
    }
    lines = over_budget(review)
    for route in sorted(review.routes, key=lambda r: r.side != "candidate"):
        also = before.get(route.route_id, set()) if route.side == "candidate" else set()
        lines += _route_notes(route, review, also)
    return lines


def zero_traffic(result: SimulationResult) -> list[str]:
    """``route X matched 0 requests`` for every route of either policy the traffic missed."""
    if result.review is None:
        return []
    return [
        f"route {r.route_id} matched 0 requests ({r.side})"
        for r in result.review.routes
        if "no_traffic" in r.attention
    ]
