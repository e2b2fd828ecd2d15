"""OpenSSF model-signing's own CLI verifies the bundles `policy sign` writes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.conftest import POLICIES
from tests.e2e.signing.bundles import signed_bundle
from tests.e2e.signing.pki import certificate_sign_args, make_pki

pytestmark = pytest.mark.e2e
MODEL_SIGNING = Path(sys.executable).parent / "model_signing"


def nexusctl(*args: str) -> None:
    result = CliRunner().invoke(app, list(args), prog_name="nexusctl")
    assert result.exit_code == 0, result.stderr


def model_signing(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MODEL_SIGNING), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def signed(tmp_path: Path) -> Path:
    return signed_bundle(tmp_path, "bundle")


def verify_key(bundle: Path) -> subprocess.CompletedProcess[str]:
    # Run from the bundle's parent: model-signing resolves paths against the CWD.
    return model_signing(
        bundle.parent,
        "verify",
        "key",
        bundle.name,
        "--public_key",
        "k.pub",
        "--signature",
        f"{bundle.name}/signature.sigstore.json",
    )


def test_model_signing_accepts_our_key_signature(signed: Path) -> None:
    proc = verify_key(signed)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verification succeeded" in proc.stdout


def test_model_signing_accepts_from_another_cwd(signed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = model_signing(
        elsewhere,
        "verify",
        "key",
        str(signed),
        "--public_key",
        str(signed.parent / "k.pub"),
        "--signature",
        str(signed / "signature.sigstore.json"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["catalog.yaml", "manifest.json", "retail-chat.yaml"])
def test_model_signing_rejects_altered_file(signed: Path, name: str) -> None:
    path = signed / name
    path.write_bytes(path.read_bytes() + b"\n")
    proc = verify_key(signed)
    assert proc.returncode != 0
    assert "Verification failed" in proc.stdout + proc.stderr


def test_model_signing_rejects_added_file(signed: Path) -> None:
    (signed / "extra.yaml").write_text("x: 1\n")
    proc = verify_key(signed)
    assert proc.returncode != 0


def test_model_signing_rejects_other_key(signed: Path) -> None:
    nexusctl("key", "generate", "--out", str(signed.parent / "other.pem"))
    shutil.copy(signed.parent / "other.pub", signed.parent / "k.pub")
    proc = verify_key(signed)
    assert proc.returncode != 0


def test_model_signing_accepts_our_certificate_signature(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, "release@nebula.example")
    bundle = tmp_path / "bundle"
    nexusctl("policy", "bundle", str(POLICIES / "credit-underwriting.yaml"), "-o", str(bundle))
    nexusctl(*certificate_sign_args(bundle, pki))
    args = ["verify", "certificate", "bundle", "--signature", "bundle/signature.sigstore.json"]
    proc = model_signing(tmp_path, *args, "--certificate_chain", str(pki["root"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (bundle / "catalog.yaml").write_text("changed\n")
    proc = model_signing(tmp_path, *args, "--certificate_chain", str(pki["root"]))
    assert proc.returncode != 0


def test_model_signing_accepts_our_keyless_signature(
    tmp_path: Path, sigstore_files: dict[str, Path]
) -> None:
    from tests.e2e.fake_sigstore import ISSUER, make_token

    who = "release-bot@nexus.test"
    tc = str(sigstore_files["trust_config"])
    bundle = tmp_path / "bundle"
    nexusctl("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(bundle))
    nexusctl(
        "policy",
        "sign",
        str(bundle),
        "--keyless",
        "--trust-config",
        tc,
        "--identity-token",
        make_token(who),
    )
    args = [
        "verify",
        "sigstore",
        "bundle",
        "--signature",
        "bundle/signature.sigstore.json",
        "--trust_config",
        tc,
        "--identity_provider",
        ISSUER,
    ]
    proc = model_signing(tmp_path, *args, "--identity", who)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = model_signing(tmp_path, *args, "--identity", "mallory@nexus.test")
    assert proc.returncode != 0


@pytest.mark.parametrize("name", ["attestations/notes.txt", "attestations/sbom.sigstore.json"])
def test_unsigned_file_under_attestations_rejected_by_both(signed: Path, name: str) -> None:
    """The signed statement asks model-signing to skip only the known attestation files, so an
    extra file planted beside them fails there as it fails in `policy verify`."""
    (signed / name).write_text('{"planted": true}\n')
    proc = verify_key(signed)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Verification failed" in proc.stdout + proc.stderr
    trust = signed.parent / "trust.yaml"
    trust.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: t, version: 1}\n"
        "spec:\n  environments:\n    prod:\n      keys: [{id: k, path: k.pub}]\n"
    )
    result = CliRunner().invoke(
        app, ["policy", "verify", str(signed), "--trust", str(trust), "--format", "json"]
    )
    assert result.exit_code == 5, result.stderr
    reason = json.loads(result.stdout)["reason"]
    assert reason == ("extra-file" if name.endswith(".txt") else "unknown-attestation")
