"""One policy's running aggregates: latency histograms, outcomes and reasons, residency."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Literal, cast

from nexusctl.replay import count_below
from nexusctl.simulate._codes import FRONTIER, SideCodes, encode, np_filled, np_valid
from nexusctl.simulate._latency import BUCKETS, latency_bucket
from nexusctl.simulate.result import ResidencyViolation

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from nexusctl.policy.loader import LoadedPolicy

EXAMPLES = 100
#: Upper bucket bounds of the latency histogram, milliseconds.
HISTOGRAM_LE_MS = (250, 500, 1000, 2000, 3000, 5000, 8000, 12000, 20000, 40000, 80000)
#: (outcome, reason, escalation rule, escalation target) of a request not routed.
ReasonKey = tuple[Literal["escalated", "refused"], str, str | None, str | None]
#: A label column as integer codes and the labels they index (``_codes.encode``).
Coded = tuple["np.ndarray", list[str]]


def _edges_us() -> np.ndarray:
    import numpy as np

    return np.array([le * 1000 for le in HISTOGRAM_LE_MS], dtype=np.int64)


class SideTotals:
    """Per-policy running aggregates, folded in one batch at a time."""

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
        self.reasons: Counter[ReasonKey] = Counter()
        self.violations = 0
        self.examples: list[ResidencyViolation] = []
        self.frontier = 0

    def add(self, req: pa.Table, table: pa.Table, codes: SideCodes, residency: Coded) -> None:
        """Fold one batch of this side's decisions in.

        ``req`` is the aligned traffic, ``residency`` its residency classes as codes and labels.
        """
        import numpy as np

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
            self.requests[label] += int(requests[i])
            self.served[label] += int(on_route[i])
            self.slo_met[label] += int(met_count[i])
            if label in self.latency:
                self.latency[label] += per_route[i]
            else:
                self.latency[label] = per_route[i].astype(np.int64)
        hist = np.bincount(
            count_below(_edges_us(), latency_served), minlength=len(HISTOGRAM_LE_MS) + 1
        )
        self.histogram = hist if self.histogram is None else self.histogram + hist
        outcome_counts = np.bincount(codes.outcome, minlength=len(codes.outcome_labels))
        for i, label in enumerate(codes.outcome_labels):
            self.outcomes[label] += int(outcome_counts[i])
        not_routed = np.flatnonzero(codes.outcome != codes.routed_code)
        if len(not_routed):
            self._count_reasons(table, codes, not_routed)
        self.frontier += int((codes.tier_rank == FRONTIER).sum())
        self._add_residency(req, table, codes, residency)

    def merge(self, other: SideTotals) -> None:
        """Add another part's aggregates (the same policy over other rows).

        Counts add exactly; the residency examples stay the first ``EXAMPLES`` by row, so
        parts merged in any order give what one pass over the rows in order gives, provided
        each part kept its own first examples by row.
        """
        for route, counts in other.latency.items():
            if route in self.latency:
                self.latency[route] = self.latency[route] + counts
            else:
                self.latency[route] = counts.copy()
        self.requests.update(other.requests)
        self.served.update(other.served)
        self.slo_met.update(other.slo_met)
        if other.histogram is not None:
            mine = self.histogram
            self.histogram = other.histogram.copy() if mine is None else mine + other.histogram
        self.outcomes.update(other.outcomes)
        self.reasons.update(other.reasons)
        self.violations += other.violations
        examples = sorted([*self.examples, *other.examples], key=lambda e: e.row)
        self.examples = examples[:EXAMPLES]
        self.frontier += other.frontier

    def _add_residency(
        self, req: pa.Table, table: pa.Table, codes: SideCodes, residency: Coded
    ) -> None:
        """Count residency violations, re-derived from the catalog and this policy.

        The catalog's region of the chosen deployment must be one of the regions of the
        request's residency class in this policy.
        """
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        dep = table.column("deployment_id")
        residency_codes, residency_labels = residency
        n_classes, n_deps = len(self.class_ids), len(self.dep_ids)
        # Re-code the batch's own dictionaries onto the catalog / policy (no string hashing).
        dep_map = np.array(
            [self.dep_index.get(d, n_deps) for d in codes.dep_names] + [n_deps], dtype=np.int64
        )
        dep_code = dep_map[codes.dep_raw]
        class_map = np.array(
            [self.class_index.get(c, n_classes) for c in residency_labels] + [n_classes],
            dtype=np.int64,
        )
        class_code = class_map[residency_codes]
        mask = codes.served & ~self.allowed[class_code, dep_code]
        count = int(mask.sum())
        self.violations += count
        if not count or len(self.examples) >= EXAMPLES:
            return
        picked_rows = np.flatnonzero(mask)[: EXAMPLES - len(self.examples)]
        picked = pa.array(picked_rows)
        for r, rid, cls, d, code in zip(
            pc.take(table.column("row"), picked).to_pylist(),
            pc.take(req.column("request_id"), picked).to_pylist(),
            pc.take(req.column("residency_class"), picked).to_pylist(),
            pc.take(dep, picked).to_pylist(),
            dep_code[picked_rows].tolist(),
            strict=True,
        ):
            region = self.dep_regions[code] if code < n_deps else "(not in catalog)"
            self.examples.append(
                ResidencyViolation(
                    row=r, request_id=rid, residency_class=cls, deployment_id=d, region=region
                )
            )

    def _count_reasons(self, table: pa.Table, codes: SideCodes, rows: np.ndarray) -> None:
        """Count (outcome, reason, rule, target) over ``rows`` (not routed).

        On integer codes: one key per row, counted with ``np.unique`` (null labels are -1).
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
            reason_key: ReasonKey = (
                cast(Literal["escalated", "refused"], outcome),
                "(none)" if reason is None else reason,
                rule,
                target,
            )
            self.reasons[reason_key] += int(count)
