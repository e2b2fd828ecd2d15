"""Load for the Latency Controller, derived from the traffic itself (contract B).

The load of a request is the number of requests (itself included) whose arrival time lies in
the trailing window ``(t - 1000 ms, t]``; requests at equal timestamps all count. This module
is the ONE definition both engines use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

WINDOW_MS = 1000


def arrivals_load(times_ms: npt.ArrayLike) -> np.ndarray:
    """Return, for each arrival time (ms, any order), the arrivals in ``(t - 1000, t]``.

    Vectorised: two binary searches over the sorted times, O(n log n); the result is int64
    in the input's order and always >= 1.
    """
    import numpy as np

    times = np.asarray(times_ms, dtype=np.int64)
    ordered = np.sort(times, kind="stable")
    upto = np.searchsorted(ordered, times, side="right")
    before = np.searchsorted(ordered, times - WINDOW_MS, side="right")
    return (upto - before).astype(np.int64)
