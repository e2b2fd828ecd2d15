"""The console-script entry point: load only the command modules an invocation needs.

The root's own help and version need no command module: every group's help text is static
(``_apps.py``) and the one root-level command, ``simulate``, is loaded with the root. So
``nexusctl``, ``nexusctl --help`` and ``nexusctl --version`` skip importing the other command
modules (about 15 ms of typer option building); everything else, shell completion included,
loads the full application. A test checks that both paths print the same root help.
"""

from __future__ import annotations

import os
import sys

#: Invocations answered by the root alone.
ROOT_ONLY: tuple[list[str], ...] = ([], ["--help"], ["-h"], ["--version"])


def main(argv: list[str] | None = None) -> None:
    """Run nexusctl (console-script entry point)."""
    args = sys.argv[1:] if argv is None else argv
    if args in ROOT_ONLY and "_NEXUSCTL_COMPLETE" not in os.environ:
        from nexusctl.cli._root import app
    else:
        from nexusctl.cli.app import app
    app(args=args, prog_name="nexusctl")
