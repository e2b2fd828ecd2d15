"""`nexusctl simulate`: replay recorded traffic under two policies, diff, gate, report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nexusctl.cli._apps import app
from nexusctl.cli._common import handle_errors, stderr_console, write_stdout
from nexusctl.cli._engine import ConfOpt, MasterOpt, SimulateEngine, SimulateEngineOpt
from nexusctl.cli._signing import (
    CertOpt,
    ChainOpt,
    KeylessOpt,
    KeyOpt,
    TokenOpt,
    TrustConfigOpt,
    make_signer,
)
from nexusctl.simulate.reports import ReportFormat

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from nexusctl.simulate.reports.terminal import Block
    from nexusctl.simulate.result import SimulationResult

#: Below this many requests no progress bar is shown (the run takes well under a second).
PROGRESS_MIN_ROWS = 200_000

BaselineOpt = Annotated[
    Path,
    typer.Option(
        "--baseline",
        "-b",
        help="The live policy: a RoutingPolicy YAML file or a bundle folder.",
        metavar="PATH",
    ),
]
CandidateOpt = Annotated[
    Path,
    typer.Option(
        "--candidate",
        "-c",
        help="The proposed policy: a RoutingPolicy YAML file or a bundle folder.",
        metavar="PATH",
    ),
]
TrafficOpt = Annotated[
    Path,
    typer.Option(
        "--traffic",
        "-t",
        help="Recorded traffic, Parquet in nexusctl's schema (see `nexusctl traffic import`).",
        metavar="FILE",
    ),
]
DecisionsOpt = Annotated[
    Path | None,
    typer.Option(
        "--decisions",
        help="Also write every request's baseline_*/candidate_* decision pair to this Parquet.",
        metavar="FILE",
    ),
]
GatesOpt = Annotated[
    Path | None, typer.Option("--gates", help="Gate file (kind: SimulationGates).", metavar="FILE")
]
GateOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--gate",
        help="NAME=THRESHOLD or NAME=off, repeatable; overrides --gates. Names: "
        "spend_change_max_pct, changed_decisions_max_pct, residency_violations_max "
        "(0 by default), frontier_share_max_pct, slo_attainment_drop_max_points, pgr_min, "
        "accuracy_min, escalation_share_max_pct.",
        metavar="NAME=VALUE",
    ),
]
FormatOpt = Annotated[
    ReportFormat, typer.Option("--format", "-f", help="Report format.", case_sensitive=False)
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write the report to FILE instead of stdout.", metavar="FILE"
    ),
]
AllowEmptyOpt = Annotated[
    bool,
    typer.Option("--allow-empty", help="Accept traffic with no requests (gates pass on no data)."),
]
AllowCatalogChangeOpt = Annotated[
    bool,
    typer.Option(
        "--allow-catalog-change",
        help="Accept a candidate whose catalog differs (deployments or prices); the spend "
        "change is then split into price and routing effects.",
    ),
]
AttestOpt = Annotated[
    Path | None,
    typer.Option(
        "--attest",
        help="Sign a routing-diff attestation (in-toto, Sigstore bundle JSON) to FILE; "
        "with a candidate bundle it is also filed in its attestations/. Needs a signing "
        "mode (--key, --certificate, --keyless).",
        metavar="FILE",
    ),
]


@app.command("simulate")
@handle_errors
def simulate(
    baseline: BaselineOpt,
    candidate: CandidateOpt,
    traffic: TrafficOpt,
    decisions: DecisionsOpt = None,
    gates: GatesOpt = None,
    gate: GateOpt = None,
    report_format: FormatOpt = ReportFormat.text,
    output: OutputOpt = None,
    allow_empty: AllowEmptyOpt = False,
    allow_catalog_change: AllowCatalogChangeOpt = False,
    attest: AttestOpt = None,
    key: KeyOpt = None,
    certificate: CertOpt = None,
    chain: ChainOpt = None,
    keyless: KeylessOpt = False,
    trust_config: TrustConfigOpt = None,
    identity_token: TokenOpt = None,
    engine: SimulateEngineOpt = SimulateEngine.numpy,
    master: MasterOpt = None,
    conf: ConfOpt = None,
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
    from nexusctl.errors import UsageError
    from nexusctl.simulate.job import check_verdict, file_attestation, run_job
    from nexusctl.simulate.run import SimulationRequest

    signer = None
    if attest is not None:
        signer = make_signer(key, certificate, chain, keyless, trust_config, identity_token)
    elif key or certificate or chain or keyless:
        raise UsageError("signing options need --attest FILE")
    request = SimulationRequest(
        baseline=baseline,
        candidate=candidate,
        traffic=traffic,
        decisions=decisions,
        gate_flags=tuple(gate or ()),
        allow_empty=allow_empty,
        allow_catalog_change=allow_catalog_change,
    )
    bar = _ProgressBar()
    try:
        from nexusctl.spark import simulate_fold

        fold = simulate_fold(engine.value, master, conf)
        run = run_job(request, gates, on_start=bar.start, progress=bar.advance, fold=fold)
    finally:
        bar.stop()
    _emit(run.result, report_format, output)
    if attest is not None and signer is not None:
        written = file_attestation(run, signer, attest)
        _note("signed routing-diff attestation -> " + ", ".join(str(p) for p in written))
    check_verdict(run.result)


def _note(text: str) -> None:
    stderr_console().print(text, markup=False, highlight=False)


def _emit(result: SimulationResult, report_format: ReportFormat, output: Path | None) -> None:
    from nexusctl.errors import EnvironmentError_
    from nexusctl.simulate.reports import render
    from nexusctl.simulate.reports.terminal import terminal_view

    if report_format is ReportFormat.github:
        _emit_github(result, output)
        return
    if report_format is ReportFormat.text:
        if output is None:
            from nexusctl.cli._common import stdout_console

            draw_terminal(terminal_view(result), stdout_console())
            return
        text = _terminal_text(terminal_view(result))
    else:
        text = render(result, report_format)
    if output is None:
        write_stdout(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise EnvironmentError_(f"{output}: cannot write the report: {exc.strerror}") from None
    verdict = "passed" if result.verdict.passed else "FAILED"
    _note(f"wrote {report_format.value} report to {output} (gates {verdict})")


def _emit_github(result: SimulationResult, output: Path | None) -> None:
    """Append the job summary to --output or $GITHUB_STEP_SUMMARY; annotations to stdout."""
    import os

    from nexusctl.ci.github import render_github
    from nexusctl.errors import EnvironmentError_

    rendered = render_github(result)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    target = output or (Path(summary_file) if summary_file else None)
    if target is None:
        write_stdout(rendered.summary)
    else:
        try:
            with target.open("a", encoding="utf-8") as handle:
                handle.write(rendered.summary)
        except OSError as exc:
            message = f"{target}: cannot write the job summary: {exc.strerror}"
            raise EnvironmentError_(message) from None
    # The runner reads workflow commands (::error, ::notice) from stdout.
    write_stdout(rendered.annotations)


def _terminal_text(view: list[Block]) -> str:
    import io

    from rich.console import Console

    console = Console(record=True, width=110, file=io.StringIO(), color_system=None)
    draw_terminal(view, console)
    return console.export_text()


_TONES = {"pass": "[green]{}[/]", "fail": "[bold red]{}[/]"}


def draw_terminal(view: list[Block], console: Console) -> None:
    """Draw the terminal summary (``nexusctl.simulate.reports.terminal``) with rich."""
    from rich.markup import escape
    from rich.table import Table

    from nexusctl.simulate.reports.terminal import Line

    for block in view:
        if isinstance(block, Line):
            if block.verdict is None:
                console.print(block.text, markup=False, highlight=False)
                continue
            style, word = ("bold green", "PASS") if block.verdict else ("bold red", "FAIL")
            console.print(f"[{style}]{word}[/] {escape(block.text)}", highlight=False)
            continue
        table = Table(title=block.title, title_justify="left")
        for column in block.columns:
            table.add_column(column.header, justify="right" if column.numeric else "left")
        for row in block.rows:
            table.add_row(
                *[_TONES[c.tone].format(c.text) if c.tone else escape(c.text) for c in row]
            )
        console.print(table)


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
