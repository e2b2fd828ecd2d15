"""The replay engine interface, complete, and the router's vectorised engine behind it.

Simulate (and, next, conformance) drive an engine through ``ReplayEngine`` only: replay one
policy, replay two from one read of the traffic, reprice decisions under another catalog.
Every method is required, so a caller never probes for one. ``RouterReplay`` is the real
engine (``nexusctl.replay``, contract C); tests may bring a fake that implements the same
three methods (tests/assets/simulate/simulate_fake_engine.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol, TypeAlias

if TYPE_CHECKING:
    import pyarrow as pa

    from nexusctl.policy.catalog import ModelCatalog
    from nexusctl.policy.loader import LoadedPolicy

#: Rows per batch of the paired replay (memory is bounded by a few batches).
PAIR_BATCH_ROWS = 65_536

#: A batch of traffic or decisions: engines may re-batch, so tables of rows are accepted too.
Batch: TypeAlias = "pa.RecordBatch | pa.Table"


class ReplayEngine(Protocol):
    """Replay traffic under policies; reprice decisions under another catalog's prices."""

    def replay(self, loaded: LoadedPolicy, traffic: Iterable[pa.RecordBatch]) -> Iterator[Batch]:
        """Yield decision batches (contract C) for ``traffic``, in traffic row order.

        Raises:
            TrafficError: a row breaks the traffic contract (named by its 1-based number).
        """
        ...

    def replay_pair(
        self, baseline: LoadedPolicy, candidate: LoadedPolicy, traffic: Iterable[pa.RecordBatch]
    ) -> Iterator[tuple[Batch, Batch, Batch]]:
        """Yield aligned (traffic, baseline decisions, candidate decisions), in row order.

        The three parts of each item have the same rows; label columns may come
        dictionary-encoded (same values as contract C's strings).

        Raises:
            TrafficError: as ``replay``.
        """
        ...

    def reprice(self, decisions: Batch, traffic: Batch, catalog: ModelCatalog) -> pa.Array:
        """Return the pico-USD cost of the same decisions under ``catalog`` (int64, nullable).

        Raises:
            TrafficError: the inputs do not line up, or a cost would leave int64.
        """
        ...


class RouterReplay:
    """The router's vectorised replay engine (``nexusctl.replay``)."""

    def replay(self, loaded: LoadedPolicy, traffic: Iterable[pa.RecordBatch]) -> Iterator[Batch]:
        """Delegate to ``nexusctl.replay.replay``."""
        from nexusctl.replay.stream import replay

        return iter(replay(loaded, traffic))

    def replay_pair(
        self, baseline: LoadedPolicy, candidate: LoadedPolicy, traffic: Iterable[pa.RecordBatch]
    ) -> Iterator[tuple[Batch, Batch, Batch]]:
        """One read of each batch feeds both policies (``replay_many``, dictionary labels)."""
        from nexusctl.replay.stream import replay_many

        for batch, (base, cand) in replay_many(
            [baseline, candidate], traffic, batch_rows=PAIR_BATCH_ROWS, dictionary=True
        ):
            yield batch, base, cand

    def reprice(self, decisions: Batch, traffic: Batch, catalog: ModelCatalog) -> pa.Array:
        """Delegate to ``nexusctl.replay.reprice``."""
        from nexusctl.replay.stream import reprice

        return reprice(decisions, traffic, catalog)
