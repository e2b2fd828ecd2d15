"""Quality over labelled requests: accuracy of each side and RouteLLM's PGR."""

from __future__ import annotations

from dataclasses import dataclass, fields
from fractions import Fraction
from typing import TYPE_CHECKING

from nexusctl.simulate._codes import SMALL, SideCodes, np_bool
from nexusctl.simulate._money import pct
from nexusctl.simulate.result import Quality

if TYPE_CHECKING:
    import pyarrow as pa

LABEL_COLUMNS = frozenset({"small_model_correct", "large_model_correct"})


@dataclass
class QualityCounts:
    """Counts over labelled requests (both labels present), folded in batch by batch."""

    labelled: int = 0
    #: Labelled and served by both policies: the population accuracy is measured over.
    served: int = 0
    small_correct: int = 0
    large_correct: int = 0
    baseline_correct: int = 0
    candidate_correct: int = 0
    #: Served by a tier above small (the "strong" model of PGR).
    baseline_large: int = 0
    candidate_large: int = 0

    def add(self, req: pa.Table, b: SideCodes, c: SideCodes) -> None:
        """Fold one batch in (no-op without both label columns)."""
        import pyarrow.compute as pc

        if not set(req.column_names) >= LABEL_COLUMNS:
            return
        small = req.column("small_model_correct")
        large = req.column("large_model_correct")
        labelled = np_bool(pc.and_(pc.is_valid(small), pc.is_valid(large)))
        if not labelled.any():
            return
        small_ok = np_bool(pc.fill_null(small, False))
        large_ok = np_bool(pc.fill_null(large, False))
        served = labelled & b.served & c.served
        self.labelled += int(labelled.sum())
        self.served += int(served.sum())
        self.small_correct += int((served & small_ok).sum())
        self.large_correct += int((served & large_ok).sum())
        correct, large_share = [], []
        for side in (b, c):
            is_small = side.tier_rank == SMALL
            is_large = side.tier_rank > SMALL
            correct.append(int((served & ((is_small & small_ok) | (is_large & large_ok))).sum()))
            large_share.append(int((served & is_large).sum()))
        self.baseline_correct += correct[0]
        self.candidate_correct += correct[1]
        self.baseline_large += large_share[0]
        self.candidate_large += large_share[1]

    def merge(self, other: QualityCounts) -> None:
        """Add another part's counts."""
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def result(self) -> Quality | None:
        """Accuracy and PGR over labelled requests that both policies serve (None: no labels)."""
        if self.labelled == 0:
            return None
        n, small_ok, large_ok = self.served, self.small_correct, self.large_correct

        def accuracy(ok: int) -> float | None:
            return None if n == 0 else float(Fraction(ok, n))

        def pgr(ok: int) -> float | None:
            # RouteLLM (Ong et al., 2024): PGR = (acc - acc_weak) / (acc_strong - acc_weak)
            if large_ok == small_ok:
                return None
            return float(Fraction(ok - small_ok, large_ok - small_ok))

        return Quality(
            labelled=n,
            labelled_unserved=self.labelled - n,
            small_accuracy=accuracy(small_ok),
            large_accuracy=accuracy(large_ok),
            baseline_accuracy=accuracy(self.baseline_correct),
            candidate_accuracy=accuracy(self.candidate_correct),
            baseline_pgr=pgr(self.baseline_correct),
            candidate_pgr=pgr(self.candidate_correct),
            baseline_large_share_pct=pct(self.baseline_large, n),
            candidate_large_share_pct=pct(self.candidate_large, n),
        )
