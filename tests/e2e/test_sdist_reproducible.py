"""The sdist builds to identical bytes twice (SOURCE_DATE_EPOCH), and a wheel builds from it.

The build runs ``scripts/build_sdist.py`` (what CI runs: the project's PEP 517 backend called
as a frontend calls it), from two copies of the source made at different times and
with different file modes, as two machines with different umasks would have.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.e2e.checkout import copy_checkout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: 2026-01-01T00:00:00Z; CI uses the commit's time (`git log -1 --format=%ct`).
EPOCH = "1767225600"
SOURCES = ("nexusctl", "pyproject.toml", "README.md", "MANIFEST.in", "scripts/build_backend.py")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_sdist.py"


def _sdist(tmp_path: Path, label: str, mode: int) -> Path:
    src = copy_checkout(tmp_path / f"src-{label}", *SOURCES)
    os.chmod(src / "README.md", mode)
    out = tmp_path / f"sdist-{label}"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)],
        cwd=src,
        env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / proc.stdout.strip().splitlines()[-1]


def test_two_sdists_are_byte_identical_and_normalised(tmp_path: Path) -> None:
    first = _sdist(tmp_path, "a", 0o644)
    second = _sdist(tmp_path, "b", 0o600)
    assert first.name == second.name == "nexusctl-routing-0.1.0.tar.gz"
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    assert hashlib.sha256(second.read_bytes()).hexdigest() == digest
    # gzip header (RFC 1952): no FNAME flag, MTIME = the epoch.
    header = first.read_bytes()[:10]
    assert header[3] & 0x08 == 0
    assert int.from_bytes(header[4:8], "little") == int(EPOCH)
    with tarfile.open(first) as archive:
        members = archive.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert {m.mtime for m in members} == {int(EPOCH)}
    assert {m.mode for m in members if m.isfile()} == {0o644}
    # The backend ships in the sdist, or no wheel could be built from it.
    assert "nexusctl-routing-0.1.0/scripts/build_backend.py" in names


def test_a_wheel_builds_from_the_sdist_and_installs_the_command(tmp_path: Path) -> None:
    sdist = _sdist(tmp_path, "c", 0o644)
    out = tmp_path / "wheel"
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
            str(sdist),
        ],
        env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    assert wheel.name == "nexusctl_routing-0.1.0-py3-none-any.whl"
