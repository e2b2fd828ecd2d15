"""Latency percentiles from a fixed-size histogram: exact up to four significant digits.

Percentiles are nearest-rank (rank ceil(q x n)) over latencies truncated to four significant
digits (2,427,412 us -> 2,427,000 us). Truncation is monotone, so the reported value is
exactly the true percentile truncated the same way, and the histogram's size does not depend
on the number of requests.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING

from nexusctl.simulate.result import LatencyStats

if TYPE_CHECKING:
    import numpy as np

#: Latency buckets: values below 10^4 us are exact; above, 4 significant digits per decade.
_EXACT = 10_000
_PER_DECADE = 9_000
_DECADES = 12  # up to 10^16 us; larger values are clamped to the last bucket
BUCKETS = _EXACT + _PER_DECADE * _DECADES
QUANTILES = (Fraction(1, 2), Fraction(95, 100), Fraction(99, 100))


def latency_bucket(values: np.ndarray) -> np.ndarray:
    """Map non-negative int64 microseconds to histogram bucket indices (see module doc).

    Below 10^4 a value is its own bucket; in [10^(3+d), 10^(4+d)) it keeps its top four
    digits m = v // 10^d (1000..9999), bucket 10^4 + (d - 1) x 9000 + (m - 1000).
    """
    import numpy as np

    v = np.maximum(values, 0)
    # decade = how many of 1e4 .. 1e15 are <= v (one comparison per power: cheaper than a
    # binary search per value); the last decade also takes everything larger.
    decade = np.zeros(len(v), dtype=np.int64)
    for power in range(4, 4 + _DECADES):
        decade += v >= 10**power
    m = v // (10 ** np.arange(_DECADES + 1, dtype=np.int64))[decade]
    index = np.where(decade > 0, _EXACT + (decade - 1) * _PER_DECADE + (m - 1000), v)
    result: np.ndarray = np.minimum(index, BUCKETS - 1).astype(np.int64)
    return result


def bucket_value(index: int) -> int:
    """The smallest latency (us) that falls in bucket ``index``."""
    if index < _EXACT:
        return index
    decade, offset = divmod(index - _EXACT, _PER_DECADE)
    return int((1000 + offset) * 10 ** (decade + 1))


def latency_stats(requests: int, served: int, met: int, counts: np.ndarray) -> LatencyStats:
    """Nearest-rank p50/p95/p99 from bucket counts, and SLO attainment."""
    import numpy as np

    quantiles: list[int | None] = [None, None, None]
    if served:
        cumulative = np.cumsum(counts)
        for i, q in enumerate(QUANTILES):
            rank = max(1, math.ceil(q * served))  # nearest rank, exact in Fractions
            quantiles[i] = bucket_value(int(np.searchsorted(cumulative, rank, side="left")))
    return LatencyStats(
        requests=requests,
        served=served,
        p50_us=quantiles[0],
        p95_us=quantiles[1],
        p99_us=quantiles[2],
        slo_met=met,
        slo_attainment_pct=None if served == 0 else float(Fraction(met * 100, served)),
    )
