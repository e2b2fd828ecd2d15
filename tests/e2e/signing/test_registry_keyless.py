"""Keyless registry approvals: sigstore-python's real code against the fake Fulcio + Rekor.

The approval's identity is judged offline against the config's keyless identity and the
trusted root the config pins; an identity the config does not name is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.clock import FixedClock
from nexusctl.errors import VerificationError
from nexusctl.registry import ops
from nexusctl.registry.verify import verify_registry
from nexusctl.signing import KeylessSigner
from tests.e2e.fake_sigstore import ISSUER, make_token
from tests.registry_kit import config_yaml, make_keys, signed_bundle, write_setup

pytestmark = pytest.mark.e2e
WHO = "release-bot@nexus.test"


@pytest.fixture
def registry(
    tmp_path: Path, sigstore_files: dict[str, Path]
) -> tuple[Path, dict[str, Path], FixedClock]:
    keys = make_keys(tmp_path)
    write_setup(tmp_path, soak=0)
    root = tmp_path / "sigstore-root.json"
    shutil.copy(sigstore_files["trusted_root"], root)
    pin = hashlib.sha256(root.read_bytes()).hexdigest()
    identities = (
        f"  identities:\n    - {{id: release-bot, san: '{WHO}', issuer: '{ISSUER}'}}\n"
        f"  trustedRoot: sigstore-root.json\n  trustedRootSha256: {pin}\n"
    )
    text = config_yaml(tmp_path, soak=0).replace("  admins:", identities + "  admins:", 1)
    text = text.replace(
        "approvers: {keys: [alice, bob], threshold: 1}",
        "approvers: {keys: [release-bot], threshold: 1}",
    )
    (tmp_path / "registry.yaml").write_text(text)
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5))
    reg = tmp_path / "reg"
    ops.init_registry(
        reg, tmp_path / "registry.yaml", tmp_path / "trust.yaml", [keys["admin"]], clock
    )
    ops.publish(reg, signed_bundle(tmp_path, 3, keys["ci"]), keys["ci"], clock)
    ops.promote(reg, "retail-chat", 3, "dev", keys["ci"], clock)
    return reg, keys, clock


def test_keyless_approval_by_a_named_identity_counts(
    registry: tuple[Path, dict[str, Path], FixedClock], sigstore_files: dict[str, Path]
) -> None:
    reg, keys, clock = registry
    signer = KeylessSigner(sigstore_files["trust_config"].read_text(), make_token(WHO))
    approved = ops.approve(reg, "retail-chat", 3, "staging", signer, clock)
    assert approved.predicate.actor == "release-bot"
    ops.promote(reg, "retail-chat", 3, "staging", keys["ci"], clock)
    assert verify_registry(reg)["ok"] is True


def test_keyless_approval_by_another_identity_is_refused(
    registry: tuple[Path, dict[str, Path], FixedClock], sigstore_files: dict[str, Path]
) -> None:
    reg, _, _ = registry
    args = ["registry", "approve", "retail-chat@3", "--env", "staging", "-r", str(reg)]
    args += ["--keyless", "--trust-config", str(sigstore_files["trust_config"])]
    args += ["--identity-token", make_token("mallory@nexus.test")]
    result = CliRunner().invoke(app, args, prog_name="nexusctl")
    assert result.exit_code == 5, result.stdout
    assert "mallory@nexus.test" in result.stderr


def test_swapped_trusted_root_is_refused(
    registry: tuple[Path, dict[str, Path], FixedClock], sigstore_files: dict[str, Path]
) -> None:
    reg, _, clock = registry
    (reg / "sigstore-root.json").write_text("{}")  # committed, as someone with push access
    git = ["git", "-C", str(reg), "-c", "user.name=M", "-c", "user.email=m@x.invalid"]
    subprocess.run([*git, "commit", "--quiet", "--all", "-m", "swap the root"], check=True)
    signer = KeylessSigner(sigstore_files["trust_config"].read_text(), make_token(WHO))
    with pytest.raises(VerificationError) as info:
        ops.approve(reg, "retail-chat", 3, "staging", signer, clock)
    assert info.value.reason == "config-mismatch"
