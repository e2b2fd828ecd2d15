"""The ``--root DIR`` option shared by every command that loads a policy from its file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ROOT_HELP = (
    "Repository root: references (catalog, price table) may cross folders inside it, never "
    "leave it. Default: the nearest folder above the policy holding a .nexusctl-root file, "
    "else the policy's own folder."
)

#: ``--root DIR``; None finds the root from the policy (``nexusctl.document.find_root``).
RootOpt = Annotated[
    Path | None,
    typer.Option("--root", metavar="DIR", help=ROOT_HELP, file_okay=False),
]
