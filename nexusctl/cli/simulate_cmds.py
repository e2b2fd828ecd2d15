"""`nexusctl simulate`: replay recorded traffic under two policies, diff, gate, report."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nexusctl.cli._apps import app
from nexusctl.cli._common import handle_errors, stderr_console
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
    from rich.progress import Progress, TaskID

    from nexusctl.simulate.reports.outputs import OutputTarget
    from nexusctl.simulate.run import SimulationRequest

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
    str,
    typer.Option(
        "--traffic",
        "-t",
        help="Recorded traffic, Parquet in nexusctl's schema (see `nexusctl traffic import`). "
        "With --engine spark also a URL (s3a://, abfss://, gs://, hdfs://, file://) read "
        "through Spark's own filesystem.",
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
    list[ReportFormat] | None,
    typer.Option(
        "--format",
        "-f",
        help="Report format: text (default), json, markdown, html, junit, github. Repeatable: "
        "the Nth --format goes with the Nth --output. Without it, each --output's format "
        "follows its extension.",
        case_sensitive=False,
        metavar="FORMAT",
    ),
]
OutputOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--output",
        "-o",
        help="Write a report to PATH instead of stdout; repeatable (one replay, every "
        "report). The format follows the extension (.txt text, .json, .md markdown, .html, "
        ".xml junit) or is named: FORMAT:PATH, e.g. github:summary.md ('github:' alone is "
        "$GITHUB_STEP_SUMMARY). '-' is stdout.",
        metavar="PATH",
    ),
]
ReportUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--report-url",
        help="Where the full report is published (an http(s) URL, e.g. the CI artifact); "
        "the Markdown and github summary link it.",
        metavar="URL",
    ),
]
AllowEmptyOpt = Annotated[
    bool,
    typer.Option("--allow-empty", help="Accept traffic with no requests (gates pass on no data)."),
]
MaxRowsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-rows",
        min=1,
        help="Refuse traffic whose Parquet footer declares more rows than this (default "
        "20,000,000; the uncompressed-size cap, 8 GiB, scales with it). Both engines stream, so "
        "raise it for a genuine larger file (a quarter's traffic on --engine spark).",
    ),
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
    report_format: FormatOpt = None,
    output: OutputOpt = None,
    report_url: ReportUrlOpt = None,
    allow_empty: AllowEmptyOpt = False,
    max_rows: MaxRowsOpt = None,
    allow_catalog_change: AllowCatalogChangeOpt = False,
    attest: AttestOpt = None,
    key: KeyOpt = None,
    certificate: CertOpt = None,
    chain: ChainOpt = None,
    keyless: KeylessOpt = False,
    trust_config: TrustConfigOpt = None,
    identity_token: TokenOpt = None,
    emit_evidence: Annotated[
        tuple[Path, Path] | None,
        typer.Option(
            "--emit-evidence",
            help="Append the candidate's decisions as counterfactual records to the evidence "
            "store DIR, signed with its note KEY (needs --decisions).",
            metavar="DIR KEY",
        ),
    ] = None,
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
    from nexusctl.cli.simulate_output import emit_reports, note
    from nexusctl.errors import UsageError
    from nexusctl.simulate.job import check_verdict, file_attestation, run_job
    from nexusctl.simulate.reports.outputs import check_report_url, plan_outputs
    from nexusctl.simulate.run import SimulationRequest

    summary_file = bool(os.environ.get("GITHUB_STEP_SUMMARY"))
    targets = plan_outputs(report_format or (), output or (), summary_file=summary_file)
    url = check_report_url(report_url) if report_url is not None else None

    if emit_evidence is not None and decisions is None:
        raise UsageError("--emit-evidence needs --decisions FILE (the records are read from it)")
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
        max_rows=max_rows,
    )
    _check_targets(targets, request)
    bar = _ProgressBar()
    try:
        from nexusctl.spark import simulate_fold

        fold = simulate_fold(engine.value, master, conf)
        run = run_job(request, gates, on_start=bar.start, progress=bar.advance, fold=fold)
    finally:
        bar.stop()
    if emit_evidence is not None:
        from nexusctl.evidence.emit import emit_counterfactuals

        note(emit_counterfactuals(emit_evidence, decisions))
    emit_reports(run.result, targets, report_url=url)
    if attest is not None and signer is not None:
        written = file_attestation(run, signer, attest)
        note("signed routing-diff attestation -> " + ", ".join(str(p) for p in written))
    check_verdict(run.result)


def _check_targets(targets: list[OutputTarget], request: SimulationRequest) -> None:
    from nexusctl.simulate.reports.outputs import check_targets

    traffic = [] if request.traffic_url else [Path(request.traffic)]
    inputs = [*traffic, request.baseline, request.candidate]
    check_targets(targets, inputs + ([request.decisions] if request.decisions else []))


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
