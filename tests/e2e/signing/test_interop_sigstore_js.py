"""sigstore-js (@sigstore/verify, pinned in tests/node) verifies our bundles offline."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.conftest import POLICIES
from tests.e2e.fake_sigstore import ISSUER, make_token
from tests.e2e.signing.bundles import signed_bundle

pytestmark = pytest.mark.e2e
WHO = "release-bot@nexus.test"
SIGNATURES = ["signature.sigstore.json", "attestations/provenance.sigstore.json"]


def nexusctl(*args: str) -> None:
    result = CliRunner().invoke(app, list(args), prog_name="nexusctl")
    assert result.exit_code == 0, result.stderr


def sigstore_js(node_tools: Path, bundle_file: Path, *args: str) -> tuple[int, str]:
    proc = subprocess.run(
        ["node", str(node_tools / "verify_sigstore.js"), str(bundle_file), *args],
        cwd=node_tools,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout.strip() + proc.stderr.strip()


def tamper_payload(path: Path) -> None:
    doc = json.loads(path.read_text())
    payload = bytearray(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    payload[-5] ^= 0x01
    doc["dsseEnvelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    path.write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def key_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("js-key")
    nexusctl("key", "generate", "--out", str(root / "other.pem"))
    return signed_bundle(root)


@pytest.fixture(scope="module")
def keyless_bundle(
    tmp_path_factory: pytest.TempPathFactory, sigstore_files: dict[str, Path]
) -> Path:
    root = tmp_path_factory.mktemp("js-keyless")
    tc = str(sigstore_files["trust_config"])
    nexusctl("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(root / "b"))
    nexusctl(
        "policy",
        "sign",
        str(root / "b"),
        "--keyless",
        "--trust-config",
        tc,
        "--identity-token",
        make_token(WHO),
    )
    nexusctl(
        "policy",
        "attest",
        str(root / "b"),
        "--provenance",
        "--no-source",
        "--keyless",
        "--trust-config",
        tc,
        "--identity-token",
        make_token(WHO),
    )
    return root / "b"


@pytest.mark.parametrize("name", SIGNATURES)
def test_sigstore_js_accepts_key_bundle(node_tools: Path, key_bundle: Path, name: str) -> None:
    code, out = sigstore_js(
        node_tools, key_bundle / name, "--key", str(key_bundle.parent / "k.pub")
    )
    assert (code, out) == (0, "OK")


def test_sigstore_js_rejects_key_bundle_with_other_key(node_tools: Path, key_bundle: Path) -> None:
    code, out = sigstore_js(
        node_tools,
        key_bundle / "signature.sigstore.json",
        "--key",
        str(key_bundle.parent / "other.pub"),
    )
    assert code == 1
    assert out.startswith("FAIL SIGNATURE_ERROR")


def test_sigstore_js_rejects_tampered_key_bundle(
    node_tools: Path, key_bundle: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "sig.json"
    copy.write_text((key_bundle / "signature.sigstore.json").read_text())
    tamper_payload(copy)
    code, out = sigstore_js(node_tools, copy, "--key", str(key_bundle.parent / "k.pub"))
    assert code == 1
    assert out.startswith("FAIL SIGNATURE_ERROR")


@pytest.mark.parametrize("name", SIGNATURES)
def test_sigstore_js_accepts_keyless_bundle(
    node_tools: Path, keyless_bundle: Path, sigstore_files: dict[str, Path], name: str
) -> None:
    root = str(sigstore_files["trusted_root"])
    code, out = sigstore_js(
        node_tools, keyless_bundle / name, "--root", root, "--san", WHO, "--issuer", ISSUER
    )
    assert (code, out) == (0, "OK")


def test_sigstore_js_rejects_keyless_wrong_identity(
    node_tools: Path, keyless_bundle: Path, sigstore_files: dict[str, Path]
) -> None:
    root = str(sigstore_files["trusted_root"])
    code, out = sigstore_js(
        node_tools,
        keyless_bundle / "signature.sigstore.json",
        "--root",
        root,
        "--san",
        "mallory@nexus.test",
        "--issuer",
        ISSUER,
    )
    assert code == 1
    assert out.startswith("FAIL UNTRUSTED_SIGNER_ERROR")


def test_sigstore_js_rejects_tampered_keyless_bundle(
    node_tools: Path, keyless_bundle: Path, sigstore_files: dict[str, Path], tmp_path: Path
) -> None:
    copy = tmp_path / "sig.json"
    copy.write_text((keyless_bundle / "signature.sigstore.json").read_text())
    tamper_payload(copy)
    root = str(sigstore_files["trusted_root"])
    code, out = sigstore_js(node_tools, copy, "--root", root, "--san", WHO, "--issuer", ISSUER)
    assert code == 1
    assert out.startswith("FAIL")
