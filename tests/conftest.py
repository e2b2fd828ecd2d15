"""Shared fixtures: paths to the repository, the example policies and the shared data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles (issue 14). Locally every run explores new cases (and keeps what it finds
# in .hypothesis/); under CI=true the run is derandomized, so the same commit gives the same
# result every time. A case exploration finds becomes an explicit @example in its test.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "policies" / "nebula"
ASSETS = Path(__file__).resolve().parent / "assets"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def policies_dir() -> Path:
    return POLICIES


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data folder missing at {SHARED_DATA}; CI places it beside the repo")
    return SHARED_DATA


NODE_DIR = Path(__file__).resolve().parent / "node"


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """Install the pinned third-party verifiers (tests/node/package-lock.json) once; return the dir.

    The verifiers are the point of the interop tests, so a missing node/npm fails, never skips.
    """
    import os
    import shutil
    import stat
    import subprocess

    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.fail("node and npm are required for the interop tests (see README)")
    modules = NODE_DIR / "node_modules"
    if not (modules / ".package-lock.json").is_file():
        proc = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(f"npm ci failed in {NODE_DIR}:\n{proc.stderr[-2000:]}")
    multitool = modules / "@microsoft" / "sarif-multitool-linux" / "Sarif.Multitool"
    if multitool.exists():
        os.chmod(multitool, multitool.stat().st_mode | stat.S_IXUSR)
    return NODE_DIR
