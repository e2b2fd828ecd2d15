"""The wheel builds to identical bytes twice (SOURCE_DATE_EPOCH), under its own name."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.e2e.checkout import copy_checkout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
#: 2026-01-01T00:00:00Z; CI uses the commit's time (`git log -1 --format=%ct`).
EPOCH = "1767225600"


def _build(tmp_path: Path, label: str) -> Path:
    src = copy_checkout(
        tmp_path / f"src-{label}",
        *("nexusctl", "pyproject.toml", "README.md", "MANIFEST.in", "scripts/build_backend.py"),
    )
    out = tmp_path / f"wheel-{label}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-w",
            str(out),
            ".",
        ],
        cwd=src,
        env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    return wheel


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    first = _build(tmp_path, "a")
    second = _build(tmp_path, "b")
    assert first.name == second.name
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    assert hashlib.sha256(second.read_bytes()).hexdigest() == digest


def test_the_distribution_is_not_named_nexusctl_but_installs_the_command(tmp_path: Path) -> None:
    wheel = _build(tmp_path, "c")
    assert wheel.name.startswith("nexusctl_routing-")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
        entry = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "\nName: nexusctl-routing\n" in metadata
    assert "nexusctl = nexusctl.cli.entry:main" in entry
    assert "nexusctl/cli/entry.py" in names
    assert "nexusctl/py.typed" in names
