"""The diff's aggregates as a public, mergeable object, for engines that fold elsewhere.

The NumPy engine folds the whole traffic in one ordered pass (``_pairs.stream_pairs``). A
distributed engine instead folds each partition into its own ``DiffAggregate`` with
``fold_batch`` (the load already computed, as a column), ships the parts to the driver and
merges them: every figure is an exact integer count or pico-USD sum, so the merged result is
the one pass's (tests/spark/ hold the two engines' JSON documents equal). ``TrafficFold`` is
what ``simulate`` calls instead of its own pass. With ``--decisions`` the fold also hands
``fold_batch``'s pair tables, in row order, to ``FoldJob.pairs`` (the one pairs writer).

A fold that also reads traffic URLs (``scheme://...``) through its own filesystem is a
``UrlTrafficFold``: ``simulate`` then reads the footer and the SHA-256 through it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from nexusctl.errors import TrafficError
from nexusctl.simulate._accumulate import Accumulator as DiffAggregate
from nexusctl.simulate._pairs import (
    OPTIONAL_COLUMNS,
    REPLAY_ONLY_COLUMNS,
    REQUEST_COLUMNS,
    pair_schema,
    pair_table,
    pairs_writer,
)

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nexusctl.policy.catalog import ModelCatalog
    from nexusctl.policy.loader import LoadedPolicy
    from nexusctl.router.plan import RouterPlan

__all__ = [
    "READ_COLUMNS",
    "DiffAggregate",
    "FoldJob",
    "TrafficFold",
    "UrlTrafficFold",
    "fold_batch",
    "pair_schema",
    "pairs_writer",
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

    #: A local path, or a URL for a ``UrlTrafficFold`` (passed to its filesystem untouched).
    traffic: Path | str
    #: Rows in the traffic file (from its footer).
    rows: int
    #: Columns to read (``read_columns`` of the file's schema).
    columns: list[str]
    baseline: LoadedPolicy
    candidate: LoadedPolicy
    #: The candidate catalog when it differs from the baseline's (reprice the baseline).
    reprice: ModelCatalog | None
    #: The traffic file's Arrow schema (its footer's).
    schema: pa.Schema | None = None
    #: Where every pair goes, in row order (``pair_schema`` rows); None: not asked.
    pairs: pq.ParquetWriter | None = None


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


@runtime_checkable
class UrlTrafficFold(TrafficFold, Protocol):
    """A fold that reads traffic URLs through its own filesystem (Spark's: Hadoop's)."""

    def open_url(self, url: str) -> io.RawIOBase:
        """A seekable binary stream of the file at ``url`` (the footer is read through it).

        Raises:
            TrafficError: no such file, a directory, or an empty file.
            EnvironmentError_: the URL's filesystem is not available, or reading failed.
        """
        ...

    def sha256_url(self, url: str) -> str:
        """The hex SHA-256 of the bytes at ``url``, read through the same filesystem.

        Raises:
            TrafficError, EnvironmentError_: as ``open_url``.
        """
        ...


def fold_batch(
    aggregate: DiffAggregate,
    plans: tuple[RouterPlan, RouterPlan],
    reprice: ModelCatalog | None,
    batch: pa.RecordBatch,
    pairs: pa.Schema | None = None,
) -> pa.Table | None:
    """Replay one batch under both plans and fold the pairs into ``aggregate``.

    ``batch`` holds the traffic columns plus ``row`` (the 0-based row in the traffic file)
    and ``load`` (arrivals in the trailing second, ``nexusctl.replay.arrivals_load``'s
    definition, computed over the whole traffic). Rows need not be contiguous; within a
    batch they should ascend, so residency examples are the first by row. With ``pairs``
    (``pair_schema`` of the traffic's schema) the batch's decision pairs are returned as
    rows of the ``--decisions`` file; otherwise None.

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
    req, base_table, cand_table = _table(batch), _table(base), _table(cand)
    aggregate.add(req, base_table, cand_table, repriced)
    return None if pairs is None else pair_table(req, base_table, cand_table, repriced, pairs)


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
