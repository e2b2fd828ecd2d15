"""The diff's aggregates as a public, mergeable object, for engines that fold elsewhere.

The NumPy engine folds the whole traffic in one ordered pass (``_pairs.stream_pairs``). A
distributed engine instead folds each partition into its own ``DiffAggregate`` with
``fold_batch`` (the load already computed, as a column), ships the parts to the driver and
merges them: every figure is an exact integer count or pico-USD sum, so the merged result is
the one pass's (tests/spark/ hold the two engines' JSON documents equal). ``TrafficFold`` is
what ``simulate`` calls instead of its own pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nexusctl.errors import TrafficError
from nexusctl.simulate._accumulate import Accumulator as DiffAggregate
from nexusctl.simulate._pairs import OPTIONAL_COLUMNS, REPLAY_ONLY_COLUMNS, REQUEST_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa

    from nexusctl.policy.catalog import ModelCatalog
    from nexusctl.policy.loader import LoadedPolicy
    from nexusctl.router.plan import RouterPlan

__all__ = [
    "READ_COLUMNS",
    "DiffAggregate",
    "FoldJob",
    "TrafficFold",
    "fold_batch",
    "read_columns",
]

#: The traffic columns the diff reads (optional ones only when present), in this order.
READ_COLUMNS: tuple[str, ...] = (*REQUEST_COLUMNS, *REPLAY_ONLY_COLUMNS)


def read_columns(names: list[str]) -> list[str]:
    """The columns of ``READ_COLUMNS`` a traffic file with these column names provides."""
    return [n for n in READ_COLUMNS if n in names or n not in OPTIONAL_COLUMNS]


@dataclass(frozen=True)
class FoldJob:
    """What a fold needs: the traffic (already checked), both policies and the repricing."""

    traffic: Path
    #: Rows in the traffic file (from its footer).
    rows: int
    #: Columns to read (``read_columns`` of the file's schema).
    columns: list[str]
    baseline: LoadedPolicy
    candidate: LoadedPolicy
    #: The candidate catalog when it differs from the baseline's (reprice the baseline).
    reprice: ModelCatalog | None


class TrafficFold(Protocol):
    """An engine that folds a whole traffic file into one ``DiffAggregate``."""

    @property
    def name(self) -> str:
        """The engine's name, recorded in the result's ``engine`` field."""
        ...

    def fold(self, job: FoldJob, progress: Callable[[int], None] | None) -> DiffAggregate:
        """Replay ``job.traffic`` under both policies; return the merged aggregates.

        ``progress(rows_done)`` may be called as work completes (an estimate is fine).

        Raises:
            TrafficError: a row breaks the traffic contract.
            EnvironmentError_: the engine cannot run.
        """
        ...


def fold_batch(
    aggregate: DiffAggregate,
    plans: tuple[RouterPlan, RouterPlan],
    reprice: ModelCatalog | None,
    batch: pa.RecordBatch,
) -> None:
    """Replay one batch under both plans and fold the pairs into ``aggregate``.

    ``batch`` holds the traffic columns plus ``row`` (the 0-based row in the traffic file)
    and ``load`` (arrivals in the trailing second, ``nexusctl.replay.arrivals_load``'s
    definition, computed over the whole traffic). Rows need not be contiguous; within a
    batch they should ascend, so residency examples are the first by row.

    Raises:
        TrafficError: a row breaks the traffic contract (named by its 1-based row number).
    """
    from nexusctl.replay import reprice as reprice_under

    rows = batch.column("row")
    base, cand = (_decide(plan, batch, rows) for plan in plans)
    repriced: Any = (
        base.column("predicted_cost_pusd")
        if reprice is None
        else reprice_under(base, batch, reprice)
    )
    aggregate.add(_table(batch), _table(base), _table(cand), repriced)


def _decide(plan: RouterPlan, batch: pa.RecordBatch, rows: pa.Array) -> pa.RecordBatch:
    """Decisions for ``batch`` at its given loads, numbered by the file's rows."""
    import pyarrow as pa

    from nexusctl.replay import replay

    try:
        whole = max(batch.num_rows, 1)
        (decided,) = list(replay(plan, [batch], batch_rows=whole, load_column="load"))
    except TrafficError as exc:
        raise _renumbered(exc, batch) from None
    index = decided.schema.get_field_index("row")
    return decided.set_column(index, "row", rows.cast(pa.int64()))


def _renumbered(exc: TrafficError, batch: pa.RecordBatch) -> TrafficError:
    """The same error, named by the file's row: the first bad row, found by bisection."""
    from nexusctl.traffic.schema import require_valid

    def fails(count: int) -> bool:
        try:
            require_valid(batch.slice(0, count), 0)
        except TrafficError:
            return True
        return False

    if not fails(batch.num_rows):
        return exc
    low, high = 0, batch.num_rows  # the first `high` rows fail, the first `low` pass
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if fails(middle) else (middle, high)
    row = int(batch.column("row")[low].as_py())
    try:
        require_valid(batch.slice(low, 1), row)
    except TrafficError as one:
        return one
    return exc


def _table(batch: pa.RecordBatch) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_batches([batch])
