"""`nexusctl policy init`: scaffold a commented, lint-clean policy against a catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nexusctl.cli._apps import policy_app
from nexusctl.cli._common import handle_errors, plain, stderr_console, stdout_console
from nexusctl.cli._repo_root import RootOpt


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


@policy_app.command("init")
@handle_errors
def init(
    path: Annotated[
        Path, typer.Argument(help="The policy file to create (never overwritten).", dir_okay=False)
    ],
    catalog: Annotated[
        Path,
        typer.Option(
            "--catalog",
            metavar="FILE",
            help="The ModelCatalog the policy draws on (may sit in another folder of the "
            "repository root).",
            dir_okay=False,
        ),
    ],
    tenant: Annotated[str, typer.Option("--tenant", metavar="ID", help="The tenant it serves.")],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="ID",
            help="metadata.name. Default: the file's stem (its folder's name for policy.yaml).",
        ),
    ] = None,
    app: Annotated[
        str | None,
        typer.Option("--app", metavar="ID", help="The app its route matches. Default: --name."),
    ] = None,
    residency_class: Annotated[
        str,
        typer.Option("--residency-class", metavar="ID", help="Name of the residency class."),
    ] = "default",
    owner: Annotated[
        str | None,
        typer.Option("--owner", metavar="TEXT", help="metadata.owner. Default: TENANT-platform."),
    ] = None,
    allow_regions: Annotated[
        str | None,
        typer.Option(
            "--allow-regions",
            metavar="R1,R2",
            help="Only these catalog regions, as a guardrail allow-list (e.g. EU-only: "
            "eu-west,eu-central); also the residency class's regions.",
        ),
    ] = None,
    allow_providers: Annotated[
        str | None,
        typer.Option(
            "--allow-providers", metavar="P1,P2", help="Only these catalog providers (allow-list)."
        ),
    ] = None,
    root: RootOpt = None,
) -> None:
    """Scaffold a commented RoutingPolicy for a new tenant against an existing catalog.

    The policy has one route for the tenant's app (the catalog's smallest two non-frontier
    tiers, a complexity threshold into the larger), a default route on the smallest tier, a
    residency class, an optional allow-list guardrail and an escalation for requests nothing
    may serve. The cost cap and SLO fit every usable deployment at lint's reference request;
    the comments say how to tighten them. The file is linted before it appears, created
    atomically, and an existing file is never overwritten.

    Exit codes: 0 written and lint-clean, 1 written but lint found problems (in the catalog),
    2 bad option (an identifier, a region or provider the catalog lacks), 3 the catalog does
    not load, 4 could not write, 7 the file already exists.
    """
    from nexusctl.clock import SystemClock
    from nexusctl.lint.formats import text_line
    from nexusctl.scaffold import ScaffoldOptions, scaffold_policy

    stem = path.stem.removesuffix(".policy")
    policy_name = name or (path.parent.resolve().name if stem == "policy" else stem)
    options = ScaffoldOptions(
        name=policy_name,
        tenant=tenant,
        app=app or policy_name,
        residency_class=residency_class,
        owner=owner,
        allow_regions=_csv(allow_regions),
        allow_providers=_csv(allow_providers),
    )
    today = SystemClock().now().date()
    written = scaffold_policy(path, catalog, options, today=today, root=root)
    stdout_console().print(f"wrote {plain(path)}", markup=False, highlight=False)
    if written.findings:
        err = stderr_console()
        for item in written.findings:
            err.print(plain(text_line(item)), markup=False, highlight=False)
        raise typer.Exit(1)
