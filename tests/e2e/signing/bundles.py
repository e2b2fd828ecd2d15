"""One signed, provenance-attested bundle for the tests that need a real one."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.conftest import POLICIES


def _nexusctl(*args: str) -> None:
    result = CliRunner().invoke(app, list(args), prog_name="nexusctl")
    assert result.exit_code == 0, result.stderr


def signed_bundle(root: Path, name: str = "b", policy: str = "retail-chat.yaml") -> Path:
    """Make ``root/k.pem`` (+ ``k.pub``) and ``root/<name>``: bundled, key-signed, attested."""
    key = root / "k.pem"
    if not key.exists():
        _nexusctl("key", "generate", "--out", str(key))
    bundle = root / name
    _nexusctl("policy", "bundle", str(POLICIES / policy), "-o", str(bundle))
    _nexusctl("policy", "sign", str(bundle), "--key", str(key))
    _nexusctl("policy", "attest", str(bundle), "--provenance", "--no-source", "--key", str(key))
    return bundle
