"""Model catalog maintenance: exact price import and refresh from public price tables."""

from nexusctl.catalog.prices import (
    PRICE_FIELDS,
    PriceComparison,
    PriceDiff,
    PriceProblem,
    compare_prices,
    read_price_table,
    usd_per_token_to_micro_usd_per_mtok,
)
from nexusctl.catalog.refresh import PriceCheck, check_prices, write_prices

__all__ = [
    "PRICE_FIELDS",
    "PriceCheck",
    "PriceComparison",
    "PriceDiff",
    "PriceProblem",
    "check_prices",
    "compare_prices",
    "read_price_table",
    "usd_per_token_to_micro_usd_per_mtok",
    "write_prices",
]
