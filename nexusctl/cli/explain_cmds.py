"""`nexusctl policy explain`: the router's decision for one request, and why.

Only typer and the shared CLI helpers load at import time; the router loads in the command.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nexusctl.cli._apps import policy_app
from nexusctl.cli._common import TextOrJson, handle_errors, shown, stdout_console, write_stdout
from nexusctl.cli._repo_root import RootOpt
from nexusctl.errors import UsageError

if TYPE_CHECKING:
    from nexusctl.policy.loader import LoadedPolicy
    from nexusctl.router.decision import Decision
    from nexusctl.simulate.decision_rows import DecisionRow


EXPLAIN_HELP = (
    "Show where the router sends one request, and why.\n\n"
    "The request is a JSON object of RoutingRequest attributes (required: tenant, app, "
    "residencyClass, inputTokens, outputTokens; optional: requestId, useCase, dataClass, "
    "riskClass, cachedInputTokens, reasoningTokens, capabilities, complexity, confidence; "
    "schema: schemas/RoutingRequest.json), given inline, as @file, or - for stdin. Or take "
    "one row of a `simulate --decisions` file (--decisions FILE with --row N or --request-id "
    "ID): the request and the load it was replayed at are read from the row, and the output "
    "says whether the decision equals the recorded one (--side picks the baseline or "
    "candidate column; pass that side's policy).\n\n"
    "The output lists the matched route, the tier floor and what raised it, every deployment "
    "with the rule that eliminated it (or why it was passed over), the decode choice "
    "(speculative draft length) and the predicted latency and cost.\n\n"
    'The request is read strictly: counts are JSON integers ("600" and true are refused), '
    "a key appears once, every missing or invalid field is named in one message with its line "
    "and column; @file must be a regular file of at most 1 MiB.\n\n"
    "Exit codes: 0 decided (routed, escalated or refused: all are decisions), 2 no request "
    "or two, 3 invalid policy, request or decisions file (missing, not a regular file, too "
    "large, a row out of range)."
)


class Side(StrEnum):
    """The side of a decisions row."""

    baseline = "baseline"
    candidate = "candidate"


@policy_app.command("explain", help=EXPLAIN_HELP)
@handle_errors
def explain(
    policy: Annotated[Path, typer.Argument(help="The RoutingPolicy YAML file.", dir_okay=False)],
    request: Annotated[
        str | None,
        typer.Option("--request", "-r", help="Request JSON: inline, @file, or - to read stdin."),
    ] = None,
    load: Annotated[
        int | None,
        typer.Option(
            "--load",
            min=1,
            help="Requests in flight on a replica (drives the Latency Controller). "
            "Default 1, or the row's load with --decisions.",
        ),
    ] = None,
    decisions: Annotated[
        Path | None,
        typer.Option(
            "--decisions",
            metavar="FILE",
            help="A `simulate --decisions` Parquet file.",
            dir_okay=False,
        ),
    ] = None,
    row: Annotated[
        int | None, typer.Option("--row", min=0, help="Row of --decisions to explain (0-based).")
    ] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", metavar="ID", help="Row of --decisions by id.")
    ] = None,
    side: Annotated[
        Side,
        typer.Option("--side", help="Which decision of the --decisions row to compare with."),
    ] = Side.candidate,
    output: Annotated[
        TextOrJson, typer.Option("--format", help="text (tables) or json (one document).")
    ] = TextOrJson.text,
    root: RootOpt = None,
) -> None:
    """Show where the router sends one request, and why."""
    from nexusctl.policy.loader import load_policy
    from nexusctl.router import route
    from nexusctl.router.explain import explain_document, parse_request

    recorded = _decisions_row(request, decisions, row, request_id, side)
    if recorded is None:
        assert request is not None
        routing_request = parse_request(*_read_request(request))
    else:
        routing_request = recorded.request
    loaded = load_policy(policy, root=root)
    at_load = load or (recorded.load if recorded is not None else 1)
    decision = route(loaded, routing_request, at_load)
    check = _compare(recorded, decision, decisions)
    if output is TextOrJson.json:
        document = explain_document(loaded, routing_request, decision)
        if check is not None:
            document["decisionsRow"] = check
        write_stdout(json.dumps(document, indent=2, ensure_ascii=False))
        return
    _render(loaded, decision)
    if check is not None:
        _render_check(check)


def _decisions_row(
    request: str | None,
    decisions: Path | None,
    row: int | None,
    request_id: str | None,
    side: Side,
) -> DecisionRow | None:
    """The --decisions row to explain, or None for --request; refuse any other mix."""
    if decisions is None:
        if row is not None or request_id is not None:
            raise UsageError("--row and --request-id need --decisions FILE")
        if request is None:
            raise UsageError("give the request: --request JSON|@file|- or --decisions FILE --row N")
        return None
    if request is not None:
        raise UsageError("--request and --decisions cannot go together")
    if (row is None) == (request_id is None):
        raise UsageError("with --decisions, give exactly one of --row N and --request-id ID")
    from nexusctl.simulate.decision_rows import read_decision_row

    return read_decision_row(decisions, side=side.value, row=row, request_id=request_id)


def _compare(
    recorded: DecisionRow | None, decision: Decision, decisions: Path | None
) -> dict[str, Any] | None:
    if recorded is None:
        return None
    from nexusctl.simulate.decision_rows import differences

    changed = differences(recorded, decision.decision_row(recorded.row))
    return {
        "file": str(decisions),
        "row": recorded.row,
        "side": recorded.side,
        "load": recorded.load,
        "matches": not changed,
        "differences": {k: {"recorded": a, "now": b} for k, (a, b) in changed.items()},
    }


def _render_check(check: dict[str, Any]) -> None:
    console = stdout_console()
    where = f"{shown(check['file'])} row {check['row']} ({check['side']}, load {check['load']})"
    if check["matches"]:
        console.print(f"[green]same decision as {where}[/]", highlight=False)
        return
    console.print(f"[red]DIFFERS from {where}[/] (is this the policy that was simulated?)")
    for name, pair in check["differences"].items():
        console.print(
            f"  {shown(name)}: recorded {shown(pair['recorded'])}, now {shown(pair['now'])}",
            highlight=False,
        )


def _read_request(value: str) -> tuple[bytes | str, str]:
    """Return the request (inline text, or bytes read bounded) and a name for messages."""
    from nexusctl.files import read_bounded
    from nexusctl.router.explain import MAX_REQUEST_BYTES

    if value == "-":
        return sys.stdin.buffer.read(MAX_REQUEST_BYTES + 1), "request (stdin)"
    if value.startswith("@"):
        path = Path(value[1:])
        return read_bounded(path, MAX_REQUEST_BYTES, what="request file"), str(path)
    return value, "request"


def _ms(us: int | None) -> str:
    return "-" if us is None else f"{us / 1000:,.1f} ms"


def _render(loaded: LoadedPolicy, decision: Decision) -> None:
    from rich import box
    from rich.table import Table

    from nexusctl.router import reasons
    from nexusctl.router.explain import usd

    def money(pusd: int | None) -> str:
        value = usd(pusd)
        return "-" if value is None else f"${value}"

    console = stdout_console()
    if not console.is_terminal:
        console.width = max(console.width, 150)  # files and pipes: keep table rows whole
    meta = loaded.policy.metadata
    style = {"routed": "green", "escalated": "yellow", "refused": "red"}[decision.outcome]
    summary = Table(title=f"Decision under {shown(meta.name)} v{meta.version}", show_header=False)
    summary.add_column("field", style="bold")
    summary.add_column("value")
    summary.add_row("request", shown(decision.request_id))
    summary.add_row("route", shown(decision.route_id))
    summary.add_row("outcome", f"[{style}]{decision.outcome}[/]")
    if decision.deployment_id is not None:
        summary.add_row(
            "deployment",
            shown(
                f"{decision.deployment_id} ({decision.tier}, {decision.provider}, "
                f"{decision.region})"
            ),
        )
        strategy = (
            f"speculative decoding, draft length {decision.draft_tokens}"
            if decision.draft_tokens
            else "standard decoding (no speculation)"
        )
        summary.add_row("decode", f"{strategy} at load {decision.load}")
        met = "[green]met[/]" if decision.slo_met else "[red]MISSED[/]"
        summary.add_row(
            "predicted latency",
            f"TTFT {_ms(decision.predicted_ttft_us)}, total "
            f"{_ms(decision.predicted_latency_us)} (SLO {_ms(decision.slo_us)}: {met})",
        )
        cap = money(decision.max_cost_pusd) if decision.max_cost_pusd is not None else "none"
        summary.add_row("predicted cost", f"{money(decision.predicted_cost_pusd)} (cap {cap})")
    floor = decision.tier_floor or "none"
    raised = ", ".join(decision.tier_floor_raised_by) or "-"
    summary.add_row("tier floor", shown(f"{floor} (raised by: {raised})"))
    if decision.reason is not None:
        summary.add_row("reason", shown(f"{decision.reason}: {reasons.describe(decision.reason)}"))
    if decision.escalation_rule is not None:
        summary.add_row(
            "escalation",
            shown(f"rule {decision.escalation_rule} -> {decision.escalation_target}"),
        )
    console.print(summary)

    table = Table(title="Candidates (sorted by deployment id)", box=box.SIMPLE_HEAD)
    table.add_column("deployment", no_wrap=True)
    table.add_column("tier", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("reason", no_wrap=True)
    table.add_column("γ", justify="right")
    table.add_column("latency ms", justify="right", no_wrap=True)
    table.add_column("cost USD", justify="right", no_wrap=True)
    status_style = {"chosen": "bold green", "considered": "cyan", "eliminated": "dim"}
    for c in decision.candidates:
        table.add_row(
            shown(c.deployment_id),
            c.tier,
            f"[{status_style[c.status]}]{c.status}[/]",
            shown(c.reason or "-"),
            "-" if c.draft_tokens is None else str(c.draft_tokens),
            "-" if c.predicted_latency_us is None else f"{c.predicted_latency_us / 1000:,.1f}",
            usd(c.predicted_cost_pusd) or "-",
        )
    console.print(table)
    codes = sorted({c.reason for c in decision.candidates if c.reason})
    if codes:
        legend = Table(title="Reason codes", show_header=False, box=box.SIMPLE)
        legend.add_column("code", style="bold", no_wrap=True)
        legend.add_column("meaning")
        for code in codes:
            legend.add_row(shown(code), reasons.describe(code.partition(":")[0]))
        console.print(legend)
