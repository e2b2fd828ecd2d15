"""Aggregate the diff incrementally, one aligned batch of decision pairs at a time.

Each batch is reduced to small partial aggregates (Arrow hash group-bys and NumPy counts) that
are merged into Python integers, so memory is bounded by the batch and the number of distinct
labels, never by the row count, and nothing is read twice. Money stays integer: per-batch
int64 pico-USD sums are merged into unbounded Python ints. Latency percentiles come from
fixed-size histograms (``_latency``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal, cast

from nexusctl.replay._engine import count_below
from nexusctl.simulate._codes import (
    FRONTIER,
    SMALL,
    SideCodes,
    count_pairs,
    encode,
    np_bool,
    np_filled,
    np_int,
    np_valid,
    shared,
)
from nexusctl.simulate._latency import BUCKETS, latency_bucket, latency_stats
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
    ResidencyViolation,
    RouteLatency,
    Spend,
    SpendRow,
    Transition,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from nexusctl.policy.loader import LoadedPolicy

PICO_PER_MICRO = 10**6
EXAMPLES = 100
TOP_ROUTE_CHANGES = 50
#: Upper bucket bounds of the latency histogram, milliseconds.
HISTOGRAM_LE_MS = (250, 500, 1000, 2000, 3000, 5000, 8000, 12000, 20000, 40000, 80000)
SIDES = ("baseline", "candidate")


def _edges_us() -> Any:
    import numpy as np

    return np.array([le * 1000 for le in HISTOGRAM_LE_MS], dtype=np.int64)


def micro_usd(pico: int) -> int:
    """Round exact pico-USD to integer micro-USD, half to even (banker's rounding)."""
    return int((Decimal(pico) / PICO_PER_MICRO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def pct(part: int, whole: int) -> float | None:
    """``part / whole`` as a percentage, or None when ``whole`` is 0."""
    return None if whole == 0 else float(Fraction(part * 100, whole))


class _SpendGroups:
    """baseline / candidate / repriced pico-USD sums and request counts per group label."""

    def __init__(self) -> None:
        self.sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])

    def add(self, codes: np.ndarray, labels: list[str], slot: int, *sums: tuple[int, Any]) -> None:
        """Add per-label request counts (into ``slot``) and exact int64 sums (slot, values)."""
        import numpy as np

        width = len(labels)
        counts = np.bincount(codes, minlength=width)
        totals = []
        for target, values in sums:
            acc = np.zeros(width, dtype=np.int64)
            np.add.at(acc, codes, values)  # exact integer sums (bincount weights are floats)
            totals.append((target, acc))
        for i in np.flatnonzero(counts).tolist():
            row = self.sums[labels[i]]
            row[slot] += int(counts[i])
            for target, acc in totals:
                row[target] += int(acc[i])

    def rows(self) -> list[SpendRow]:
        out = []
        for key in sorted(self.sums):
            b, c, r, bn, cn = self.sums[key]
            base, cand, repriced = micro_usd(b), micro_usd(c), micro_usd(r)
            out.append(
                SpendRow(
                    key=key,
                    baseline=base,
                    candidate=cand,
                    change=cand - base,
                    price_effect=repriced - base,
                    routing_effect=cand - repriced,
                    baseline_requests=bn,
                    candidate_requests=cn,
                )
            )
        return out


class _Side:
    """Per-policy running aggregates: latency histograms, outcomes, residency."""

    def __init__(self, loaded: LoadedPolicy) -> None:
        import numpy as np

        spec = loaded.policy.spec
        deployments = loaded.catalog.catalog.spec.deployments
        self.dep_ids = [d.id for d in deployments]
        self.dep_regions = [d.region for d in deployments]
        self.class_ids = [c.id for c in spec.residency_classes]
        self.class_index = {c: i for i, c in enumerate(self.class_ids)}
        self.dep_index = {d.id: i for i, d in enumerate(deployments)}
        # allowed[class, deployment]: the deployment's region is one of the class's regions.
        # The extra last row and column (an undeclared class, a deployment not in the catalog)
        # stay False: serving such a request anywhere is a violation.
        self.allowed = np.zeros((len(spec.residency_classes) + 1, len(deployments) + 1), bool)
        for i, cls in enumerate(spec.residency_classes):
            for j, dep in enumerate(deployments):
                self.allowed[i, j] = dep.region in cls.regions
        self.frontier_limit = spec.limits.frontier_share_max_pct
        self.latency: dict[str, np.ndarray] = {}
        self.requests: Counter[str] = Counter()
        self.served: Counter[str] = Counter()
        self.slo_met: Counter[str] = Counter()
        self.histogram: np.ndarray | None = None
        self.outcomes: Counter[str] = Counter()
        self.reasons: Counter[tuple[Literal["escalated", "refused"], str, str | None, str | None]]
        self.reasons = Counter()
        self.violations = 0
        self.examples: list[ResidencyViolation] = []
        self.frontier = 0


class Accumulator:
    """Fold aligned (traffic, baseline, candidate, repriced) batches into the diff."""

    def __init__(self, baseline: LoadedPolicy, candidate: LoadedPolicy) -> None:
        self.sides = {"baseline": _Side(baseline), "candidate": _Side(candidate)}
        self.requests = 0
        self.changed = 0
        self.route_changed = 0
        self.decode_changed = 0
        self.by_deployment: Counter[tuple[str, str]] = Counter()
        self.by_tier: Counter[tuple[str, str]] = Counter()
        self.by_route: Counter[tuple[str, str]] = Counter()
        self.spend_total = [0, 0, 0]
        self.unrepriced = 0
        self.spend = {
            name: _SpendGroups() for name in ("tenant", "app", "route", "deployment", "tier")
        }
        self.quality = [0] * 8  # total, served, small_ok, large_ok, b_ok, c_ok, b_large, c_large

    def add(self, req: pa.Table, base: pa.Table, cand: pa.Table, repriced: Any) -> None:
        """Fold one aligned batch in (all four have the same rows in the same order)."""
        import numpy as np
        import pyarrow as pa

        n = req.num_rows
        if n == 0:
            return
        self.requests += n
        b, c = SideCodes(base), SideCodes(cand)
        dep_b, dep_c, _ = shared(b.dep_labels, c.dep_labels, b.dep, c.dep)
        out_b, out_c, _ = shared(b.outcome_labels, c.outcome_labels, b.outcome, c.outcome)
        changed = (dep_b != dep_c) | (out_b != out_c)
        self.changed += int(changed.sum())
        route_b, route_c, _ = shared(b.route_labels, c.route_labels, b.route, c.route)
        self.route_changed += int((route_b != route_c).sum())
        drafts = np_int(base.column("draft_tokens")) != np_int(cand.column("draft_tokens"))
        self.decode_changed += int((~changed & drafts).sum())
        repriced_col = pa.chunked_array([repriced]) if isinstance(repriced, pa.Array) else repriced
        r_valid = np_valid(repriced_col)
        self.unrepriced += int((b.served & ~r_valid).sum())
        r_cost = np.where(r_valid, np_filled(repriced_col, 0), b.cost)
        self.spend_total[0] += int(b.cost.sum())
        self.spend_total[1] += int(c.cost.sum())
        self.spend_total[2] += int(r_cost.sum())
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
            self.spend[group].add(key_b, labels_b, 3, (0, b.cost), (2, r_cost))
            self.spend[group].add(key_c, labels_c, 4, (1, c.cost))
        for group in ("tenant", "app"):
            codes, labels = encode(req.column(group))
            self.spend[group].add(codes, labels, 3, (0, b.cost), (2, r_cost))
            self.spend[group].add(codes, labels, 4, (1, c.cost))
        residency = encode(req.column("residency_class"))
        self._add_side(self.sides["baseline"], req, base, b, *residency)
        self._add_side(self.sides["candidate"], req, cand, c, *residency)
        self._add_quality(req, b, c)

    def _add_side(
        self,
        side: _Side,
        req: pa.Table,
        table: pa.Table,
        codes: SideCodes,
        residency_codes: np.ndarray,
        residency_labels: list[str],
    ) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        latency = np_filled(table.column("predicted_latency_us"), 0)
        served = np_valid(table.column("predicted_latency_us"))
        met = np_filled(table.column("slo_met"), 0)
        # Index arrays of the served rows: gathering by index beats boolean selection.
        served_rows = np.flatnonzero(served)
        route_served = codes.route[served_rows]
        latency_served = latency[served_rows]
        buckets = latency_bucket(latency_served)
        width = len(codes.route_labels)
        requests = np.bincount(codes.route, minlength=width)
        # One bincount for served and SLO-met counts per route: key = route x 2 + met.
        by_met = np.bincount(route_served * 2 + met[served_rows], minlength=width * 2).reshape(
            width, 2
        )
        on_route = by_met.sum(axis=1)
        met_count = by_met[:, 1]
        # One bincount for every route's latency histogram: key = route x BUCKETS + bucket.
        per_route = np.bincount(
            route_served * BUCKETS + buckets, minlength=width * BUCKETS
        ).reshape(width, BUCKETS)
        for i, label in enumerate(codes.route_labels):
            if not requests[i]:
                continue
            side.requests[label] += int(requests[i])
            side.served[label] += int(on_route[i])
            side.slo_met[label] += int(met_count[i])
            if label in side.latency:
                side.latency[label] += per_route[i]
            else:
                side.latency[label] = per_route[i].astype(np.int64)
        hist = np.bincount(
            count_below(_edges_us(), latency_served), minlength=len(HISTOGRAM_LE_MS) + 1
        )
        side.histogram = hist if side.histogram is None else side.histogram + hist
        outcome_counts = np.bincount(codes.outcome, minlength=len(codes.outcome_labels))
        for i, label in enumerate(codes.outcome_labels):
            side.outcomes[label] += int(outcome_counts[i])
        not_routed = np.flatnonzero(codes.outcome != codes.routed_code)
        if len(not_routed):
            _count_reasons(side, table, codes, not_routed)
        side.frontier += int((codes.tier_rank == FRONTIER).sum())
        # Residency, re-derived: the catalog's region of the chosen deployment must be one of
        # the regions of the request's residency class in this policy.
        dep = table.column("deployment_id")
        residency = req.column("residency_class")
        n_classes, n_deps = len(side.class_ids), len(side.dep_ids)
        # Re-code the batch's own dictionaries onto the catalog / policy (no string hashing).
        dep_map = np.array(
            [side.dep_index.get(d, n_deps) for d in codes.dep_names] + [n_deps], dtype=np.int64
        )
        dep_code = dep_map[codes.dep_raw]
        class_map = np.array(
            [side.class_index.get(c, n_classes) for c in residency_labels] + [n_classes],
            dtype=np.int64,
        )
        class_code = class_map[residency_codes]
        mask = codes.served & ~side.allowed[class_code, dep_code]
        count = int(mask.sum())
        side.violations += count
        if count and len(side.examples) < EXAMPLES:
            picked_rows = np.flatnonzero(mask)[: EXAMPLES - len(side.examples)]
            picked = pa.array(picked_rows)
            for r, rid, cls, d, code in zip(
                pc.take(table.column("row"), picked).to_pylist(),
                pc.take(req.column("request_id"), picked).to_pylist(),
                pc.take(residency, picked).to_pylist(),
                pc.take(dep, picked).to_pylist(),
                dep_code[picked_rows].tolist(),
                strict=True,
            ):
                region = side.dep_regions[code] if code < n_deps else "(not in catalog)"
                side.examples.append(
                    ResidencyViolation(
                        row=r, request_id=rid, residency_class=cls, deployment_id=d, region=region
                    )
                )

    def _add_quality(self, req: pa.Table, b: SideCodes, c: SideCodes) -> None:
        import pyarrow.compute as pc

        if not {"small_model_correct", "large_model_correct"} <= set(req.column_names):
            return
        small = req.column("small_model_correct")
        large = req.column("large_model_correct")
        labelled = np_bool(pc.and_(pc.is_valid(small), pc.is_valid(large)))
        if not labelled.any():
            return
        small_ok = np_bool(pc.fill_null(small, False))
        large_ok = np_bool(pc.fill_null(large, False))
        served = labelled & b.served & c.served
        q = self.quality
        q[0] += int(labelled.sum())
        q[1] += int(served.sum())
        q[2] += int((served & small_ok).sum())
        q[3] += int((served & large_ok).sum())
        for i, side in ((4, b), (5, c)):
            is_small = side.tier_rank == SMALL
            is_large = side.tier_rank > SMALL
            q[i] += int((served & ((is_small & small_ok) | (is_large & large_ok))).sum())
            q[i + 2] += int((served & is_large).sum())

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
        b, c, r = self.spend_total
        base, cand, repriced = micro_usd(b), micro_usd(c), micro_usd(r)
        return Spend(
            baseline=base,
            candidate=cand,
            baseline_repriced=repriced,
            change=cand - base,
            change_pct=pct(cand - base, base),
            price_effect=repriced - base,
            routing_effect=cand - repriced,
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
        total, n, small_ok, large_ok, b_ok, c_ok, b_large, c_large = self.quality
        if total == 0:
            return None

        def accuracy(ok: int) -> float | None:
            return None if n == 0 else float(Fraction(ok, n))

        def pgr(ok: int) -> float | None:
            # RouteLLM (Ong et al., 2024): PGR = (acc - acc_weak) / (acc_strong - acc_weak)
            if large_ok == small_ok:
                return None
            return float(Fraction(ok - small_ok, large_ok - small_ok))

        return Quality(
            labelled=n,
            labelled_unserved=total - n,
            small_accuracy=accuracy(small_ok),
            large_accuracy=accuracy(large_ok),
            baseline_accuracy=accuracy(b_ok),
            candidate_accuracy=accuracy(c_ok),
            baseline_pgr=pgr(b_ok),
            candidate_pgr=pgr(c_ok),
            baseline_large_share_pct=pct(b_large, n),
            candidate_large_share_pct=pct(c_large, n),
        )


def _count_reasons(side: _Side, table: pa.Table, codes: SideCodes, rows: np.ndarray) -> None:
    """Count (outcome, reason, rule, target) over ``rows`` (not routed) into ``side.reasons``.

    On integer codes: one key per row, counted with ``np.unique`` (null labels are code -1).
    """
    import numpy as np

    parts: list[tuple[np.ndarray, list[str | None]]] = [
        (codes.outcome[rows], list(codes.outcome_labels))
    ]
    for name in ("reason", "escalation_rule", "escalation_target"):
        values, labels = encode(table.column(name))
        parts.append((values[rows] + 1, [None, *labels]))
    key = np.zeros(len(rows), dtype=np.int64)
    for part_codes, part_labels in parts:
        key = key * len(part_labels) + part_codes
    for packed, count in zip(*np.unique(key, return_counts=True), strict=True):
        rest, decoded = int(packed), []
        for _, part_labels in reversed(parts):
            rest, code = divmod(rest, len(part_labels))
            decoded.append(part_labels[code])
        target, rule, reason, outcome = decoded
        reason_key = (
            cast(Literal["escalated", "refused"], outcome),
            "(none)" if reason is None else reason,
            rule,
            target,
        )
        side.reasons[reason_key] += int(count)


def _value_counts(values: Any) -> Iterable[tuple[str, int]]:
    import pyarrow.compute as pc

    for item in pc.value_counts(values).to_pylist():
        yield item["values"], item["counts"]


def _transitions(counter: Counter[tuple[str, str]]) -> list[Transition]:
    ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0][0], item[0][1]))
    return [Transition(baseline=b, candidate=c, requests=n) for (b, c), n in ordered]
