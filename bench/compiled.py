"""Compile nexusctl's bytecode before a start-up-sensitive bench, as an installed wheel has it.

pip compiles every module of a wheel it installs; an editable install (``make``'s venv) leaves
``nexusctl/`` to be compiled on first import. Where ``PYTHONDONTWRITEBYTECODE`` is set (this
project's shared machines set it), that compilation is never cached, so every process would
compile all ~240 of our modules again (~80-120 ms of each command's start-up) and a bench would
time the compiler rather than the tool. ``compileall`` skips modules whose cache is current.
"""

from __future__ import annotations

import compileall
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nexusctl"


def compile_package() -> str:
    """Bring nexusctl's ``__pycache__`` up to date; return a note for the bench's output."""
    compileall.compile_dir(PACKAGE, quiet=1)
    flag = os.environ.get("PYTHONDONTWRITEBYTECODE")
    setting = flag or "unset"
    return f"bytecode: nexusctl compiled, as installed (PYTHONDONTWRITEBYTECODE={setting})"
