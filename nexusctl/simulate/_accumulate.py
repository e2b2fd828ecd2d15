"""Aggregate the diff incrementally, one aligned batch of decision pairs at a time.

Each batch is reduced to small partial aggregates (NumPy counts and exact sums) that are
merged into Python integers, so memory is bounded by the batch and the number of distinct
labels, never by the row count, and nothing is read twice. Money stays integer: per-batch
pico-USD sums (``_money``, never wrapping) are merged into unbounded Python ints. Latency
percentiles come from fixed-size histograms (``_latency``); per-policy aggregates live in
``_side``, quality counts in ``_quality``.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from nexusctl.simulate._codes import SideCodes, count_pairs, encode, np_filled, np_int, np_valid
from nexusctl.simulate._codes import shared as shared_codes
from nexusctl.simulate._latency import BUCKETS, latency_stats
from nexusctl.simulate._money import (
    Amounts,
    SpendCounts,
    SpendGroups,
    micro_usd,
    pct,
    spend_row,
)
from nexusctl.simulate._quality import QualityCounts
from nexusctl.simulate._side import HISTOGRAM_LE_MS, SideTotals
from nexusctl.simulate.result import (
    DecisionChanges,
    Frontier,
    HistogramBucket,
    Latency,
    LatencyStats,
    OutcomeDiff,
    Outcomes,
    Quality,
    ReasonCount,
    Residency,
    RouteLatency,
    Spend,
    Transition,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from nexusctl.policy.loader import LoadedPolicy

TOP_ROUTE_CHANGES = 50
SPEND_GROUPS = ("tenant", "app", "route", "deployment", "tier")


class Accumulator:
    """Fold aligned (traffic, baseline, candidate, repriced) batches into the diff."""

    def __init__(self, baseline: LoadedPolicy, candidate: LoadedPolicy) -> None:
        self.sides = {"baseline": SideTotals(baseline), "candidate": SideTotals(candidate)}
        self.requests = 0
        self.changed = 0
        self.route_changed = 0
        self.decode_changed = 0
        self.by_deployment: Counter[tuple[str, str]] = Counter()
        self.by_tier: Counter[tuple[str, str]] = Counter()
        self.by_route: Counter[tuple[str, str]] = Counter()
        self.spend_total = SpendCounts()
        self.unrepriced = 0
        self.spend = {name: SpendGroups() for name in SPEND_GROUPS}
        self.quality = QualityCounts()

    def add(self, req: pa.Table, base: pa.Table, cand: pa.Table, repriced: Any) -> None:
        """Fold one aligned batch in (all four have the same rows in the same order)."""
        import numpy as np
        import pyarrow as pa

        n = req.num_rows
        if n == 0:
            return
        self.requests += n
        b, c = SideCodes(base), SideCodes(cand)
        dep_b, dep_c, _ = shared_codes(b.dep_labels, c.dep_labels, b.dep, c.dep)
        out_b, out_c, _ = shared_codes(b.outcome_labels, c.outcome_labels, b.outcome, c.outcome)
        changed = (dep_b != dep_c) | (out_b != out_c)
        self.changed += int(changed.sum())
        route_b, route_c, _ = shared_codes(b.route_labels, c.route_labels, b.route, c.route)
        self.route_changed += int((route_b != route_c).sum())
        drafts = np_int(base.column("draft_tokens")) != np_int(cand.column("draft_tokens"))
        self.decode_changed += int((~changed & drafts).sum())
        repriced_col = pa.chunked_array([repriced]) if isinstance(repriced, pa.Array) else repriced
        r_valid = np_valid(repriced_col)
        self.unrepriced += int((b.served & ~r_valid).sum())
        b_cost, c_cost = Amounts.of(b.cost), Amounts.of(c.cost)
        r_cost = Amounts.of(np.where(r_valid, np_filled(repriced_col, 0), b.cost))
        self.spend_total.baseline += b_cost.total()
        self.spend_total.candidate += c_cost.total()
        self.spend_total.repriced += r_cost.total()
        count_pairs(b.dep, b.dep_labels, c.dep, c.dep_labels, self.by_deployment)
        count_pairs(b.tier, b.tier_labels, c.tier, c.tier_labels, self.by_tier)
        count_pairs(
            b.route[changed], b.route_labels, c.route[changed], c.route_labels, self.by_route
        )
        for group, (key_b, labels_b, key_c, labels_c) in {
            "route": (b.route, b.route_labels, c.route, c.route_labels),
            "deployment": (b.dep, b.dep_labels, c.dep, c.dep_labels),
            "tier": (b.tier, b.tier_labels, c.tier, c.tier_labels),
        }.items():
            self.spend[group].add("baseline", key_b, labels_b, b_cost, r_cost)
            self.spend[group].add("candidate", key_c, labels_c, c_cost)
        for group in ("tenant", "app"):
            codes, labels = encode(req.column(group))
            self.spend[group].add("baseline", codes, labels, b_cost, r_cost)
            self.spend[group].add("candidate", codes, labels, c_cost)
        residency = encode(req.column("residency_class"))
        self.sides["baseline"].add(req, base, b, residency)
        self.sides["candidate"].add(req, cand, c, residency)
        self.quality.add(req, b, c)

    def merge(self, other: Accumulator) -> None:
        """Add another part's aggregates: the same two policies over other rows.

        Every figure is an exact integer count or pico-USD sum, so merging is addition and
        the order of the parts does not matter (``SideTotals.merge`` says how the residency
        examples stay the first by row). A distributed engine folds each partition into its
        own ``Accumulator`` and merges them; the NumPy engine's single pass is the one-part case.
        """
        self.requests += other.requests
        self.changed += other.changed
        self.route_changed += other.route_changed
        self.decode_changed += other.decode_changed
        self.by_deployment.update(other.by_deployment)
        self.by_tier.update(other.by_tier)
        self.by_route.update(other.by_route)
        self.spend_total.merge(other.spend_total)
        self.unrepriced += other.unrepriced
        for name, groups in other.spend.items():
            self.spend[name].merge(groups)
        self.quality.merge(other.quality)
        for side, totals in other.sides.items():
            self.sides[side].merge(totals)

    # -- results -------------------------------------------------------------------------

    def decisions(self) -> DecisionChanges:
        """Changed decisions and the transition matrices."""
        return DecisionChanges(
            requests=self.requests,
            changed=self.changed,
            changed_pct=pct(self.changed, self.requests),
            route_changed=self.route_changed,
            decode_changed=self.decode_changed,
            by_deployment=_transitions(self.by_deployment),
            by_tier=_transitions(self.by_tier),
            by_route=_transitions(self.by_route)[:TOP_ROUTE_CHANGES],
        )

    def spend_result(self) -> Spend:
        """Spend totals and groups, with the price / routing split."""
        total = spend_row("(all)", self.spend_total)
        return Spend(
            baseline=total.baseline,
            candidate=total.candidate,
            baseline_repriced=micro_usd(self.spend_total.repriced),
            change=total.change,
            change_pct=pct(total.change, total.baseline),
            price_effect=total.price_effect,
            routing_effect=total.routing_effect,
            unrepriced_requests=self.unrepriced,
            by_tenant=self.spend["tenant"].rows(),
            by_app=self.spend["app"].rows(),
            by_route=self.spend["route"].rows(),
            by_deployment=self.spend["deployment"].rows(),
            by_tier=self.spend["tier"].rows(),
        )

    def latency(self) -> Latency:
        """Percentiles and SLO attainment per side, overall and by route, and a histogram."""
        import numpy as np

        overall = {}
        per_route: dict[str, dict[str, LatencyStats]] = {}
        for name, side in self.sides.items():
            per_route[name] = {
                route: latency_stats(
                    side.requests[route], side.served[route], side.slo_met[route], counts
                )
                for route, counts in side.latency.items()
            }
            total = np.zeros(BUCKETS, dtype=np.int64)
            for counts in side.latency.values():
                total += counts
            overall[name] = latency_stats(
                sum(side.requests.values()),
                sum(side.served.values()),
                sum(side.slo_met.values()),
                total,
            )
        routes = sorted(set(per_route["baseline"]) | set(per_route["candidate"]))
        hist = {
            name: (
                side.histogram if side.histogram is not None else [0] * (len(HISTOGRAM_LE_MS) + 1)
            )
            for name, side in self.sides.items()
        }
        edges: list[int | None] = [*HISTOGRAM_LE_MS, None]
        return Latency(
            baseline=overall["baseline"],
            candidate=overall["candidate"],
            by_route=[
                RouteLatency(
                    route_id=route,
                    baseline=per_route["baseline"].get(route),
                    candidate=per_route["candidate"].get(route),
                )
                for route in routes
            ],
            histogram=[
                HistogramBucket(
                    le_ms=le, baseline=int(hist["baseline"][i]), candidate=int(hist["candidate"][i])
                )
                for i, le in enumerate(edges)
            ],
        )

    def residency(self) -> Residency:
        """Residency violations per side (first examples by row)."""
        b, c = self.sides["baseline"], self.sides["candidate"]
        return Residency(
            baseline_violations=b.violations,
            candidate_violations=c.violations,
            baseline_examples=b.examples,
            candidate_examples=c.examples,
        )

    def frontier(self) -> Frontier:
        """Share of requests served by a frontier-tier deployment, with each policy's limit."""
        b, c = self.sides["baseline"], self.sides["candidate"]
        return Frontier(
            baseline=b.frontier,
            candidate=c.frontier,
            baseline_pct=pct(b.frontier, self.requests),
            candidate_pct=pct(c.frontier, self.requests),
            baseline_limit_pct=b.frontier_limit,
            candidate_limit_pct=c.frontier_limit,
        )

    def outcomes(self) -> OutcomeDiff:
        """Routed / escalated / refused counts and the reasons, per side."""
        result = {}
        for name, side in self.sides.items():
            escalated, refused = side.outcomes["escalated"], side.outcomes["refused"]
            reasons = sorted(
                side.reasons.items(),
                key=lambda item: (
                    -item[1],
                    item[0][0],
                    item[0][1],
                    item[0][2] is not None,
                    item[0][2] or "",
                    item[0][3] is not None,
                    item[0][3] or "",
                ),
            )
            result[name] = Outcomes(
                routed=side.outcomes["routed"],
                escalated=escalated,
                refused=refused,
                escalation_share_pct=pct(escalated + refused, self.requests),
                reasons=[
                    ReasonCount(outcome=o, reason=reason, rule=rule, target=target, requests=n)
                    for (o, reason, rule, target), n in reasons
                ],
            )
        return OutcomeDiff(baseline=result["baseline"], candidate=result["candidate"])

    def quality_result(self) -> Quality | None:
        """Accuracy and PGR over labelled requests that both policies serve."""
        return self.quality.result()


def _transitions(counter: Counter[tuple[str, str]]) -> list[Transition]:
    ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0][0], item[0][1]))
    return [Transition(baseline=b, candidate=c, requests=n) for (b, c), n in ordered]
