"""Compare a catalog's per-token prices with a LiteLLM-format price table, exactly.

LiteLLM publishes prices as USD per token in JSON numbers (binary floats once parsed). A
catalog holds integer micro-USD per million tokens, i.e. USD per token x 10^12. The
conversion goes through the float's shortest decimal representation (``repr``, which
round-trips exactly; Python's float repr is the shortest string that reads back the same
double), so ``1.65e-07`` becomes exactly ``165000`` and never ``164999.99999999997``. A table
value that would need more than 12 decimal places of USD per token is refused, not rounded.

Field mapping (LiteLLM entry -> catalog ``pricing``; absent in the table means absent in the
catalog, and absent in the catalog means "billed like input/output"):

    input_cost_per_token             -> input        (required)
    cache_read_input_token_cost      -> cachedInput  (optional)
    output_cost_per_token            -> output       (required)
    output_cost_per_reasoning_token  -> reasoning    (optional)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from nexusctl.errors import InputError, Location, PolicyLoadError
from nexusctl.policy.catalog import TokenPricing
from nexusctl.policy.loader import LoadedCatalog, load_price_table

#: Price fields in the order they appear in a ``pricing`` mapping:
#: (YAML name in the catalog, model attribute, LiteLLM key, required in the table).
PRICE_FIELDS: tuple[tuple[str, str, str, bool], ...] = (
    ("input", "input", "input_cost_per_token", True),
    ("cachedInput", "cached_input", "cache_read_input_token_cost", False),
    ("output", "output", "output_cost_per_token", True),
    ("reasoning", "reasoning", "output_cost_per_reasoning_token", False),
)

SCALE = Decimal(10) ** 12  # USD per token -> micro-USD (1e6) per million tokens (1e6)


@dataclass(frozen=True)
class PriceDiff:
    """One price that differs between the catalog and the table (None = absent)."""

    deployment: str
    index: int
    field: str
    catalog: int | None
    table: int | None
    location: Location


def usd_per_token_to_micro_usd_per_mtok(value: Any, what: str) -> int:
    """Convert a LiteLLM USD-per-token number to exact integer micro-USD per million tokens.

    Raises:
        ValueError: ``value`` is not a finite non-negative number, or is not a whole number
            of micro-USD per million tokens (more than 12 decimal places of USD).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} is not a number: {value!r}")
    try:
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:  # pragma: no cover - repr of a float is always a decimal
        raise ValueError(f"{what} is not a number: {value!r}") from None
    if not exact.is_finite():
        raise ValueError(f"{what} is not a finite number: {value!r}")
    if exact < 0:
        raise ValueError(f"{what} is negative: {value!r}")
    scaled = exact * SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(
            f"{what} = {value!r} USD/token is not a whole number of micro-USD per million "
            "tokens (more than 12 decimal places); refusing to round a price"
        )
    return int(scaled)


def read_price_table(path: Path) -> dict[str, Any]:
    """Read a LiteLLM price table (JSON object: model key -> entry).

    Raises:
        PolicyLoadError: missing, unreadable, too large, not JSON or not an object.
    """
    try:
        return load_price_table(path)
    except OSError as exc:
        raise PolicyLoadError(
            Location(str(path)), f"cannot read price table: {exc.strerror or exc}"
        ) from None


def table_prices(entry: Any, key: str, deployment: str, where: Location) -> dict[str, int | None]:
    """Return the catalog price fields (YAML names) an entry of the table gives.

    Raises:
        PolicyLoadError: the entry is not an object, lacks a required price, or holds a price
            that is not an exact non-negative number (located at the catalog's source.key).
    """
    if not isinstance(entry, dict):
        raise PolicyLoadError(
            where, f"deployment '{deployment}': price table entry '{key}' is not a JSON object"
        )
    prices: dict[str, int | None] = {}
    for yaml_name, _, litellm_key, required in PRICE_FIELDS:
        raw = entry.get(litellm_key)
        if raw is None:
            if required:
                raise PolicyLoadError(
                    where,
                    f"deployment '{deployment}': price table entry '{key}' has no '{litellm_key}'",
                )
            prices[yaml_name] = None
            continue
        try:
            prices[yaml_name] = usd_per_token_to_micro_usd_per_mtok(raw, f"'{key}'.{litellm_key}")
        except ValueError as exc:
            raise PolicyLoadError(where, f"deployment '{deployment}': {exc}") from None
    return prices


@dataclass(frozen=True)
class PriceProblem:
    """A deployment whose table entry cannot be compared: its key is missing, or malformed."""

    deployment: str
    key: str
    message: str
    location: Location
    hint: str | None = None


@dataclass(frozen=True)
class PriceComparison:
    """Every difference and every problem between a catalog and a table, in catalog order."""

    diffs: list[PriceDiff]
    problems: list[PriceProblem]


def compare_prices(
    loaded: LoadedCatalog, table: dict[str, Any], table_name: str = "the price table"
) -> PriceComparison:
    """Compare every per-token price of ``loaded`` with ``table``, all deployments in one pass.

    Only deployments priced ``per_token`` with a ``source.key`` take part. A key the table
    lacks, or an entry that is malformed, is a problem of that deployment; the comparison goes
    on, so one run reports every changed price and every missing key (a newer table that
    dropped a model does not hide what changed for the others).
    """
    diffs: list[PriceDiff] = []
    problems: list[PriceProblem] = []
    for index, dep in enumerate(loaded.catalog.spec.deployments):
        pricing = dep.pricing
        if not isinstance(pricing, TokenPricing) or pricing.source is None:
            continue
        base = ("spec", "deployments", index, "pricing")
        key = pricing.source.key
        where = loaded.source.locate((*base, "source", "key"))
        if key not in table:
            problems.append(
                PriceProblem(
                    dep.id,
                    key,
                    f"deployment '{dep.id}': key '{key}' is not in {table_name}",
                    where,
                    "check source.key against the table, or pass the right table with --table",
                )
            )
            continue
        try:
            wanted = table_prices(table[key], key, dep.id, where)
        except PolicyLoadError as exc:
            problems.append(PriceProblem(dep.id, key, exc.detail, where))
            continue
        for yaml_name, attr, _, _ in PRICE_FIELDS:
            have = getattr(pricing, attr)
            if have != wanted[yaml_name]:
                diffs.append(
                    PriceDiff(
                        deployment=dep.id,
                        index=index,
                        field=yaml_name,
                        catalog=have,
                        table=wanted[yaml_name],
                        location=loaded.source.locate((*base, yaml_name)),
                    )
                )
    return PriceComparison(diffs, problems)


def default_table(loaded: LoadedCatalog) -> Path:
    """The price table a catalog names in ``spec.priceTable`` (already confined to its folder).

    Raises:
        InputError: the catalog names no price table.
    """
    if loaded.price_table_path is None:
        raise InputError(
            f"{loaded.source.path}: the catalog has no spec.priceTable",
            hint="pass the table with --table FILE",
        )
    return loaded.price_table_path
