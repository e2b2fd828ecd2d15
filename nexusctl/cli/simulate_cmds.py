"""`nexusctl simulate`: replay recorded traffic under two policies, diff, gate, report."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nexusctl.cli._apps import app
from nexusctl.cli._common import handle_errors, stderr_console, write_stdout
from nexusctl.cli._signing import (
    CertOpt,
    ChainOpt,
    KeylessOpt,
    KeyOpt,
    TokenOpt,
    TrustConfigOpt,
    make_signer,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from nexusctl.signing.signers import Signer
    from nexusctl.simulate.result import SimulationResult

#: Below this many requests no progress bar is shown (the run takes well under a second).
PROGRESS_MIN_ROWS = 200_000


class ReportFormat(enum.StrEnum):
    """Output formats of `nexusctl simulate`."""

    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"
    junit = "junit"


@app.command("simulate")
@handle_errors
def simulate(
    baseline: Annotated[
        Path,
        typer.Option(
            "--baseline",
            "-b",
            help="The live policy: a RoutingPolicy YAML file or a bundle folder.",
            metavar="PATH",
        ),
    ],
    candidate: Annotated[
        Path,
        typer.Option(
            "--candidate",
            "-c",
            help="The proposed policy: a RoutingPolicy YAML file or a bundle folder.",
            metavar="PATH",
        ),
    ],
    traffic: Annotated[
        Path,
        typer.Option(
            "--traffic",
            "-t",
            help="Recorded traffic, Parquet in nexusctl's schema (see `nexusctl traffic import`).",
            metavar="FILE",
        ),
    ],
    decisions: Annotated[
        Path | None,
        typer.Option(
            "--decisions",
            help="Also write every request's baseline_*/candidate_* decision pair to this Parquet.",
            metavar="FILE",
        ),
    ] = None,
    gates: Annotated[
        Path | None,
        typer.Option("--gates", help="Gate file (kind: SimulationGates).", metavar="FILE"),
    ] = None,
    gate: Annotated[
        list[str] | None,
        typer.Option(
            "--gate",
            help="NAME=THRESHOLD or NAME=off, repeatable; overrides --gates. Names: "
            "spend_change_max_pct, changed_decisions_max_pct, residency_violations_max "
            "(0 by default), frontier_share_max_pct, slo_attainment_drop_max_points, pgr_min, "
            "accuracy_min, escalation_share_max_pct.",
            metavar="NAME=VALUE",
        ),
    ] = None,
    report_format: Annotated[
        ReportFormat,
        typer.Option("--format", "-f", help="Report format.", case_sensitive=False),
    ] = ReportFormat.text,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the report to FILE instead of stdout.", metavar="FILE"
        ),
    ] = None,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty", help="Accept traffic with no requests (gates pass on no data)."
        ),
    ] = False,
    allow_catalog_change: Annotated[
        bool,
        typer.Option(
            "--allow-catalog-change",
            help="Accept a candidate whose catalog differs (deployments or prices); the spend "
            "change is then split into price and routing effects.",
        ),
    ] = False,
    attest: Annotated[
        Path | None,
        typer.Option(
            "--attest",
            help="Sign a routing-diff attestation (in-toto, Sigstore bundle JSON) to FILE; "
            "with a candidate bundle it is also filed in its attestations/. Needs a signing "
            "mode (--key, --certificate, --keyless).",
            metavar="FILE",
        ),
    ] = None,
    key: KeyOpt = None,
    certificate: CertOpt = None,
    chain: ChainOpt = None,
    keyless: KeylessOpt = False,
    trust_config: TrustConfigOpt = None,
    identity_token: TokenOpt = None,
) -> None:
    """Replay recorded traffic under a baseline and a candidate policy; diff and gate them.

    Reports changed decisions, spend split into price and routing effects, latency
    percentiles and SLO attainment, residency violations, frontier share, escalations and
    quality (accuracy, PGR). Metrics, gates and formats: docs/simulate.md.

    A bundle folder is checked against its manifest before it is read, and its digest is
    bound into the --attest statement (the attestation is written even when a gate fails).

    Exit codes: 0 gates passed, 6 a gate failed, 3 invalid input, 2 usage, 4 cannot write,
    5 a bundle does not match its manifest.
    """
    from nexusctl.errors import GateFailed, UsageError
    from nexusctl.simulate.gates import load_gates
    from nexusctl.simulate.run import SimulationRequest
    from nexusctl.simulate.run import simulate as run_simulation

    signer = None
    if attest is not None:
        signer = make_signer(key, certificate, chain, keyless, trust_config, identity_token)
    elif key or certificate or chain or keyless:
        raise UsageError("signing options need --attest FILE")
    baseline_policy, baseline_bundle, _ = _policy_source(baseline)
    candidate_policy, candidate_bundle, candidate_name = _policy_source(candidate)
    request = SimulationRequest(
        baseline=baseline_policy,
        candidate=candidate_policy,
        traffic=traffic,
        decisions=decisions,
        gate_file=load_gates(gates) if gates is not None else None,
        gate_flags=tuple(gate or ()),
        allow_empty=allow_empty,
        allow_catalog_change=allow_catalog_change,
    )
    bar = _ProgressBar()
    try:
        result = run_simulation(request, on_start=bar.start, progress=bar.advance)
    finally:
        bar.stop()
    _emit(result, report_format, output)
    if attest is not None and signer is not None:
        bundle_side = (candidate, candidate_name) if candidate_bundle else None
        _attest(result, signer, attest, bundle_side, baseline_bundle, candidate_bundle)
    if not result.verdict.passed:
        failed = [g.name for g in result.verdict.gates if not g.passed]
        raise GateFailed(
            f"{len(failed)} gate(s) failed: {', '.join(failed)}",
            hint="the report lists each gate's value and threshold",
        )


def _policy_source(path: Path) -> tuple[Path, str | None, str | None]:
    """A policy file as given, or the policy inside a bundle folder with its digest and name."""
    if not path.is_dir():
        return path, None, None
    from nexusctl.bundle import bundled_policy

    policy, tree = bundled_policy(path)
    return policy, tree.digest, tree.manifest.name


def _attest(
    result: SimulationResult,
    signer: Signer,
    target: Path,
    bundle_side: tuple[Path, str | None] | None,
    baseline_bundle: str | None,
    candidate_bundle: str | None,
) -> None:
    from nexusctl.errors import EnvironmentError_
    from nexusctl.simulate.attest import sign_routing_diff

    name = (bundle_side[1] if bundle_side else None) or result.candidate.name
    signed = sign_routing_diff(
        result,
        signer,
        candidate_name=name,
        baseline_bundle=baseline_bundle,
        candidate_bundle=candidate_bundle,
    )
    try:
        target.write_bytes(signed)
    except OSError as exc:
        raise EnvironmentError_(f"{target}: cannot write the attestation: {exc.strerror}") from None
    written = [str(target)]
    if bundle_side is not None:
        from nexusctl.signing import write_attestation

        written.append(str(write_attestation(bundle_side[0], "routing-diff", signed)))
    stderr_console().print(
        "signed routing-diff attestation -> " + ", ".join(written), markup=False, highlight=False
    )


def _emit(result: SimulationResult, report_format: ReportFormat, output: Path | None) -> None:
    from nexusctl.errors import EnvironmentError_

    if report_format is ReportFormat.text:
        if output is None:
            from nexusctl.cli._common import stdout_console

            render_terminal(result, stdout_console())
            return
        text = _terminal_text(result)
    else:
        text = _render(result, report_format)
    if output is None:
        write_stdout(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise EnvironmentError_(f"{output}: cannot write the report: {exc.strerror}") from None
    verdict = "passed" if result.verdict.passed else "FAILED"
    stderr_console().print(
        f"wrote {report_format.value} report to {output} (gates {verdict})",
        markup=False,
        highlight=False,
    )


def _render(result: SimulationResult, report_format: ReportFormat) -> str:
    from nexusctl.simulate.report_html import render_html
    from nexusctl.simulate.report_json import render_json
    from nexusctl.simulate.report_junit import render_junit
    from nexusctl.simulate.report_markdown import render_markdown

    renderers = {
        ReportFormat.json: render_json,
        ReportFormat.markdown: render_markdown,
        ReportFormat.html: render_html,
        ReportFormat.junit: render_junit,
    }
    return renderers[report_format](result)


def _terminal_text(result: SimulationResult) -> str:
    import io

    from rich.console import Console

    console = Console(record=True, width=110, file=io.StringIO(), color_system=None)
    render_terminal(result, console)
    return console.export_text()


def render_terminal(result: SimulationResult, console: Console) -> None:
    """Print the rich terminal summary: verdict, gates, headline numbers, tiers, changes."""
    from rich.table import Table

    from nexusctl.simulate import _format as fmt

    ok = result.verdict.passed
    style = "bold green" if ok else "bold red"
    console.print(f"[{style}]{'PASS' if ok else 'FAIL'}[/] {fmt.headline(result)}", highlight=False)
    if result.catalog_changed:
        console.print(
            "catalog changed: " + "; ".join(result.catalog_changes), markup=False, highlight=False
        )
    gates = Table(title="Gates", title_justify="left")
    gates.add_column("gate")
    gates.add_column("value", justify="right")
    gates.add_column("threshold", justify="right")
    gates.add_column("result")
    gates.add_column("from")
    for g in result.verdict.gates:
        gates.add_row(
            g.name,
            fmt.gate_value(g),
            fmt.gate_threshold(g),
            "[green]pass[/]" if g.passed else "[bold red]FAIL[/]",
            g.source,
        )
    console.print(gates)
    summary = Table(title="Summary", title_justify="left")
    summary.add_column("")
    for name in ("baseline", "candidate", "change"):
        summary.add_column(name, justify="right")
    for row in fmt.summary_rows(result):
        summary.add_row(*row)
    console.print(summary)
    console.print(
        f"spend change {fmt.usd(result.spend.change, signed=True)} = price effect "
        f"{fmt.usd(result.spend.price_effect, signed=True)} + routing effect "
        f"{fmt.usd(result.spend.routing_effect, signed=True)}",
        highlight=False,
    )
    rows, cols, cells = fmt.matrix(
        [(t.baseline, t.candidate, t.requests) for t in result.decisions.by_tier]
    )
    tiers = Table(
        title="Decisions by tier (rows: baseline, columns: candidate)", title_justify="left"
    )
    tiers.add_column("")
    for col in cols:
        tiers.add_column(col, justify="right")
    for row_label in rows:
        tiers.add_row(row_label, *[fmt.count(cells.get((row_label, c), 0)) for c in cols])
    console.print(tiers)
    if result.decisions.by_route:
        changed = Table(title="Top changed routes", title_justify="left")
        for name in ("baseline route", "candidate route"):
            changed.add_column(name)
        changed.add_column("changed", justify="right")
        for t in result.decisions.by_route[:5]:
            changed.add_row(t.baseline, t.candidate, fmt.count(t.requests))
        console.print(changed)


class _ProgressBar:
    """A rich progress bar on stderr, only at a terminal and only for long runs."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total: int) -> None:
        if total < PROGRESS_MIN_ROWS or not sys.stderr.isatty():
            return
        from rich.progress import Progress

        self._progress = Progress(console=stderr_console(), transient=True)
        self._progress.start()
        self._task = self._progress.add_task("replaying", total=total)

    def advance(self, done: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
