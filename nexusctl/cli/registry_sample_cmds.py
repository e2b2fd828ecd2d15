"""`registry sample`: the traffic sample an environment registers (thin adapter)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nexusctl.cli._apps import registry_app
from nexusctl.cli._common import TextOrJson, handle_errors, write_stdout


@registry_app.command("sample")
@handle_errors
def sample(
    env: Annotated[str, typer.Argument(help="Environment.")],
    registry: Annotated[
        Path, typer.Option("--registry", "-r", help="The registry clone (a git work tree).")
    ] = Path("."),
    name: Annotated[
        str | None,
        typer.Option("--name", help="The sample's name (default: the first kept in the registry)."),
    ] = None,
    output_format: Annotated[
        TextOrJson, typer.Option("--format", help="text or json.")
    ] = TextOrJson.text,
) -> None:
    """Print the path of ENV's registered traffic sample kept in the registry, its SHA-256
    checked against the config (exit 5 if the file is not the registered one)."""
    from nexusctl.registry.samples import registered_sample

    kept = registered_sample(registry, env, name)
    if output_format == "json":
        write_stdout(json.dumps(kept.to_json(), indent=2))
        return
    write_stdout(f"{kept.path} {kept.sha256}")
