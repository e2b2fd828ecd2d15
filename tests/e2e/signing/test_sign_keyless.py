"""Keyless signing end to end: sigstore-python's real code against the fake Fulcio + Rekor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.conftest import POLICIES
from tests.e2e.fake_sigstore import ISSUER, FakeSigstore, make_token

pytestmark = pytest.mark.e2e
WHO = "release-bot@nexus.test"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), prog_name="nexusctl", env=env)
    return result.exit_code, result.stdout, result.stderr


def trust_file(folder: Path, root: Path, san: str = WHO, issuer: str = ISSUER) -> Path:
    trust = folder / "trust.yaml"
    # Trust-policy files must sit in the trust policy's folder: copy the root beside it.
    shutil.copy(root, folder / "trusted_root.json")
    trust.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: keyless, version: 1}\n"
        "spec:\n  environments:\n    prod:\n"
        f"      identities: [{{san: '{san}', issuer: '{issuer}'}}]\n"
        "      trustedRoot: trusted_root.json\n      requiredAttestations: [provenance]\n"
    )
    return trust


@pytest.fixture
def keyless_bundle(tmp_path: Path, sigstore_files: dict[str, Path]) -> Path:
    bundle = tmp_path / "bundle"
    assert run("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(bundle))[0] == 0
    token = make_token(WHO)
    tc = str(sigstore_files["trust_config"])
    code, _, err = run(
        "policy", "sign", str(bundle), "--keyless", "--trust-config", tc, "--identity-token", token
    )
    assert code == 0, err
    code, _, err = run(
        "policy",
        "attest",
        str(bundle),
        "--provenance",
        "--no-source",
        "--keyless",
        "--trust-config",
        tc,
        env={"SIGSTORE_ID_TOKEN": token},
    )
    assert code == 0, err
    return bundle


def test_keyless_bundle_shape(keyless_bundle: Path) -> None:
    doc = json.loads((keyless_bundle / "signature.sigstore.json").read_text())
    assert doc["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    material = doc["verificationMaterial"]
    assert "certificate" in material
    (entry,) = material["tlogEntries"]
    assert entry["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}


def test_keyless_round_trip(keyless_bundle: Path, sigstore_files: dict[str, Path]) -> None:
    trust = trust_file(keyless_bundle.parent, sigstore_files["trusted_root"])
    code, out, err = run("policy", "verify", str(keyless_bundle), "--trust", str(trust))
    assert code == 0, err
    assert f"signed by keyless:{WHO} ({ISSUER})" in out
    assert "attestation provenance" in out


def test_keyless_wrong_identity(keyless_bundle: Path, sigstore_files: dict[str, Path]) -> None:
    trust = trust_file(
        keyless_bundle.parent, sigstore_files["trusted_root"], san="mallory@nexus.test"
    )
    code, out, _err = run(
        "policy", "verify", str(keyless_bundle), "--trust", str(trust), "--format", "json"
    )
    assert code == 5
    assert json.loads(out)["reason"] == "identity-mismatch"


def test_keyless_wrong_issuer(keyless_bundle: Path, sigstore_files: dict[str, Path]) -> None:
    trust = trust_file(
        keyless_bundle.parent,
        sigstore_files["trusted_root"],
        issuer="https://token.actions.githubusercontent.com",
    )
    code, out, _ = run(
        "policy", "verify", str(keyless_bundle), "--trust", str(trust), "--format", "json"
    )
    assert code == 5
    assert json.loads(out)["reason"] == "issuer-mismatch"


def test_keyless_other_root_refused(keyless_bundle: Path, tmp_path: Path) -> None:
    other = FakeSigstore()  # never started: only its trust root is used
    root = tmp_path / "other_root.json"
    root.write_text(json.dumps({**other.trusted_root_offline()}))
    trust = trust_file(tmp_path, root)
    code, out, _ = run(
        "policy", "verify", str(keyless_bundle), "--trust", str(trust), "--format", "json"
    )
    assert code == 5
    assert json.loads(out)["reason"] == "bad-signature"


def test_keyless_signature_by_wrong_identity_token(
    tmp_path: Path, sigstore_files: dict[str, Path]
) -> None:
    bundle = tmp_path / "bundle"
    run("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(bundle))
    token = make_token("intern@nexus.test")
    code, _, err = run(
        "policy",
        "sign",
        str(bundle),
        "--keyless",
        "--trust-config",
        str(sigstore_files["trust_config"]),
        "--identity-token",
        token,
    )
    assert code == 0, err
    trust = trust_file(tmp_path, sigstore_files["trusted_root"])
    code, out, _ = run("policy", "verify", str(bundle), "--trust", str(trust), "--format", "json")
    assert code == 5
    assert json.loads(out)["reason"] == "identity-mismatch"


def test_verification_is_offline_after_services_stop(tmp_path: Path) -> None:
    fake = FakeSigstore().start()
    (tmp_path / "tc.json").write_text(json.dumps(fake.client_trust_config()))
    (tmp_path / "root.json").write_text(json.dumps(fake.trusted_root()))
    bundle = tmp_path / "bundle"
    run("policy", "bundle", str(POLICIES / "code-assistant.yaml"), "-o", str(bundle))
    for verb in (["sign"], ["attest", "--provenance", "--no-source"]):
        code, _, err = run(
            "policy",
            verb[0],
            str(bundle),
            *verb[1:],
            "--keyless",
            "--trust-config",
            str(tmp_path / "tc.json"),
            "--identity-token",
            make_token(WHO),
        )
        assert code == 0, err
    assert fake.requests.count("POST /api/v2/signingCert") == 2
    assert fake.requests.count("POST /api/v1/log/entries") == 2
    fake.stop()
    code, _out, err = run(
        "policy",
        "verify",
        str(bundle),
        "--trust",
        str(trust_file(tmp_path, tmp_path / "root.json")),
    )
    assert code == 0, err


def test_sigstore_python_verifier_accepts(
    keyless_bundle: Path, sigstore_files: dict[str, Path]
) -> None:
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier, policy

    verifier = Verifier(trusted_root=TrustedRoot.from_file(str(sigstore_files["trusted_root"])))
    for name in ("signature.sigstore.json", "attestations/provenance.sigstore.json"):
        bundle = Bundle.from_json((keyless_bundle / name).read_bytes())
        payload_type, payload = verifier.verify_dsse(
            bundle, policy.Identity(identity=WHO, issuer=ISSUER)
        )
        assert payload_type == "application/vnd.in-toto+json"
        assert json.loads(payload)["_type"] == "https://in-toto.io/Statement/v1"


def test_sigstore_python_verifier_rejects_wrong_identity(
    keyless_bundle: Path, sigstore_files: dict[str, Path]
) -> None:
    from sigstore.errors import VerificationError
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier, policy

    verifier = Verifier(trusted_root=TrustedRoot.from_file(str(sigstore_files["trusted_root"])))
    bundle = Bundle.from_json((keyless_bundle / "signature.sigstore.json").read_bytes())
    with pytest.raises(VerificationError):
        verifier.verify_dsse(bundle, policy.Identity(identity="mallory@nexus.test", issuer=ISSUER))


def test_expired_token_is_refused(tmp_path: Path, sigstore_files: dict[str, Path]) -> None:
    bundle = tmp_path / "bundle"
    run("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(bundle))
    token = make_token(WHO, lifetime_s=-60)
    code, _, err = run(
        "policy",
        "sign",
        str(bundle),
        "--keyless",
        "--trust-config",
        str(sigstore_files["trust_config"]),
        "--identity-token",
        token,
    )
    assert code in (3, 4)
    assert "error:" in err
    assert not (bundle / "signature.sigstore.json").exists()


def test_malformed_trust_config(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    run("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(bundle))
    (tmp_path / "tc.json").write_text("{}")
    code, _, err = run(
        "policy",
        "sign",
        str(bundle),
        "--keyless",
        "--trust-config",
        str(tmp_path / "tc.json"),
        "--identity-token",
        make_token(WHO),
    )
    assert code == 3
    assert "trust config is not valid" in err


def test_keyless_verify_opens_no_network_connection(
    keyless_bundle: Path, sigstore_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    trust = trust_file(keyless_bundle.parent, sigstore_files["trusted_root"])

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("verify tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    code, out, err = run("policy", "verify", str(keyless_bundle), "--trust", str(trust))
    assert code == 0, err
    assert out.startswith("OK ")
