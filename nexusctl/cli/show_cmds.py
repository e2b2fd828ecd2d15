"""``nexusctl policy show``: a readable summary of one routing policy."""

from __future__ import annotations

import json
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
    from rich.table import Table

    out = stdout_console()
    meta = summary["policy"]
    out.print(
        f"[bold]{shown(meta['name'])}[/] v{meta['version']}  owner {shown(meta['owner'] or '-')}  "
        f"({shown(meta['path'])}, catalog {shown(meta['catalog'])}: "
        f"{meta['deployments']} deployments)",
        highlight=False,
    )
    if meta["description"]:
        out.print(plain(meta["description"]), markup=False, highlight=False)

    from rich import box

    routes = Table(
        title="Routes (first match wins)", title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1)
    )
    routes.add_column("route", no_wrap=True)
    routes.add_column("match", overflow="fold")
    routes.add_column("tiers", overflow="fold")
    routes.add_column("SLO", justify="right", no_wrap=True)
    routes.add_column("cost cap", justify="right", no_wrap=True)
    routes.add_column("fallback", overflow="fold")
    for index, route in enumerate(summary["routes"], start=1):
        tiers = ",".join(route["tiers"])
        if route["minTier"]:
            tiers += f" floor {route['minTier']}"
        for step in route["complexityThresholds"]:
            tiers += f"; >={step['atLeast']}:{step['minTier']}"
        if route["deployments"] is not None:
            tiers += f"; only {', '.join(route['deployments'])}"
        routes.add_row(
            f"{'*' if route['default'] else index} {shown(route['id'])}",
            shown(route["match"]),
            shown(tiers),
            f"{route['sloMs']:,} ms",
            shown(route["maxCostUsd"] or "none"),
            shown(" > ".join(route["fallback"]) or "none"),
        )
    out.print(routes)
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
                    [f"{k}={','.join(v)}" for k, v in g["deny"].items()]
                    + [f"all but {k}={','.join(v)}" for k, v in g["allow"].items()]
                )
                or "nothing",
            )
            for g in summary["guardrails"]
        ],
    )
    _table(
        out,
        "Escalation",
        ("rule", "trigger", "action", "target", "reason"),
        [
            (e["id"], e["trigger"], e["action"], e["target"], e["reason"])
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


def _table(out: Any, title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    from rich.table import Table

    if not rows:
        return
    from rich import box

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1))
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(shown(cell) for cell in row))
    out.print(table)
