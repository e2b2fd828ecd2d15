"""--write converges for any table: afterwards the catalog is in sync and nothing else moved."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexusctl.catalog import check_prices, write_prices
from tests.conftest import ASSETS

PRICES = ASSETS / "prices"
KEYS = ("acme/model-a", "model-b")
FIELDS = {
    "input_cost_per_token": True,
    "cache_read_input_token_cost": False,
    "output_cost_per_token": True,
    "output_cost_per_reasoning_token": False,
}


def _usd_per_token(micro_per_mtok: int) -> float:
    return float(Decimal(micro_per_mtok) / Decimal(10) ** 12)


PRICE = st.integers(min_value=0, max_value=10**9).map(_usd_per_token)


@st.composite
def tables(draw: st.DrawFn) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key in KEYS:
        entry = {}
        for field, required in FIELDS.items():
            if required or draw(st.booleans()):
                entry[field] = draw(PRICE)
        table[key] = entry
    return table


def _skeleton(text: str) -> list[str]:
    """The lines that no price edit may touch: comments and every non-price line."""
    price_keys = ("input:", "cachedInput:", "output:", "reasoning:", "pricing: {")
    return [line for line in text.splitlines() if not line.strip().startswith(price_keys)]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(table=tables(), crlf=st.booleans())
def test_write_then_check_is_in_sync_and_keeps_everything_else(
    table: dict[str, Any], crlf: bool, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.yaml"
    shutil.copy(PRICES / "catalog.yaml", catalog)
    shutil.copy(PRICES / "prices-ok.json", tmp_path / "prices-ok.json")
    if crlf:
        catalog.write_bytes(catalog.read_bytes().replace(b"\n", b"\r\n"))
    table_path = tmp_path / "table.json"
    table_path.write_text(json.dumps(table), encoding="utf-8")
    before = catalog.read_bytes().decode()

    write_prices(check_prices(catalog, table_path))

    after = catalog.read_bytes().decode()
    assert check_prices(catalog, table_path).diffs == []
    assert _skeleton(after) == _skeleton(before)
    assert ("\r\n" in after) == crlf
    assert "# keep this comment" in after
