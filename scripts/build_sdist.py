"""Build the sdist into a folder, as a PEP 517 frontend does, with no tool beyond Python.

    SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)" python scripts/build_sdist.py dist

Reads ``[build-system]`` from ``pyproject.toml`` in the current folder, puts its
``backend-path`` first on ``sys.path`` (PEP 517, "In-tree build backends"), imports the
backend and calls its ``build_sdist`` hook; prints the file name. CI's wheel job and
``tests/e2e/test_sdist_reproducible.py`` both build the sdist this way.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from pathlib import Path


def main(out: str) -> str:
    """Build the sdist of the project in the current folder into ``out``; return its name."""
    with Path("pyproject.toml").open("rb") as handle:
        system = tomllib.load(handle)["build-system"]
    sys.path[:0] = [str(Path(p).resolve()) for p in system.get("backend-path", [])]
    backend = importlib.import_module(system["build-backend"])
    Path(out).mkdir(parents=True, exist_ok=True)
    name: str = backend.build_sdist(out)
    return name


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/build_sdist.py OUT_DIR")
    print(main(sys.argv[1]))
