"""The root command and its options.

The one command that lives at the root, ``simulate``, registers when ``simulate_cmds`` is
imported: by the full application (``app.py``), and by the lazy entry point for the root's own
help and for ``nexusctl simulate`` (``entry.py``), so that no other group's start-up pays for
the simulate command's options.
"""

from __future__ import annotations

import importlib.machinery
import sys
from typing import Any

import typer

from nexusctl import __version__
from nexusctl.cli._apps import app
from nexusctl.cli._common import set_debug
from nexusctl.cli._help import install as install_help
from nexusctl.cli._signing import install_passphrase_source


class _InstallHelpOnLoad:
    """Adapt typer's help renderer when typer first imports it, not at start-up.

    ``typer.rich_utils`` pulls in rich's markdown, syntax and traceback modules (about a
    quarter of ``policy lint``'s start-up); typer imports it only to render help or an error.
    """

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "typer.rich_utils":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            load(module)
            sys.modules[name] = module
            install_help()

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if "typer.rich_utils" in sys.modules:
    install_help()
else:
    sys.meta_path.insert(0, _InstallHelpOnLoad())

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
