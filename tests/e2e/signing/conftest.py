"""Fixtures for the signing e2e tests: a fake Sigstore on 127.0.0.1 and its trust files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fake_sigstore import FakeSigstore


@pytest.fixture(scope="session")
def fake_sigstore() -> Iterator[FakeSigstore]:
    """A running fake Fulcio + Rekor; shut down after the session."""
    fake = FakeSigstore().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def sigstore_files(
    fake_sigstore: FakeSigstore, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The fake instance's client trust config and trusted root as files."""
    folder = tmp_path_factory.mktemp("fake-sigstore")
    trust_config = folder / "trust_config.json"
    trust_config.write_text(json.dumps(fake_sigstore.client_trust_config()))
    root = folder / "trusted_root.json"
    root.write_text(json.dumps(fake_sigstore.trusted_root()))
    return {"trust_config": trust_config, "trusted_root": root}
