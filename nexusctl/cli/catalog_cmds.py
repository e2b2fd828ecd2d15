"""`nexusctl catalog prices`: check or refresh a catalog's prices from a LiteLLM price table.

Only typer and the shared CLI helpers are imported at module level; the core loads inside
the command so `nexusctl --help` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nexusctl.cli._apps import catalog_app
from nexusctl.cli._common import TextOrJson, handle_errors, plain, stderr_console, write_stdout
from nexusctl.errors import ExitCode

if TYPE_CHECKING:
    from nexusctl.catalog import PriceCheck


class PriceFormat(StrEnum):
    """Price table formats nexusctl can read."""

    litellm = "litellm"


PRICES_HELP = (
    "Compare per-token prices with a LiteLLM price table, or write the table's prices.\n\n"
    "Every deployment with pricing.kind per_token and a source.key takes part. USD-per-token "
    "figures become exact integer micro-USD per million tokens (USD/token x 10^12); a figure "
    "that is not a whole number in that unit is refused, never rounded.\n\n"
    "One run reports every changed price and every problem (a source.key the table lacks, "
    "an entry that is not an exact price); --write changes nothing while any problem remains.\n\n"
    "Exit codes: 0 in sync (or written), 1 differences found (--check), 3 invalid catalog or "
    "table (a source.key missing from the table, a price that is not an exact number), "
    "4 cannot read or write."
)


@catalog_app.command("prices", help=PRICES_HELP)
@handle_errors
def prices(
    catalog: Annotated[Path, typer.Argument(help="The ModelCatalog YAML file.", dir_okay=False)],
    source_format: Annotated[
        PriceFormat, typer.Option("--from", help="Format of the price table (today: litellm).")
    ],
    table: Annotated[
        Path | None,
        typer.Option(
            "--table",
            help="Price table file (default: the catalog's spec.priceTable.path).",
            dir_okay=False,
        ),
    ] = None,
    write: Annotated[
        bool,
        typer.Option(
            "--write/--check",
            help="--check (default): list differences, exit 1 if any. "
            "--write: update the catalog in place (comments and layout kept).",
        ),
    ] = False,
    output: Annotated[TextOrJson, typer.Option("--format", help="text or json.")] = TextOrJson.text,
) -> None:
    """Compare per-token prices with a price table, or write the table's prices in place."""
    from nexusctl.catalog import check_prices, write_prices

    del source_format  # one format today; typer has already refused any other value
    result = check_prices(catalog, table)
    if write:
        write_prices(result)
    if output is TextOrJson.json:
        write_stdout(_as_json(result, written=write))
    else:
        _print_text(result, written=write)
    if result.problems:
        raise typer.Exit(int(ExitCode.INVALID_INPUT))
    if result.diffs and not write:
        raise typer.Exit(int(ExitCode.FINDINGS))


def _print_text(result: PriceCheck, *, written: bool) -> None:
    err = stderr_console()
    for problem in result.problems:
        err.print(
            f"error: {plain(problem.location)}: {plain(problem.message)}",
            markup=False,
            highlight=False,
        )
    if problem_hints := sorted({p.hint for p in result.problems if p.hint}):
        err.print(f"hint: {plain('; '.join(problem_hints))}", markup=False, highlight=False)
    shown = result.catalog.source.path
    if not result.diffs:
        if not result.problems:
            write_stdout(plain(f"{shown}: prices in sync with {_shown(result.table_path)}"))
        return
    rows = [("deployment", "field", "catalog", "table", "location")]
    rows += [
        (d.deployment, d.field, _cell(d.catalog), _cell(d.table), str(d.location))
        for d in result.diffs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    write_stdout(plain("\n".join(lines)))
    verb = "updated from" if written else "differ from"
    err.print(
        plain(
            f"{len(result.diffs)} price(s) {verb} {_shown(result.table_path)} "
            "(micro-USD per million tokens)"
            + ("" if written else "; run with --write to update the catalog")
        ),
        markup=False,
        highlight=False,
    )


def _shown(path: Path) -> str:
    """The path relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _cell(value: int | None) -> str:
    return "-" if value is None else str(value)


def _as_json(result: PriceCheck, *, written: bool) -> str:
    import json

    doc = {
        "catalog": result.catalog.source.path,
        "table": _shown(result.table_path),
        "unit": "micro-USD per million tokens",
        "inSync": not result.diffs and not result.problems,
        "written": bool(written and result.diffs),
        "differences": [
            {
                "deployment": d.deployment,
                "field": d.field,
                "catalog": d.catalog,
                "table": d.table,
                "location": str(d.location),
            }
            for d in result.diffs
        ],
        "problems": [
            {
                "deployment": p.deployment,
                "key": p.key,
                "message": p.message,
                "location": str(p.location),
            }
            for p in result.problems
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True)
