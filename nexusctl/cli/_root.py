"""The root command: its options, and the one command that lives at the root (`simulate`)."""

from __future__ import annotations

import typer

from nexusctl import __version__
from nexusctl.cli import simulate_cmds  # noqa: F401  (registers `simulate` on the root)
from nexusctl.cli._apps import app
from nexusctl.cli._common import set_debug
from nexusctl.cli._help import install as install_help
from nexusctl.cli._signing import install_passphrase_source

install_help()

__all__ = ["app", "root"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nexusctl {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Govern LLM routing policies: lint, simulate, sign, promote; verify the evidence.

    Exit codes: 0 ok, 1 lint findings, 2 usage, 3 invalid input, 4 could not run,
    5 verification failed, 6 gate failed, 7 conflict (the registry remote moved),
    70 internal error.
    """
    set_debug(debug)
    install_passphrase_source()
