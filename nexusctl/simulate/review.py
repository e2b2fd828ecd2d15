"""The reviewer's view of a simulation: traffic window, spend against budgets, routes to check.

Built from the finished diff and the two policies, after the replay (nothing is re-routed):

* the **window** is the first and last request time, from the traffic file's Parquet column
  statistics (the footer; the ``time`` column is read only when a writer left them out);
* each tenant's spend over the window is **projected to a month** (``MONTH_MS``: the mean
  Gregorian month, 365.2425 / 12 days) and set against the ``monthlyBudget`` each policy gives
  it, exactly: ``spend x month / duration`` in integers, rounded half-to-even once;
* every route of each policy is listed with its traffic, SLO attainment and unanswered share,
  and flagged when it matched no request (a preview on the wrong traffic), misses the SLO
  target, or leaves unusually many requests unanswered.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import TYPE_CHECKING

from nexusctl.clock import format_rfc3339
from nexusctl.simulate.result import (
    LatencyStats,
    Review,
    RouteAttention,
    RouteReview,
    SimulationResult,
    TenantBudget,
    TrafficWindow,
)

if TYPE_CHECKING:
    import pyarrow.parquet as pq

    from nexusctl.policy.routing import RoutingPolicy

#: The mean Gregorian month (365.2425 days / 12), milliseconds.
MONTH_MS = 2_629_746_000
#: A route whose SLO attainment is below this (percent) is flagged.
SLO_TARGET_PCT = 95.0
#: A route leaving more than this share (percent) of its requests unanswered is flagged.
UNANSWERED_MAX_PCT = 10.0
#: ...and so is one whose unanswered share rose by this many points against the baseline.
UNANSWERED_RISE_POINTS = 5.0


def traffic_window(traffic: pq.ParquetFile | None) -> tuple[int, int] | None:
    """Return (first, last) request time in ms since the epoch, or None for no rows."""
    if traffic is None or traffic.metadata.num_rows == 0:
        return None
    index = traffic.schema_arrow.get_field_index("time")
    lows, highs = [], []
    for group in range(traffic.metadata.num_row_groups):
        column = traffic.metadata.row_group(group)
        if column.num_rows == 0:
            continue
        stats = column.column(index).statistics
        if stats is None or not stats.has_min_max:
            return _scan_window(traffic)
        lows.append(_ms(stats.min))
        highs.append(_ms(stats.max))
    return (min(lows), max(highs)) if lows else None


def _scan_window(traffic: pq.ParquetFile) -> tuple[int, int] | None:
    import pyarrow.compute as pc

    column = traffic.read(columns=["time"]).column("time")
    bounds = pc.min_max(column.cast("int64") if not _is_int(column.type) else column)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return None if low is None else (int(low), int(high))


def _is_int(kind: object) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(kind))


def _ms(value: object) -> int:
    """A statistic of the time column (a datetime or integer milliseconds) as ms."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)
    if isinstance(value, int):
        return value
    raise TypeError(f"unexpected time statistic {value!r}")


def _when(ms: int) -> str:
    return format_rfc3339(dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms))


def _month(spend: int, duration_ms: int | None) -> int | None:
    if not duration_ms:
        return None
    return round(Fraction(spend * MONTH_MS, duration_ms))


def _pct(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return float(Fraction(part * 100, whole))


def build_review(
    result: SimulationResult,
    baseline: RoutingPolicy,
    candidate: RoutingPolicy,
    window: tuple[int, int] | None,
) -> Review:
    """Return the reviewer's view of ``result`` (see the module docstring)."""
    span = None
    if window is not None:
        first, last = window
        span = TrafficWindow(first=_when(first), last=_when(last), duration_ms=last - first)
    duration = span.duration_ms if span else None
    budgets_b = {t.id: t.monthly_budget for t in baseline.spec.tenants}
    budgets_c = {t.id: t.monthly_budget for t in candidate.spec.tenants}
    spend = {row.key: row for row in result.spend.by_tenant}
    tenants = []
    for tenant in sorted(budgets_b.keys() | budgets_c.keys() | spend.keys()):
        row = spend.get(tenant)
        b_spend, c_spend = (row.baseline, row.candidate) if row else (0, 0)
        b_month, c_month = _month(b_spend, duration), _month(c_spend, duration)
        tenants.append(
            TenantBudget(
                tenant=tenant,
                baseline_monthly_budget=budgets_b.get(tenant),
                candidate_monthly_budget=budgets_c.get(tenant),
                baseline=b_spend,
                candidate=c_spend,
                baseline_month=b_month,
                candidate_month=c_month,
                baseline_budget_pct=_pct(b_month, budgets_b.get(tenant)),
                candidate_budget_pct=_pct(c_month, budgets_c.get(tenant)),
            )
        )
    return Review(
        window=span,
        month_ms=MONTH_MS,
        tenants=tenants,
        routes=_routes(result, baseline, candidate),
        slo_target_pct=SLO_TARGET_PCT,
        unanswered_max_pct=UNANSWERED_MAX_PCT,
        unanswered_rise_points=UNANSWERED_RISE_POINTS,
    )


def _routes(
    result: SimulationResult, baseline: RoutingPolicy, candidate: RoutingPolicy
) -> list[RouteReview]:
    stats = {
        (side, route.route_id): getattr(route, side)
        for route in result.latency.by_route
        for side in ("baseline", "candidate")
        if getattr(route, side) is not None
    }
    reviews: list[RouteReview] = []
    baseline_unanswered: dict[str, float | None] = {}
    for side, policy in (("baseline", baseline), ("candidate", candidate)):
        for route in [*policy.spec.routes, policy.spec.default]:
            seen: LatencyStats | None = stats.get((side, route.id))
            requests = seen.requests if seen else 0
            unanswered = requests - seen.served if seen else 0
            share = _pct(unanswered, requests)
            attention: list[RouteAttention] = []
            if requests == 0:
                attention.append("no_traffic")
            attainment = seen.slo_attainment_pct if seen else None
            if attainment is not None and attainment < SLO_TARGET_PCT:
                attention.append("slo_below_target")
            if share is not None and share > UNANSWERED_MAX_PCT:
                attention.append("unanswered_high")
            before = baseline_unanswered.get(route.id)
            rise = None if share is None or before is None else share - before
            if side == "candidate" and rise is not None and rise >= UNANSWERED_RISE_POINTS:
                attention.append("unanswered_rise")
            if side == "baseline":
                baseline_unanswered[route.id] = share
            reviews.append(
                RouteReview(
                    route_id=route.id,
                    side="baseline" if side == "baseline" else "candidate",
                    requests=requests,
                    slo_ms=route.slo_ms,
                    slo_attainment_pct=attainment,
                    unanswered=unanswered,
                    unanswered_pct=share,
                    attention=attention,
                )
            )
    return reviews
