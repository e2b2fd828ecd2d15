"""Properties of simulate's arithmetic: exact money splits and truncated exact percentiles."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from nexusctl.simulate._latency import (
    BUCKETS,
    QUANTILES,
    bucket_value,
    latency_bucket,
    latency_stats,
)
from nexusctl.simulate._money import micro_usd

LATENCIES = st.integers(min_value=0, max_value=10**13)


def _truncate(value: int) -> int:
    """Keep the top four significant digits (values below 10^4 are kept whole)."""
    if value < 10_000:
        return value
    scale = 10 ** (len(str(value)) - 4)
    return value // scale * scale


@given(st.lists(LATENCIES, min_size=1, max_size=300))
def test_percentiles_are_exact_nearest_rank_truncated(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    counts = np.bincount(latency_bucket(array), minlength=BUCKETS)
    stats = latency_stats(len(values), len(values), 0, counts)
    ordered = sorted(values)
    for q, got in zip(QUANTILES, (stats.p50_us, stats.p95_us, stats.p99_us), strict=True):
        rank = max(1, math.ceil(q * len(values)))
        assert got == _truncate(ordered[rank - 1])


@given(LATENCIES)
def test_bucket_value_is_the_truncation(value: int) -> None:
    index = int(latency_bucket(np.array([value], dtype=np.int64))[0])
    assert bucket_value(index) == _truncate(value)


@given(st.lists(st.integers(min_value=0, max_value=10**15), max_size=50), st.integers(0, 10**15))
def test_rounded_totals_split_exactly(costs: list[int], shift: int) -> None:
    baseline = sum(costs)
    repriced = baseline + shift
    candidate = repriced + shift // 3
    price = micro_usd(repriced) - micro_usd(baseline)
    routing = micro_usd(candidate) - micro_usd(repriced)
    assert price + routing == micro_usd(candidate) - micro_usd(baseline)
    assert abs(Fraction(baseline, 10**6) - micro_usd(baseline)) <= Fraction(1, 2)
