"""``nexusctl policy show``: a readable summary of one routing policy."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from nexusctl.cli._apps import policy_app
from nexusctl.cli._common import (
    TextOrJson,
    handle_errors,
    plain,
    shown,
    stdout_console,
    write_stdout,
)
from nexusctl.cli._repo_root import RootOpt


@policy_app.command("show")
@handle_errors
def show(
    policy: Annotated[Path, typer.Argument(help="The RoutingPolicy file to summarise.")],
    output_format: Annotated[
        TextOrJson, typer.Option("--format", help="text (tables) or json (one document).")
    ] = TextOrJson.text,
    root: RootOpt = None,
) -> None:
    """Summarise a policy: routes in order, residency, guardrails, escalation, tenants.

    Exit codes: 0 shown, 3 the policy or its catalog does not load.
    """
    from nexusctl.policy.loader import load_policy
    from nexusctl.policy.summary import summarize

    summary = summarize(load_policy(policy, policy.as_posix(), root=root))
    if output_format is TextOrJson.json:
        write_stdout(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    _render(summary)


def _render(summary: dict[str, Any]) -> None:

    out = stdout_console()
    meta = summary["policy"]
    out.print(
        f"[bold]{shown(meta['name'])}[/] v{meta['version']}  owner {shown(meta['owner'] or '-')}",
        highlight=False,
    )
    out.print(f"file {shown(meta['path'])}", highlight=False)
    out.print(
        f"catalog {shown(meta['catalog'])}: {meta['deployments']} deployments", highlight=False
    )
    if meta["description"]:
        out.print(plain(meta["description"]), markup=False, highlight=False)

    rows: list[tuple[str, ...]] = []
    for index, route in enumerate(summary["routes"], start=1):
        tiers = ", ".join(route["tiers"])
        if route["minTier"]:
            tiers += f" floor {route['minTier']}"
        for step in route["complexityThresholds"]:
            tiers += f"; >= {step['atLeast']}: {step['minTier']}"
        if route["deployments"] is not None:
            tiers += f"; only {', '.join(route['deployments'])}"
        rows.append(
            (
                f"{'*' if route['default'] else index} {route['id']}",
                route["match"],
                tiers,
                f"{route['sloMs'] / 1000:,g} s",
                route["maxCostUsd"] or "none",
                " > ".join(route["fallback"]) or "none",
            )
        )
    columns = ("route", "match", "tiers", "SLO", "cost cap", "fallback")
    _table(out, "Routes (first match wins)", columns, rows, numeric={"SLO", "cost cap"})
    out.print("[dim]* = the default route; tiers: allowed tiers, floor, complexity steps[/]")

    _table(
        out,
        "Residency classes",
        ("class", "regions", "deployments in those regions"),
        [
            (c["id"], ", ".join(c["regions"]), ", ".join(c["deployments"]) or "none")
            for c in summary["residencyClasses"]
        ],
    )
    _table(
        out,
        "Guardrails (no route may cross)",
        ("guardrail", "applies to", "denies"),
        [
            (
                g["id"],
                g["when"],
                "; ".join(
                    [f"{k}={', '.join(v)}" for k, v in g["deny"].items()]
                    + [f"all but {k}={', '.join(v)}" for k, v in g["allow"].items()]
                )
                or "nothing",
            )
            for g in summary["guardrails"]
        ],
    )
    _table(
        out,
        "Escalation",
        ("rule", "trigger", "then"),
        [
            (e["id"], e["trigger"], f"{e['action']} to {e['target']}: {e['reason']}")
            for e in summary["escalation"]
        ],
    )
    _table(
        out,
        "Tenants",
        ("tenant", "monthly budget"),
        [(t["id"], t["monthlyBudgetUsd"] or "unlimited") for t in summary["tenants"]],
    )
    _table(
        out,
        "Fallback chains",
        ("chain", "deployments", "then"),
        [
            (c["id"], " -> ".join(c["deployments"]), c["then"] or "-")
            for c in summary["fallbackChains"]
        ],
    )
    if summary["limits"]:
        limits = ", ".join(f"{k}={v}" for k, v in summary["limits"].items())
        out.print(f"Limits: {plain(limits)}", markup=False, highlight=False)
    _table(
        out,
        "Lint suppressions",
        ("rule", "target", "expires", "reason"),
        [
            (s["rule"], s["target"] or "-", s["expires"] or "never", s["reason"])
            for s in summary["suppressions"]
        ],
    )


def _table(
    out: Any,
    title: str,
    columns: tuple[str, ...],
    rows: Sequence[tuple[str, ...]],
    numeric: set[str] | frozenset[str] = frozenset(),
) -> None:
    from rich import box
    from rich.table import Table

    if not rows:
        return
    cells = [tuple(shown(breakable(cell)) for cell in row) for row in rows]
    whole = [columns.index(c) for c in numeric]
    widths = fit_widths(columns, cells, out.width, whole)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1))
    for column, width in zip(columns, widths, strict=True):
        if column in numeric:
            table.add_column(column, overflow="fold", width=width, justify="right")
        else:
            table.add_column(column, overflow="fold", width=width)
    for row in cells:
        table.add_row(*row)
    out.print(table)


def fit_widths(
    columns: tuple[str, ...], rows: Sequence[tuple[str, ...]], total: int, whole: list[int]
) -> list[int]:
    """Column widths that fit ``total`` characters without cutting a word where possible.

    Cells of the ``whole`` columns (amounts with their unit) count as one word.

    Each column gets at least its longest word; the room left is shared in proportion to what
    each column needs beyond that. (rich's own shrinking evens out the widest columns and so
    cuts ids like ``nothing-eligible`` mid-word at 80 columns.)
    """
    grid = [columns, *rows]
    longest = [max(len(row[i]) for row in grid) for i in range(len(columns))]
    words = [
        longest[i] if i in whole else max(len(w) for row in grid for w in row[i].split() or [""])
        for i in range(len(columns))
    ]
    room = total - (3 * len(columns) + 1)  # padding, separators and the two edges
    if sum(longest) <= room:
        return longest
    if sum(words) >= room:
        return words
    extra = [full - word for full, word in zip(longest, words, strict=True)]
    spare = room - sum(words)
    widths = [w + spare * e // sum(extra) for w, e in zip(words, extra, strict=True)]
    return widths


def breakable(text: str) -> str:
    """Space out ``key=value`` and list commas, ``;`` and ``:``, so rich wraps there.

    rich breaks lines only at spaces; ``useCases=advice,account-help`` is one word to it and
    would be cut mid-word at 80 columns. Thousands separators (``$60,000.00``) and ``>=``
    stay as they are.
    """
    text = re.sub(r"(?<=[\w\]])=(?=[^\s=])", " = ", text)
    return re.sub(r"([,;:])(?=[^\s\d])", r"\1 ", text)
