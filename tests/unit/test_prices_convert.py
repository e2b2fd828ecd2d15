"""USD-per-token floats become exact integer micro-USD per million tokens, or are refused."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexusctl.catalog import usd_per_token_to_micro_usd_per_mtok as convert
from tests.conftest import POLICIES

TABLE = POLICIES / "prices" / "litellm_model_prices_2026-07-24.json"


@pytest.mark.parametrize(
    ("usd_per_token", "expected"),
    [
        (1.65e-07, 165_000),
        (6e-08, 60_000),  # 6e-08 * 1e12 is 59999.99999999999 in binary floats
        (8.3e-08, 83_000),
        (3.05e-06, 3_050_000),
        (1.5e-05, 15_000_000),
        (7.5e-05, 75_000_000),
        (1.375e-06, 1_375_000),
        (0.0, 0),
        (0, 0),
        (2, 2_000_000_000_000),
        (1e-12, 1),
    ],
)
def test_exact_conversion(usd_per_token: float, expected: int) -> None:
    got = convert(usd_per_token, "x")
    assert got == expected
    assert type(got) is int


def test_binary_float_multiplication_would_have_been_wrong() -> None:
    assert 6e-08 * 1e12 != 60_000
    assert 1.65e-05 * 1e12 != 16_500_000
    assert convert(6e-08, "x") == 60_000
    assert convert(1.65e-05, "x") == 16_500_000


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.65e-07", "is not a number"),
        (None, "is not a number"),
        (True, "is not a number"),
        ([1e-06], "is not a number"),
        (-1e-06, "is negative"),
        (math.nan, "not a finite number"),
        (math.inf, "not a finite number"),
        (1.23456789012345e-07, "more than 12 decimal places"),
        (1e-13, "more than 12 decimal places"),
    ],
)
def test_refused_values(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        convert(value, "'k'.input_cost_per_token")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**15))
def test_every_whole_price_round_trips_through_its_shortest_float(micro_per_mtok: int) -> None:
    usd_per_token = float(Decimal(micro_per_mtok) / Decimal(10) ** 12)
    assert convert(usd_per_token, "x") == micro_per_mtok


def test_conversion_agrees_with_decimal_over_the_whole_shipped_table() -> None:
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    converted = refused = 0
    for entry in table.values():
        if not isinstance(entry, dict):
            continue
        for key in ("input_cost_per_token", "output_cost_per_token"):
            value = entry.get(key)
            if not isinstance(value, float):
                continue
            try:
                got = convert(value, key)
            except ValueError:
                refused += 1
                assert Decimal(repr(value)) * 10**12 % 1 != 0
                continue
            converted += 1
            assert Decimal(got) / Decimal(10) ** 12 == Decimal(repr(value))
    assert converted > 4000
    assert refused < 50
