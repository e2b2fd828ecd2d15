"""`registry resolve`: what a gateway runs — a TUF client of the registry (thin adapter)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nexusctl.cli._apps import registry_app
from nexusctl.cli._common import TextOrJson, handle_errors, write_stdout
from nexusctl.cli.registry_cmds import FormatOpt


@registry_app.command("resolve")
@handle_errors
def resolve(
    env: Annotated[str, typer.Argument(help="Environment.")],
    name: Annotated[str, typer.Argument(help="Policy name.")],
    source: Annotated[
        str, typer.Option("--from", help="Registry folder or HTTP base URL serving it.")
    ] = ".",
    state: Annotated[
        Path, typer.Option("--state", help="The client's trusted-metadata and cache folder.")
    ] = Path(".nexusctl-tuf"),
    root: Annotated[
        Path | None, typer.Option("--root", help="Trusted 1.root.json for the first run.")
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            help="Longest wait, seconds, for a registry command holding the clone's lock.",
        ),
    ] = 30.0,
    output_format: FormatOpt = TextOrJson.text,
) -> None:
    """Fetch the live bundle with a TUF client; print its verified path and digest.

    From a registry clone it reads only between events: it waits for a registry command in
    progress there (exit 7 after --wait) and refuses a clone where one was interrupted
    (exit 5, uncommitted-event; the next registry command there undoes it).
    """
    from nexusctl.errors import VerificationError
    from nexusctl.registry.resolve import resolve as run

    try:
        resolved = run(source, env, name, state, root=root, wait_seconds=wait)
    except VerificationError as exc:
        if output_format == "json":
            write_stdout(json.dumps({"ok": False, "reason": exc.reason, "message": str(exc)}))
        raise
    if output_format == "json":
        write_stdout(json.dumps(resolved.to_json(), indent=2))
        return
    write_stdout(f"{resolved.path} {resolved.digest}")
