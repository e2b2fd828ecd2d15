"""Exact money for the diff: pico-USD sums that cannot wrap, rounded once to micro-USD.

A batch's costs are int64 pico-USD (the replay refuses any that would not fit), but the sum
of a batch can leave int64: 65,536 requests near the token cap cost more than 2^63 - 1
together. Sums are taken in int64 when the batch's largest magnitude times its row count
fits (the common case, one check per batch) and otherwise as two int64 halves of each value,
recombined in Python integers. Totals then live in Python integers, unbounded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

from nexusctl.simulate.result import SpendRow

if TYPE_CHECKING:
    import numpy as np

PICO_PER_MICRO = 10**6
_INT64_MAX = (1 << 63) - 1
_LOW_BITS = 32


def micro_usd(pico: int) -> int:
    """Round exact pico-USD to integer micro-USD, half to even (banker's rounding)."""
    return int((Decimal(pico) / PICO_PER_MICRO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def pct(part: int, whole: int) -> float | None:
    """``part / whole`` as a percentage, or None when ``whole`` is 0."""
    return None if whole == 0 else float(Fraction(part * 100, whole))


@dataclass(frozen=True)
class Amounts:
    """One batch's int64 pico-USD amounts, and whether any sum of them fits in int64."""

    values: np.ndarray
    sums_fit: bool

    @classmethod
    def of(cls, values: np.ndarray) -> Amounts:
        """Wrap ``values`` (int64), checking once whether their sums can wrap."""
        if not len(values):
            return cls(values, True)
        largest = max(abs(int(values.max())), abs(int(values.min())))
        return cls(values, largest * len(values) <= _INT64_MAX)

    def total(self) -> int:
        """The exact sum."""
        if self.sums_fit:
            return int(self.values.sum())
        high, low = self._halves()
        return (int(high.sum()) << _LOW_BITS) + int(low.sum())

    def by_code(self, codes: np.ndarray, width: int) -> list[int]:
        """The exact sum per code ``0..width-1`` (``codes`` aligned with the amounts)."""
        if self.sums_fit:
            sums: list[int] = _add_at(codes, self.values, width).tolist()
            return sums
        high, low = self._halves()
        highs, lows = _add_at(codes, high, width).tolist(), _add_at(codes, low, width).tolist()
        return [(h << _LOW_BITS) + lo for h, lo in zip(highs, lows, strict=True)]

    def _halves(self) -> tuple[np.ndarray, np.ndarray]:
        # value = high x 2^32 + low with 0 <= low < 2^32: each half sums without wrapping
        # over fewer than 2^31 rows (a batch is far smaller).
        return self.values >> _LOW_BITS, self.values & ((1 << _LOW_BITS) - 1)


def _add_at(codes: np.ndarray, values: np.ndarray, width: int) -> np.ndarray:
    import numpy as np

    acc = np.zeros(width, dtype=np.int64)
    np.add.at(acc, codes, values)  # exact integer sums (bincount weights are floats)
    return acc


@dataclass
class SpendCounts:
    """Exact pico-USD sums and request counts of one group (or of all requests)."""

    baseline: int = 0
    candidate: int = 0
    #: The baseline's decisions priced under the candidate's catalog.
    repriced: int = 0
    baseline_requests: int = 0
    candidate_requests: int = 0

    def merge(self, other: SpendCounts) -> None:
        """Add another part's sums and counts (exact: Python integers)."""
        self.baseline += other.baseline
        self.candidate += other.candidate
        self.repriced += other.repriced
        self.baseline_requests += other.baseline_requests
        self.candidate_requests += other.candidate_requests


@dataclass
class SpendGroups:
    """Spend per label of one grouping (tenant, app, route, deployment or tier)."""

    groups: defaultdict[str, SpendCounts] = field(default_factory=lambda: defaultdict(SpendCounts))

    def add(
        self,
        side: Literal["baseline", "candidate"],
        codes: np.ndarray,
        labels: list[str],
        cost: Amounts,
        repriced: Amounts | None = None,
    ) -> None:
        """Add one side's request counts and cost (and the repriced cost) per label."""
        import numpy as np

        width = len(labels)
        counts = np.bincount(codes, minlength=width)
        costs = cost.by_code(codes, width)
        again = repriced.by_code(codes, width) if repriced is not None else None
        for i in np.flatnonzero(counts).tolist():
            group = self.groups[labels[i]]
            if side == "baseline":
                group.baseline_requests += int(counts[i])
                group.baseline += costs[i]
            else:
                group.candidate_requests += int(counts[i])
                group.candidate += costs[i]
            if again is not None:
                group.repriced += again[i]

    def merge(self, other: SpendGroups) -> None:
        """Add another part's groups."""
        for key, counts in other.groups.items():
            self.groups[key].merge(counts)

    def rows(self) -> list[SpendRow]:
        """One row per label, sorted, in micro-USD with the price / routing split."""
        return [spend_row(key, self.groups[key]) for key in sorted(self.groups)]


def spend_row(key: str, counts: SpendCounts) -> SpendRow:
    """Round a group's exact sums to micro-USD and split the change."""
    base, cand = micro_usd(counts.baseline), micro_usd(counts.candidate)
    repriced = micro_usd(counts.repriced)
    return SpendRow(
        key=key,
        baseline=base,
        candidate=cand,
        change=cand - base,
        price_effect=repriced - base,
        routing_effect=cand - repriced,
        baseline_requests=counts.baseline_requests,
        candidate_requests=counts.candidate_requests,
    )
