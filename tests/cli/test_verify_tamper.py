"""`policy verify` on tampered bundles: every attack fails with its own reason and exit 5."""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.conftest import ASSETS, POLICIES

SIGNING_ASSETS = ASSETS / "signing"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


def ok(*args: str) -> str:
    code, out, err = run(*args)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A signed + attested retail-chat bundle, another signed bundle, two keys, trust files."""
    root = tmp_path_factory.mktemp("signed")
    ok("key", "generate", "--out", str(root / "release.pem"))
    ok("key", "generate", "--out", str(root / "intruder.pem"))
    for name in ("retail-chat", "credit-underwriting"):
        bundle = root / name
        ok("policy", "bundle", str(POLICIES / f"{name}.yaml"), "-o", str(bundle))
        ok("policy", "sign", str(bundle), "--key", str(root / "release.pem"))
        ok(
            "policy",
            "attest",
            str(bundle),
            "--provenance",
            "--no-source",
            "--key",
            str(root / "release.pem"),
        )
    trust = root / "trust.yaml"
    trust.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: t, version: 1}\n"
        "spec:\n  defaultEnvironment: staging\n  environments:\n"
        "    staging:\n      keys: [{id: release, path: release.pub}]\n"
        "      requiredAttestations: [provenance]\n"
        "    prod:\n      keys: [{id: intruder-only, path: intruder.pub}]\n"
    )
    return {"root": root, "trust": trust}


@pytest.fixture
def bundle(signed: dict[str, Path], tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(signed["root"] / "retail-chat", target, symlinks=True)
    return target


def verify_reason(bundle: Path, trust: Path, *extra: str) -> str:
    code, out, err = run(
        "policy", "verify", str(bundle), "--trust", str(trust), "--format", "json", *extra
    )
    assert code == 5, (out, err)
    doc = json.loads(out)
    assert doc["ok"] is False
    assert doc["reason"] in err
    return str(doc["reason"])


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_untampered_bundle_verifies(bundle: Path, signed: dict[str, Path]) -> None:
    out = ok("policy", "verify", str(bundle), "--trust", str(signed["trust"]))
    assert re.match(r"OK retail-chat-v\d+ sha256:[0-9a-f]{64}\n", out)
    assert "signed by key:release" in out
    assert "attestation provenance: signed by key:release" in out


def test_json_report(bundle: Path, signed: dict[str, Path]) -> None:
    doc = json.loads(
        ok("policy", "verify", str(bundle), "--trust", str(signed["trust"]), "--format", "json")
    )
    manifest = (bundle / "manifest.json").read_bytes()
    import hashlib

    assert doc["digest"] == "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert doc["environment"] == "staging"
    assert doc["attestations"] == [{"kind": "provenance", "signer": "key:release"}]


@pytest.mark.parametrize(
    "name", ["retail-chat.yaml", "catalog.yaml", "prices/litellm_model_prices_2026-07-24.json"]
)
def test_byte_flipped_in_content_file(bundle: Path, signed: dict[str, Path], name: str) -> None:
    flip(bundle / name, (bundle / name).stat().st_size // 2)
    assert verify_reason(bundle, signed["trust"]) == "digest-mismatch"


def test_byte_flipped_in_manifest(bundle: Path, signed: dict[str, Path]) -> None:
    manifest = bundle / "manifest.json"
    text = manifest.read_text()
    digest = json.loads(text)["files"][0]["sha256"]
    # Change one hex digit of a listed digest: still canonical JSON, no longer the file's hash.
    changed = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    manifest.write_text(text.replace(digest, changed))
    assert verify_reason(bundle, signed["trust"]) == "digest-mismatch"


def test_manifest_byte_breaking_json(bundle: Path, signed: dict[str, Path]) -> None:
    flip(bundle / "manifest.json", 0)
    assert verify_reason(bundle, signed["trust"]) == "malformed-manifest"


@pytest.mark.parametrize(
    "name", ["signature.sigstore.json", "attestations/provenance.sigstore.json"]
)
def test_byte_flipped_in_signature(bundle: Path, signed: dict[str, Path], name: str) -> None:
    doc = json.loads((bundle / name).read_text())
    sig = bytearray(base64.b64decode(doc["dsseEnvelope"]["signatures"][0]["sig"]))
    sig[len(sig) // 2] ^= 0x01
    doc["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    (bundle / name).write_text(json.dumps(doc))
    assert verify_reason(bundle, signed["trust"]) == "bad-signature"


def test_byte_flipped_in_signed_payload(bundle: Path, signed: dict[str, Path]) -> None:
    path = bundle / "signature.sigstore.json"
    doc = json.loads(path.read_text())
    payload = bytearray(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    payload[-3] ^= 0x01
    doc["dsseEnvelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    path.write_text(json.dumps(doc))
    assert verify_reason(bundle, signed["trust"]) == "bad-signature"


def test_added_file(bundle: Path, signed: dict[str, Path]) -> None:
    (bundle / "notes.txt").write_text("not in the manifest\n")
    assert verify_reason(bundle, signed["trust"]) == "extra-file"


def test_added_file_in_attestations(bundle: Path, signed: dict[str, Path]) -> None:
    (bundle / "attestations" / "README").write_text("x\n")
    assert verify_reason(bundle, signed["trust"]) == "extra-file"


def test_removed_file(bundle: Path, signed: dict[str, Path]) -> None:
    (bundle / "catalog.yaml").unlink()
    assert verify_reason(bundle, signed["trust"]) == "missing-file"


def test_renamed_file(bundle: Path, signed: dict[str, Path]) -> None:
    (bundle / "catalog.yaml").rename(bundle / "catalog2.yaml")
    assert verify_reason(bundle, signed["trust"]) == "missing-file"


def test_manifest_edited_to_match_changed_file(bundle: Path, signed: dict[str, Path]) -> None:
    import hashlib

    from nexusctl.bundle import BundleManifest

    policy = bundle / "retail-chat.yaml"
    policy.write_bytes(policy.read_bytes() + b"# an unreviewed change\n")
    data = policy.read_bytes()
    manifest = BundleManifest.model_validate_json((bundle / "manifest.json").read_bytes())
    files = [
        f.model_copy(update={"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
        if f.path == "retail-chat.yaml"
        else f
        for f in manifest.files
    ]
    (bundle / "manifest.json").write_bytes(manifest.model_copy(update={"files": files}).to_bytes())
    assert verify_reason(bundle, signed["trust"]) == "manifest-not-signed"


def test_signature_from_another_bundle(bundle: Path, signed: dict[str, Path]) -> None:
    other = signed["root"] / "credit-underwriting" / "signature.sigstore.json"
    shutil.copy(other, bundle / "signature.sigstore.json")
    assert verify_reason(bundle, signed["trust"]) == "subject-mismatch"


def test_key_not_allowed_for_environment(bundle: Path, signed: dict[str, Path]) -> None:
    assert verify_reason(bundle, signed["trust"], "--env", "prod") == "untrusted-signer"


def test_provenance_for_another_digest(bundle: Path, signed: dict[str, Path]) -> None:
    other = signed["root"] / "credit-underwriting" / "attestations" / "provenance.sigstore.json"
    shutil.copy(other, bundle / "attestations" / "provenance.sigstore.json")
    assert verify_reason(bundle, signed["trust"]) == "attestation-subject-mismatch"


def test_required_attestation_missing(bundle: Path, signed: dict[str, Path]) -> None:
    shutil.rmtree(bundle / "attestations")
    assert verify_reason(bundle, signed["trust"]) == "attestation-missing"


def test_unsigned_bundle(bundle: Path, signed: dict[str, Path]) -> None:
    (bundle / "signature.sigstore.json").unlink()
    assert verify_reason(bundle, signed["trust"]) == "signature-missing"


@pytest.mark.parametrize(
    "asset",
    [
        "truncated.sigstore.json",
        "not-json.sigstore.json",
        "wrong-media-type.sigstore.json",
        "two-signatures.sigstore.json",
    ],
)
def test_malformed_signature_file(bundle: Path, signed: dict[str, Path], asset: str) -> None:
    shutil.copy(SIGNING_ASSETS / asset, bundle / "signature.sigstore.json")
    assert verify_reason(bundle, signed["trust"]) == "malformed-signature"


def test_truncated_real_signature(bundle: Path, signed: dict[str, Path]) -> None:
    path = bundle / "signature.sigstore.json"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert verify_reason(bundle, signed["trust"]) == "malformed-signature"


def test_symlink_entry(bundle: Path, signed: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "elsewhere.yaml").write_text("x: 1\n")
    (bundle / "catalog.yaml").unlink()
    (bundle / "catalog.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    assert verify_reason(bundle, signed["trust"]) == "symlink"


def test_symlinked_directory_entry(bundle: Path, signed: dict[str, Path], tmp_path: Path) -> None:
    (bundle / "linked").symlink_to(tmp_path)
    assert verify_reason(bundle, signed["trust"]) == "symlink"


def test_dotdot_entry_in_manifest(bundle: Path, signed: dict[str, Path]) -> None:
    path = bundle / "manifest.json"
    doc = json.loads(path.read_text())
    doc["files"][0]["path"] = "../catalog.yaml"
    path.write_text(json.dumps(doc))
    assert verify_reason(bundle, signed["trust"]) == "unsafe-path"


def test_absolute_entry_in_manifest(bundle: Path, signed: dict[str, Path]) -> None:
    path = bundle / "manifest.json"
    doc = json.loads(path.read_text())
    doc["files"][0]["path"] = "/etc/passwd"
    path.write_text(json.dumps(doc))
    assert verify_reason(bundle, signed["trust"]) == "unsafe-path"


@pytest.mark.parametrize(
    "asset",
    [
        "trust-no-signer.yaml",
        "trust-unknown-field.yaml",
        "trust-keyless-without-root.yaml",
        "trust-bad-inline-key.yaml",
        "trust-duplicate-key.yaml",
    ],
)
def test_malformed_trust_policy_is_invalid_input(bundle: Path, asset: str) -> None:
    code, out, err = run("policy", "verify", str(bundle), "--trust", str(SIGNING_ASSETS / asset))
    assert code == 3, err
    assert out == ""
    assert "error:" in err


def test_unknown_environment_is_usage_error(bundle: Path, signed: dict[str, Path]) -> None:
    code, _, err = run(
        "policy", "verify", str(bundle), "--trust", str(signed["trust"]), "--env", "qa"
    )
    assert code == 2
    assert "'qa' is not in the trust policy" in err


def test_verify_opens_no_network_connection(
    bundle: Path, signed: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError("verify tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    ok("policy", "verify", str(bundle), "--trust", str(signed["trust"]))
    assert attempts == []
    # The guard itself works: a connection attempt is caught.
    with pytest.raises(AssertionError):
        socket.create_connection(("127.0.0.1", 9))
