"""`nexusctl schema export|docs`: JSON Schemas and the policy reference, generated from models.

Only typer and the shared CLI helpers are imported at module level; the models (pydantic)
load inside the commands so `nexusctl --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nexusctl.cli._apps import schema_app
from nexusctl.cli._common import handle_errors, stderr_console, write_stdout
from nexusctl.errors import EnvironmentError_, ExitCode

EXPORT_HELP = (
    "Write JSON Schema (draft 2020-12) for every exported model, byte-stable.\n\n"
    "One file per model (RoutingPolicy.json, ModelCatalog.json, ...), sorted keys, 2-space "
    "indent. Example policies point editors at them with a '# yaml-language-server: "
    "$schema=...' line.\n\n"
    "Exit codes: 0 written or in sync, 1 drift found (--check), 4 cannot write."
)
DOCS_HELP = (
    "Generate the policy reference (Markdown) from the models' fields and descriptions.\n\n"
    "Exit codes: 0 written or in sync, 1 drift found (--check), 4 cannot write."
)


@schema_app.command("export", help=EXPORT_HELP)
@handle_errors
def export(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder for the <Name>.json files.", file_okay=False),
    ] = Path("schemas"),
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 and list the files that differ from the models."
        ),
    ] = False,
) -> None:
    """Write (or --check) the JSON Schema of every exported model."""
    from nexusctl.schema import find_drift, generate_schemas, write_files

    generated = generate_schemas()
    drifts = find_drift(out, generated)
    if check:
        _report_drift(
            [f"{out / d.file}: {d.state}" for d in drifts],
            f"{out}: {len(generated)} schema(s) in sync with the models",
            "nexusctl schema export",
        )
        return
    written = write_files(out, generated)
    for name in written:
        write_stdout(f"wrote {out / name}")
    if not written:
        write_stdout(f"{out}: {len(generated)} schema(s) already up to date")
    for drift in drifts:
        if drift.state == "stale":
            stderr_console().print(
                f"note: {out / drift.file} is not generated from any model; remove it",
                markup=False,
                highlight=False,
            )


@schema_app.command("docs", help=DOCS_HELP)
@handle_errors
def docs(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The Markdown file to write.", dir_okay=False)
    ] = Path("docs/policy-reference.md"),
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if the file differs from the models."),
    ] = False,
) -> None:
    """Write (or --check) the policy reference generated from the models."""
    from nexusctl.schema import render_reference, write_atomic

    data = render_reference().encode()
    current = out.read_bytes() if out.is_file() else None
    if check:
        state = "missing" if current is None else "changed"
        _report_drift(
            [] if current == data else [f"{out}: {state}"],
            f"{out}: in sync with the models",
            "nexusctl schema docs",
        )
        return
    if current == data:
        write_stdout(f"{out}: already up to date")
        return
    try:
        write_atomic(out, data)
    except OSError as exc:
        raise EnvironmentError_(f"cannot write {out}: {exc.strerror or exc}") from None
    write_stdout(f"wrote {out}")


def _report_drift(lines: list[str], in_sync: str, fix: str) -> None:
    if not lines:
        write_stdout(in_sync)
        return
    write_stdout("\n".join(lines))
    stderr_console().print(
        f"{len(lines)} file(s) drifted from the models; run `{fix}` and commit the result",
        markup=False,
        highlight=False,
    )
    raise typer.Exit(int(ExitCode.FINDINGS))
