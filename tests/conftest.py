"""Shared fixtures: paths to the repository, the example policies and the shared data."""

from __future__ import annotations

from pathlib import Path

import pytest

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
