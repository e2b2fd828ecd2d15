"""``nexusctl evidence report`` and ``conformance``: who routed what, and did it conform
(thin adapters over nexusctl.evidence; docs/evidence.md, "Report" and "Conformance")."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, cast

import typer

from nexusctl.cli._apps import evidence_app
from nexusctl.cli._common import ReportFormat, TextOrJson, handle_errors, write_stdout
from nexusctl.cli._engine import ConfOpt, EvidenceEngine, EvidenceEngineOpt, MasterOpt
from nexusctl.cli.evidence_cmds import StoreArg, TextOrJsonOpt, store_root
from nexusctl.errors import UsageError

RegistryOpt = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        help="Registry clone: each decision is checked against the bundle live in its "
        "environment at its time, and the report names who promoted and approved it.",
    ),
]
PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy", help="A policy file or bundle folder to check every decision against."
    ),
]
DefaultEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--default-env", help="Environment of records that name none (e.g. a LiteLLM log)."
    ),
]
FailOnDeviationOpt = Annotated[
    bool,
    typer.Option(
        "--fail-on-deviation", help="Exit 6 when a record deviates from its policy (for CI)."
    ),
]


@evidence_app.command("report")
@handle_errors
def report(
    store: StoreArg,
    start: Annotated[
        dt.datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="First day.")
    ] = None,
    end: Annotated[
        dt.datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day.")
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    app: Annotated[str | None, typer.Option("--app", help="Only this app.")] = None,
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="markdown | html | json.")
    ] = ReportFormat.markdown,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to FILE.")] = None,
    registry: RegistryOpt = None,
    policy: PolicyOpt = None,
    default_env: DefaultEnvOpt = None,
    fail_on_deviation: FailOnDeviationOpt = False,
    engine: EvidenceEngineOpt = EvidenceEngine.duckdb,
    master: MasterOpt = None,
    conf: ConfOpt = None,
) -> None:
    """Who routed what, under which policy, at what cost: decisions by route, deployment,
    region and residency; refusals and escalations; spend by tenant (vs budget).

    With --registry: who promoted and approved each policy version, and conformance of every
    real decision to the bundle live in its environment at its time; with --policy:
    conformance to that one policy. docs/evidence.md, "Report" and "Conformance".

    Exit codes: 0 written, 6 a deviation with --fail-on-deviation, 3 bad input.
    """
    from nexusctl.evidence.conformance import policy_selection, require_conformance
    from nexusctl.evidence.report import (
        ReportFilter,
        render_html,
        render_json,
        render_markdown,
    )

    renderers = {"markdown": render_markdown, "html": render_html, "json": render_json}
    if fail_on_deviation and registry is None and policy is None:
        raise UsageError("--fail-on-deviation needs --registry or --policy")
    selection = ReportFilter(
        start.date() if start else None, end.date() if end else None, tenant, app, env
    )
    policies = policy_selection(registry, policy, default_env)
    from nexusctl.spark import evidence_report

    # build_report reads the store only through load_config, Log and open_store, which take a
    # directory or an object store alike.
    root = cast("Path", store_root(store))
    built = evidence_report(engine.value, master, conf)(root, selection, policies)
    text = renderers[fmt](built)
    if out is None:
        write_stdout(text)
    else:
        out.write_text(text)
        write_stdout(f"wrote {fmt} report to {out}")
    if fail_on_deviation and built.conformance is not None:
        require_conformance(built.conformance)


@evidence_app.command("conformance")
@handle_errors
def conformance(
    store: StoreArg,
    registry: RegistryOpt = None,
    policy: PolicyOpt = None,
    default_env: DefaultEnvOpt = None,
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    fmt: TextOrJsonOpt = TextOrJson.text,
    fail_on_deviation: FailOnDeviationOpt = False,
) -> None:
    """Route every real decision again under its policy and report each deviation.

    The policy is the bundle live in the record's environment at its time (--registry), or
    one policy for all records (--policy). Deviations: another deployment, a residency
    breach, a cost over the route's cap, a refusal or escalation made or missed, a bundle
    digest that was not live. Records lacking what routing needs are counted as not
    checkable, by reason (docs/evidence.md, "Conformance").

    Exit codes: 0 checked, 6 a deviation with --fail-on-deviation, 3 bad input, 2 usage.
    """
    from nexusctl.evidence.conformance import (
        check_conformance,
        policy_selection,
        require_conformance,
    )
    from nexusctl.evidence.report import ReportFilter

    policies = policy_selection(registry, policy, default_env)
    if policies is None:
        raise UsageError("give a policy source: --registry PATH or --policy FILE")
    where, params = ReportFilter(tenant=tenant, environment=env).where()
    result = check_conformance(
        cast("Path", store_root(store)), policies, where.removeprefix("WHERE "), params
    )
    if fmt == "json":
        write_stdout(json.dumps(result.model_dump(mode="json"), indent=2, sort_keys=True))
    else:
        from nexusctl.evidence.report_render import conformance_text

        write_stdout(conformance_text(result))
    if fail_on_deviation:
        require_conformance(result)
