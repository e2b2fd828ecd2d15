"""`key generate`, `policy bundle/sign/attest` through the CLI: modes, files, refusals."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.conftest import POLICIES, REPO
from tests.e2e.signing.pki import certificate_sign_args, make_pki

runner = CliRunner()


def retail_version() -> int:
    from nexusctl.policy.loader import load_policy

    return load_policy(POLICIES / "retail-chat.yaml").policy.metadata.version


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


def ok(*args: str) -> str:
    code, out, err = run(*args)
    assert code == 0, err
    return out


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    ok("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(tmp_path / "b"))
    return tmp_path / "b"


@pytest.fixture
def key(tmp_path: Path) -> Path:
    ok("key", "generate", "--out", str(tmp_path / "k.pem"))
    return tmp_path / "k.pem"


def statement(signature_file: Path) -> dict[str, object]:
    doc = json.loads(signature_file.read_text())
    result: dict[str, object] = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    return result


def test_key_generate_modes_and_secrecy(tmp_path: Path) -> None:
    out = ok("key", "generate", "--out", str(tmp_path / "k.pem"))
    private = (tmp_path / "k.pem").read_text()
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
    assert private.startswith("-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "k.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE KEY" not in out
    assert private.splitlines()[1] not in out
    assert sorted(os.listdir(tmp_path)) == ["k.pem", "k.pub"]


def test_key_generate_refuses_overwrite(tmp_path: Path) -> None:
    ok("key", "generate", "--out", str(tmp_path / "k.pem"))
    before = (tmp_path / "k.pem").read_bytes()
    code, _, err = run("key", "generate", "--out", str(tmp_path / "k.pem"))
    assert code == 3
    assert "already exists" in err
    assert (tmp_path / "k.pem").read_bytes() == before


def test_key_generate_refuses_existing_public(tmp_path: Path) -> None:
    (tmp_path / "k.pub").write_text("keep")
    code, _, err = run("key", "generate", "--out", str(tmp_path / "k.pem"))
    assert code == 3
    assert "k.pub already exists" in err
    assert not (tmp_path / "k.pem").exists()


def test_bundle_json_output(tmp_path: Path) -> None:
    out = ok(
        "policy",
        "bundle",
        str(POLICIES / "retail-chat.yaml"),
        "-o",
        str(tmp_path / "b"),
        "--format",
        "json",
    )
    doc = json.loads(out)
    assert doc["name"] == f"retail-chat-v{retail_version()}"
    assert doc["digest"].startswith("sha256:")
    assert doc["files"] == [
        "catalog.yaml",
        "prices/litellm_model_prices_2026-07-24.json",
        "retail-chat.yaml",
    ]


def test_bundle_non_empty_output_exit_3(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("x")
    code, out, err = run(
        "policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(tmp_path / "b")
    )
    assert code == 3
    assert out == ""
    assert "--force" in err


def test_key_sign_layout(bundle: Path, key: Path) -> None:
    ok("policy", "sign", str(bundle), "--key", str(key))
    doc = json.loads((bundle / "signature.sigstore.json").read_text())
    assert doc["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    material = doc["verificationMaterial"]
    assert material["tlogEntries"] == []
    assert doc["dsseEnvelope"]["payloadType"] == "application/vnd.in-toto+json"
    # The hint is model-signing's: hex SHA-256 of the PEM public key; DSSE keyid equals it.
    import hashlib

    pub_pem = (key.with_suffix(".pub")).read_bytes()
    assert material["publicKey"]["hint"] == hashlib.sha256(pub_pem).hexdigest()
    assert doc["dsseEnvelope"]["signatures"][0]["keyid"] == material["publicKey"]["hint"]
    stmt = statement(bundle / "signature.sigstore.json")
    assert stmt["predicateType"] == "https://model_signing/signature/v1.0"
    predicate = stmt["predicate"]
    assert isinstance(predicate, dict)
    names = [r["name"] for r in predicate["resources"]]
    assert names == [
        "catalog.yaml",
        "manifest.json",
        "prices/litellm_model_prices_2026-07-24.json",
        "retail-chat.yaml",
    ]
    # Exactly the files a verifier must skip, never the whole attestations/ folder.
    assert predicate["serialization"]["ignore_paths"] == [
        "attestations/provenance.sigstore.json",
        "attestations/routing-diff.sigstore.json",
        "signature.sigstore.json",
    ]


def test_key_signing_is_deterministic(bundle: Path, key: Path) -> None:
    ok("policy", "sign", str(bundle), "--key", str(key))
    first = (bundle / "signature.sigstore.json").read_bytes()
    ok("policy", "sign", str(bundle), "--key", str(key))
    assert (bundle / "signature.sigstore.json").read_bytes() == first


def test_sign_refuses_tampered_bundle(bundle: Path, key: Path) -> None:
    (bundle / "catalog.yaml").write_text("changed\n")
    code, _, err = run("policy", "sign", str(bundle), "--key", str(key))
    assert code == 5
    assert "refusing to sign" in err
    assert not (bundle / "signature.sigstore.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "choose a signing mode"),
        (["--keyless", "--staging", "--trust-config", "tc.json"], "cannot go together"),
        (["--keyless", "--key", "k.pem"], "cannot be combined"),
        (["--key", "k.pem", "--chain", "c.pem"], "--chain needs --certificate"),
    ],
)
def test_sign_mode_usage_errors(bundle: Path, args: list[str], message: str) -> None:
    code, _, err = run("policy", "sign", str(bundle), *args)
    assert code == 2
    assert message in err


def test_sign_with_missing_key_exit_3(bundle: Path, tmp_path: Path) -> None:
    code, _, err = run("policy", "sign", str(bundle), "--key", str(tmp_path / "nope.pem"))
    assert code == 3
    assert "not found" in err


def test_sign_with_ed25519_key_refused(bundle: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "ed.pem").write_bytes(pem)
    (tmp_path / "ed.pem").chmod(0o600)
    code, _, err = run("policy", "sign", str(bundle), "--key", str(tmp_path / "ed.pem"))
    assert code == 3
    assert "ECDSA" in err


def ca_trust(folder: Path, root: Path, identities: list[str]) -> Path:
    trust = folder / "ca-trust.yaml"
    trust.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: pki, version: 1}\n"
        "spec:\n  environments:\n    prod:\n      certificateAuthorities:\n"
        f"        - id: nebula-root\n          path: {root.relative_to(folder)}\n"
        f"          identities: {json.dumps(identities)}\n"
    )
    return trust


def test_certificate_mode_round_trip(bundle: Path, tmp_path: Path) -> None:
    pki = make_pki(tmp_path, "release@nebula.example")
    ok(*certificate_sign_args(bundle, pki))
    doc = json.loads((bundle / "signature.sigstore.json").read_text())
    assert len(doc["verificationMaterial"]["x509CertificateChain"]["certificates"]) == 3
    out = ok(
        "policy",
        "verify",
        str(bundle),
        "--trust",
        str(ca_trust(tmp_path, pki["root"], ["release@nebula.example"])),
    )
    assert "signed by ca:nebula-root:release@nebula.example" in out


def test_certificate_mode_wrong_identity(bundle: Path, tmp_path: Path) -> None:
    pki = make_pki(tmp_path, "intern@nebula.example")
    ok(*certificate_sign_args(bundle, pki))
    code, _, err = run(
        "policy",
        "verify",
        str(bundle),
        "--trust",
        str(ca_trust(tmp_path, pki["root"], ["release@nebula.example"])),
    )
    assert code == 5
    assert "identity-mismatch" in err


def test_certificate_from_other_ca_untrusted(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "pa").mkdir()
    (tmp_path / "pb").mkdir()
    signing = make_pki(tmp_path / "pa", "release@nebula.example")
    trusted = make_pki(tmp_path / "pb", "release@nebula.example")
    ok(*certificate_sign_args(bundle, signing))
    code, _, err = run(
        "policy", "verify", str(bundle), "--trust", str(ca_trust(tmp_path, trusted["root"], []))
    )
    assert code == 5
    assert "untrusted-signer" in err


def test_certificate_of_other_key_refused(bundle: Path, tmp_path: Path, key: Path) -> None:
    pki = make_pki(tmp_path, "release@nebula.example")
    code, _, err = run(
        "policy", "sign", str(bundle), "--key", str(key), "--certificate", str(pki["leaf"])
    )
    assert code == 3
    assert "does not belong to the signing key" in err


def git_repo(folder: Path) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "HOME": str(folder),
    }

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=folder, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q", "-b", "main")
    git("remote", "add", "origin", "https://example.invalid/nebula/policies.git")
    shutil.copytree(POLICIES, folder / "policies")
    git("add", "policies")
    git("-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "init")
    return git("rev-parse", "HEAD")


def test_attest_provenance_from_git(bundle: Path, key: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    commit = git_repo(repo)
    ok("policy", "attest", str(bundle), "--provenance", "--source", str(repo), "--key", str(key))
    stmt = statement(bundle / "attestations" / "provenance.sigstore.json")
    assert stmt["predicateType"] == "https://slsa.dev/provenance/v1"
    import hashlib

    digest = hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    assert stmt["subject"] == [
        {"name": f"retail-chat-v{retail_version()}", "digest": {"sha256": digest}}
    ]
    predicate = stmt["predicate"]
    assert isinstance(predicate, dict)
    build = predicate["buildDefinition"]
    assert build["buildType"] == "https://nexuscore.io/buildtypes/policy-bundle/v1"
    assert build["externalParameters"]["source"] == {
        "repository": "https://example.invalid/nebula/policies.git",
        "commit": commit,
        "dirty": False,
    }
    assert build["externalParameters"]["policy"] == {
        "name": "retail-chat",
        "version": retail_version(),
    }
    assert isinstance(build["externalParameters"]["policy"]["version"], int)
    deps = {d.get("name", d.get("uri")): d["digest"] for d in build["resolvedDependencies"]}
    assert deps["https://example.invalid/nebula/policies.git"] == {"gitCommit": commit}
    assert set(deps) >= {"catalog.yaml", "prices/litellm_model_prices_2026-07-24.json"}
    assert predicate["runDetails"]["builder"]["id"] == "https://nexuscore.io/builders/nexusctl/v1"


def test_attest_outside_git_is_clear_error(bundle: Path, key: Path, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    code, _, err = run(
        "policy",
        "attest",
        str(bundle),
        "--provenance",
        "--source",
        str(tmp_path / "plain"),
        "--key",
        str(key),
    )
    assert code == 3
    assert "not inside a git repository" in err
    assert not (bundle / "attestations").exists()


def test_attest_needs_a_kind(bundle: Path, key: Path) -> None:
    code, _, err = run("policy", "attest", str(bundle), "--key", str(key))
    assert code == 2
    assert "--provenance" in err


def test_cli_module_imports_no_heavy_library() -> None:
    code = (
        "import sys, nexusctl.cli.bundle_cmds, nexusctl.bundle, nexusctl.signing;"
        "heavy = [m for m in ('sigstore', 'sigstore_models', 'cryptography', 'git',"
        " 'model_signing') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_verify_missing_bundle_is_invalid_input(tmp_path: Path) -> None:
    trust = tmp_path / "trust.yaml"
    trust.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: t, version: 1}\n"
        "spec:\n  environments:\n    prod:\n      keys: [{id: k, pem: x}]\n"
    )
    code, out, err = run("policy", "verify", str(tmp_path / "nope"), "--trust", str(trust))
    assert code == 3
    assert out == ""
    assert "error:" in err


def test_keyless_without_any_token_is_usage_error(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "GITHUB_ACTIONS",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "GITLAB_CI",
        "BUILDKITE",
        "CIRCLECI",
        "GOOGLE_SERVICE_ACCOUNT_NAME",
        "SIGSTORE_ID_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "tc.json").write_text("{}")
    code, _, err = run(
        "policy", "sign", str(bundle), "--keyless", "--trust-config", str(tmp_path / "tc.json")
    )
    assert code == 2
    assert "--identity-token" in err


def test_unknown_format_is_usage_error(bundle: Path) -> None:
    code, _, err = run(
        "policy",
        "bundle",
        str(POLICIES / "retail-chat.yaml"),
        "-o",
        str(bundle.parent / "x"),
        "--format",
        "xml",
    )
    assert code == 2
    assert "--format" in err


def test_key_mode_verify_loads_no_sigstore_library(bundle: Path, key: Path, tmp_path: Path) -> None:
    """The hot path stays light: key-mode verify needs neither sigstore nor sigstore_models."""
    ok("policy", "sign", str(bundle), "--key", str(key))
    trust = tmp_path / "trust.yaml"
    trust.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: t, version: 1}\n"
        "spec:\n  environments:\n    prod:\n      keys: [{id: k, path: k.pub}]\n"
    )
    code = (
        "import sys\nfrom nexusctl.cli.app import main\n"
        f"sys.argv = ['nexusctl', 'policy', 'verify', {str(bundle)!r}, '--trust', {str(trust)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('sigstore', 'sigstore_models') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_attest_from_policy_file_records_its_path(key: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    commit = git_repo(repo)
    policy = repo / "policies" / "retail-chat.yaml"
    ok("policy", "bundle", str(policy), "-o", str(tmp_path / "b"))
    ok(
        "policy",
        "attest",
        str(tmp_path / "b"),
        "--provenance",
        "--source",
        str(policy),
        "--key",
        str(key),
    )
    stmt = statement(tmp_path / "b" / "attestations" / "provenance.sigstore.json")
    predicate = stmt["predicate"]
    assert isinstance(predicate, dict)
    source = predicate["buildDefinition"]["externalParameters"]["source"]
    assert source == {
        "repository": "https://example.invalid/nebula/policies.git",
        "commit": commit,
        "dirty": False,
        "path": "policies/retail-chat.yaml",
    }


def test_attest_refuses_source_policy_that_differs(key: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git_repo(repo)
    policy = repo / "policies" / "retail-chat.yaml"
    ok("policy", "bundle", str(policy), "-o", str(tmp_path / "b"))
    policy.write_text(policy.read_text() + "# changed after bundling\n")
    code, _, err = run(
        "policy",
        "attest",
        str(tmp_path / "b"),
        "--provenance",
        "--source",
        str(policy),
        "--key",
        str(key),
    )
    assert code == 3
    assert "is not the bundled" in err
    assert not (tmp_path / "b" / "attestations").exists()


def test_attest_source_must_exist(bundle: Path, key: Path, tmp_path: Path) -> None:
    code, _, err = run(
        "policy",
        "attest",
        str(bundle),
        "--provenance",
        "--source",
        str(tmp_path / "nope.yaml"),
        "--key",
        str(key),
    )
    assert code == 3
    assert "no such file" in err
