"""The replay engine simulate drives, behind a small Protocol so tests can use a fake.

The real engine is the router's vectorised replay (``nexusctl.replay``, contract C); simulate
never routes a request itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

#: Rows per batch of the paired replay (memory is bounded by a few batches).
BATCH_ROWS = 65_536

if TYPE_CHECKING:
    from nexusctl.policy.catalog import ModelCatalog
    from nexusctl.policy.loader import LoadedPolicy


class ReplayEngine(Protocol):
    """Replay traffic under a policy; reprice decisions under another catalog's prices."""

    def replay(self, loaded: LoadedPolicy, traffic: Iterable[Any]) -> Iterator[Any]:
        """Yield decision record batches (contract C), in traffic row order."""
        ...

    def reprice(self, decisions: Any, traffic: Any, catalog: ModelCatalog) -> Any:
        """Return the pico-USD cost of the same decisions under ``catalog`` (int64 array)."""
        ...


class RouterReplay:
    """The router's vectorised replay engine (``nexusctl.replay``)."""

    def replay(self, loaded: LoadedPolicy, traffic: Iterable[Any]) -> Iterator[Any]:
        """Delegate to ``nexusctl.replay.replay``."""
        from nexusctl.replay import replay

        return iter(replay(loaded, traffic))

    def replay_pair(
        self, baseline: LoadedPolicy, candidate: LoadedPolicy, traffic: Iterable[Any]
    ) -> Iterator[tuple[Any, Any, Any]]:
        """Yield aligned (traffic, baseline, candidate) batches from one read of the traffic.

        Label columns come dictionary-encoded (same values as contract C's strings).
        """
        from nexusctl.replay import replay_many

        for batch, (base, cand) in replay_many(
            [baseline, candidate], traffic, batch_rows=BATCH_ROWS, dictionary=True
        ):
            yield batch, base, cand

    def reprice(self, decisions: Any, traffic: Any, catalog: ModelCatalog) -> Any:
        """Delegate to ``nexusctl.replay.reprice``."""
        from nexusctl.replay import reprice

        return reprice(decisions, traffic, catalog)
