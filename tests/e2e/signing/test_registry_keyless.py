"""Keyless registry approvals and releasers: sigstore-python's real code against the fake
Fulcio + Rekor.

The approval's identity is judged offline against the config's keyless identity and the
trusted root the config pins; an identity the config does not name is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.clock import FixedClock
from nexusctl.errors import UsageError, VerificationError
from nexusctl.registry import ops
from nexusctl.registry.resolve import resolve
from nexusctl.registry.verify import verify_registry
from nexusctl.signing import KeylessSigner
from nexusctl.signing.keys import generate_key_pair
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


@pytest.fixture
def keyless_releaser(
    tmp_path: Path, sigstore_files: dict[str, Path]
) -> tuple[Path, dict[str, Path], FixedClock]:
    """Releasers: ci (a key) and release-bot (keyless); tufKeys: [tuf], an online metadata key."""
    keys = make_keys(tmp_path)
    generate_key_pair(tmp_path / "tuf.pem")
    keys["tuf"] = tmp_path / "tuf.pem"
    write_setup(tmp_path, soak=0)
    root = tmp_path / "sigstore-root.json"
    shutil.copy(sigstore_files["trusted_root"], root)
    pin = hashlib.sha256(root.read_bytes()).hexdigest()
    tuf_pem = textwrap.indent((tmp_path / "tuf.pub").read_text(), "        ")
    extra = (
        f"    - id: tuf\n      pem: |\n{tuf_pem}"
        f"  identities:\n    - {{id: release-bot, san: '{WHO}', issuer: '{ISSUER}'}}\n"
        f"  trustedRoot: sigstore-root.json\n  trustedRootSha256: {pin}\n"
        "  tufKeys: [tuf]\n"
    )
    text = config_yaml(tmp_path, soak=0, releasers=("ci", "release-bot"))
    (tmp_path / "registry.yaml").write_text(text.replace("  admins:", extra + "  admins:", 1))
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5))
    reg = tmp_path / "reg"
    ops.init_registry(
        reg, tmp_path / "registry.yaml", tmp_path / "trust.yaml", [keys["admin"]], clock
    )
    return reg, keys, clock


def test_a_keyless_releaser_publishes_promotes_and_rolls_back(
    keyless_releaser: tuple[Path, dict[str, Path], FixedClock],
    sigstore_files: dict[str, Path],
    tmp_path: Path,
) -> None:
    """Records signed through the fake Fulcio + Rekor; TUF metadata with the `tufKeys` key."""
    reg, keys, clock = keyless_releaser
    bot = KeylessSigner(sigstore_files["trust_config"].read_text(), make_token(WHO))
    published = ops.publish(reg, signed_bundle(tmp_path, 3, keys["ci"]), bot, clock)
    assert published.predicate.actor == "release-bot"
    with pytest.raises(UsageError, match="--tuf-key"):  # a keyless identity holds no TUF key
        ops.promote(reg, "retail-chat", 3, "dev", bot, clock)
    with pytest.raises(VerificationError) as info:  # alice's key is not in tufKeys
        ops.promote(reg, "retail-chat", 3, "dev", bot, clock, tuf_key=keys["alice"])
    assert info.value.reason == "untrusted-signer"
    promoted = ops.promote(reg, "retail-chat", 3, "dev", bot, clock, tuf_key=keys["tuf"])
    assert promoted.predicate.actor == "release-bot"
    gateway = tmp_path / "gateway"
    assert resolve(str(reg), "dev", "retail-chat", gateway).version == 3
    ops.publish(reg, signed_bundle(tmp_path, 4, keys["ci"]), keys["ci"], clock)
    ops.promote(reg, "retail-chat", 4, "dev", keys["ci"], clock)
    assert resolve(str(reg), "dev", "retail-chat", gateway).version == 4
    clock.advance(dt.timedelta(minutes=1))
    back = ops.rollback(reg, "retail-chat", "dev", 3, "spend spike", bot, clock, keys["tuf"])
    assert (back.predicate.event, back.predicate.actor) == ("rollback", "release-bot")
    assert resolve(str(reg), "dev", "retail-chat", gateway).version == 3
    summary = verify_registry(reg)
    assert summary["ok"] is True
    assert summary["live"]["dev"]["retail-chat"]["version"] == 3


def test_keyless_promote_from_the_cli_and_an_unnamed_identity_refused(
    keyless_releaser: tuple[Path, dict[str, Path], FixedClock],
    sigstore_files: dict[str, Path],
    tmp_path: Path,
) -> None:
    reg, keys, clock = keyless_releaser
    ops.publish(reg, signed_bundle(tmp_path, 3, keys["ci"]), keys["ci"], clock)
    base = ["registry", "promote", "retail-chat@3", "--to", "dev", "-r", str(reg), "--keyless"]
    base += ["--trust-config", str(sigstore_files["trust_config"]), "--tuf-key", str(keys["tuf"])]
    runner = CliRunner()
    head = subprocess.run(
        ["git", "-C", str(reg), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout
    outsider = runner.invoke(
        app, [*base, "--identity-token", make_token("mallory@nexus.test")], prog_name="nexusctl"
    )
    assert outsider.exit_code == 5, outsider.stdout
    assert "mallory@nexus.test" in outsider.stderr
    after = subprocess.run(
        ["git", "-C", str(reg), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout
    assert after == head  # nothing was written for the refused identity
    result = runner.invoke(
        app, [*base, "--identity-token", make_token(WHO), "--format", "json"], prog_name="nexusctl"
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["predicate"]["actor"] == "release-bot"
    assert verify_registry(reg)["ok"] is True
