"""Catalog rules: unpriced deployments (NXL006), price sources that do not resolve (NXL007),
duplicate deployment ids (NXL011) and control characters (NXL016). Run once per catalog file,
however many policies use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from nexusctl.lint.context import CatalogContext
from nexusctl.lint.findings import Finding, finding
from nexusctl.lint.rules_structure import duplicates
from nexusctl.lint.rules_text import check_catalog_text
from nexusctl.policy.catalog import TokenPricing


def check_catalog(ctx: CatalogContext) -> Iterator[Finding]:
    """Run every catalog rule."""
    yield from check_missing_prices(ctx)
    yield from check_price_sources(ctx)
    deployments = ctx.loaded.catalog.spec.deployments
    yield from duplicates(
        "deployment",
        [(d.id, ("spec", "deployments", i, "id")) for i, d in enumerate(deployments)],
        lambda key: ctx.at(*key),
    )
    yield from check_catalog_text(ctx)


def check_missing_prices(ctx: CatalogContext) -> Iterator[Finding]:
    """NXL006: a deployment without pricing."""
    for index, dep in enumerate(ctx.loaded.catalog.spec.deployments):
        if dep.pricing is None:
            yield finding(
                "NXL006",
                f"deployment '{dep.id}' has no pricing (per_token or gpu_time)",
                ctx.at("spec", "deployments", index, "id"),
                dep.id,
            )


def check_price_sources(ctx: CatalogContext) -> Iterator[Finding]:
    """NXL007: a per-token price whose source table or key does not resolve."""
    table_ref = ctx.loaded.catalog.spec.price_table
    for index, dep in enumerate(ctx.loaded.catalog.spec.deployments):
        pricing = dep.pricing
        if not isinstance(pricing, TokenPricing) or pricing.source is None:
            continue
        key = ("spec", "deployments", index, "pricing", "source")
        source = pricing.source
        if table_ref is None or source.table != table_ref.name:
            declared = (
                "the catalog declares no priceTable"
                if table_ref is None
                else f"the catalog's price table is '{table_ref.name}'"
            )
            yield finding(
                "NXL007",
                f"deployment '{dep.id}' takes its price from table '{source.table}', "
                f"but {declared}",
                ctx.at(*key, "table"),
                dep.id,
            )
            continue
        if ctx.price_table is None or source.key in ctx.price_table:
            continue
        near = difflib.get_close_matches(source.key, list(ctx.price_table), n=1, cutoff=0.8)
        suffix = f" (did you mean '{near[0]}'?)" if near else ""
        yield finding(
            "NXL007",
            f"deployment '{dep.id}' price key '{source.key}' is not in price table "
            f"'{table_ref.name}'{suffix}",
            ctx.at(*key, "key"),
            dep.id,
        )
