"""Encrypted private keys: `key generate --encrypt`, and every --key loading them.

The passphrase comes from $NEXUSCTL_KEY_PASSWORD (as cosign reads $COSIGN_PASSWORD) or from a
prompt on a terminal (a real pseudo-terminal below); a wrong or missing one is one clear line
and its exit code, never a traceback, and nothing is written.
"""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.conftest import POLICIES

PASSPHRASE = "correct horse battery staple"
ENV = "NEXUSCTL_KEY_PASSWORD"


def run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), prog_name="nexusctl", env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def encrypted_key(tmp_path: Path) -> Path:
    key = tmp_path / "release.pem"
    code, out, err = run("key", "generate", "--out", str(key), "--encrypt", env={ENV: PASSPHRASE})
    assert code == 0, err
    assert "encrypted" in out
    assert PASSPHRASE not in out + err
    return key


def test_generate_encrypt_writes_encrypted_pkcs8(encrypted_key: Path) -> None:
    data = encrypted_key.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert stat.S_IMODE(encrypted_key.stat().st_mode) == 0o600
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(data, password=None)
    key = serialization.load_pem_private_key(data, password=PASSPHRASE.encode())
    public = encrypted_key.with_suffix(".pub").read_bytes()
    assert (
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == public
    )


def test_without_encrypt_the_key_stays_plain_even_with_the_variable_set(tmp_path: Path) -> None:
    key = tmp_path / "plain.pem"
    assert run("key", "generate", "--out", str(key), env={ENV: PASSPHRASE})[0] == 0
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")


def _trust(folder: Path, public: Path) -> Path:
    trust = folder / "trust.yaml"
    trust.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: t, version: 1}\n"
        f"spec:\n  environments:\n    prod: {{keys: [{{id: release, path: {public.name}}}]}}\n"
    )
    return trust


def test_sign_with_an_encrypted_key_from_the_variable_verifies(
    tmp_path: Path, encrypted_key: Path
) -> None:
    bundle = tmp_path / "bundle"
    assert run("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(bundle))[0] == 0
    code, out, err = run(
        "policy", "sign", str(bundle), "--key", str(encrypted_key), env={ENV: PASSPHRASE}
    )
    assert code == 0, err
    assert PASSPHRASE not in out + err
    trust = _trust(tmp_path, encrypted_key.with_suffix(".pub"))
    code, out, err = run("policy", "verify", str(bundle), "--trust", str(trust))
    assert code == 0, err
    assert "signed by key:release" in out


def test_a_wrong_passphrase_is_one_line_exit_3(tmp_path: Path, encrypted_key: Path) -> None:
    bundle = tmp_path / "bundle"
    run("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(bundle))
    code, out, err = run(
        "policy", "sign", str(bundle), "--key", str(encrypted_key), env={ENV: "not it"}
    )
    assert code == 3
    assert err.startswith(f"error: {encrypted_key}: the passphrase does not decrypt this key\n")
    assert "Traceback" not in err
    assert "not it" not in out + err
    assert not (bundle / "signature.sigstore.json").exists()


def test_no_passphrase_and_no_terminal_is_a_usage_error(
    tmp_path: Path, encrypted_key: Path
) -> None:
    bundle = tmp_path / "bundle"
    run("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(bundle))
    code, _, err = run("policy", "sign", str(bundle), "--key", str(encrypted_key), env={ENV: None})
    assert code == 2
    assert "a passphrase is needed and there is no terminal to ask on" in err
    assert f"hint: set {ENV}" in err
    assert not (bundle / "signature.sigstore.json").exists()


def test_an_empty_passphrase_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    code, _, err = run("key", "generate", "--out", str(key), "--encrypt", env={ENV: ""})
    assert code == 2
    assert "the passphrase is empty" in err
    assert not key.exists()
    assert not key.with_suffix(".pub").exists()


def test_registry_commands_load_encrypted_keys(tmp_path: Path, encrypted_key: Path) -> None:
    """`registry init --key` (and every registry --key) goes through the same loader."""
    public = encrypted_key.with_suffix(".pub").read_text()
    pem = "".join(f"        {line}\n" for line in public.splitlines())
    config = tmp_path / "registry.yaml"
    config.write_text(
        "apiVersion: nexuscore.io/v1\nkind: RegistryConfig\nmetadata: {name: r, version: 1}\n"
        f"spec:\n  keys:\n    - id: release\n      pem: |\n{pem}"
        "  admins: {keys: [release], threshold: 1}\n  releasers: [release]\n"
        "  environments:\n    - name: prod\n      trustEnvironment: prod\n"
        "      gates: [signature]\n"
    )
    trust = _trust(tmp_path, encrypted_key.with_suffix(".pub"))
    args = (
        "registry",
        "init",
        str(tmp_path / "reg"),
        "--config",
        str(config),
        "--trust",
        str(trust),
        "--key",
        str(encrypted_key),
    )
    code, _, err = run(*args, env={ENV: "wrong"})
    assert code == 3, err
    assert "the passphrase does not decrypt this key" in err
    code, _, err = run(*args, env={ENV: PASSPHRASE})
    assert code == 0, err


def _talk(args: list[str], answers: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the installed nexusctl on a fresh pseudo-terminal, typing ``answers`` at prompts."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "nexusctl"), *args],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        start_new_session=True,  # no controlling terminal: getpass reads the pty on stdin
        close_fds=True,
    )
    os.close(secondary)
    seen = b""
    pending = list(answers)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 1)
        if ready:
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            # Answer each prompt once, after it is fully shown: getpass discards what was
            # typed before it switched echo off (TCSAFLUSH).
            prompts = seen.count(b"Passphrase for ") + seen.count(b"Again, to confirm:")
            answered = len(answers) - len(pending)
            if pending and prompts > answered and seen.rstrip().endswith(b":"):
                os.write(primary, pending.pop(0).encode() + b"\n")
        elif proc.poll() is not None:
            break
    os.close(primary)
    return proc.wait(timeout=60), seen.decode(errors="replace")


@pytest.mark.e2e
def test_generate_prompts_twice_on_a_terminal_then_sign_prompts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    key = tmp_path / "typed.pem"
    code, screen = _talk(
        ["key", "generate", "--out", str(key), "--encrypt"], [PASSPHRASE, PASSPHRASE], env
    )
    assert code == 0, screen
    assert f"Passphrase for {key}:" in screen
    assert "Again, to confirm:" in screen
    assert PASSPHRASE not in screen  # nothing typed is echoed
    assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")

    bundle = tmp_path / "bundle"
    assert run("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(bundle))[0] == 0
    code, screen = _talk(["policy", "sign", str(bundle), "--key", str(key)], [PASSPHRASE], env)
    assert code == 0, screen
    assert (bundle / "signature.sigstore.json").is_file()


@pytest.mark.e2e
def test_two_different_entries_at_the_prompt_write_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    key = tmp_path / "typo.pem"
    code, screen = _talk(["key", "generate", "--out", str(key), "--encrypt"], ["one", "two"], env)
    assert code == 2, screen
    assert "the two passphrases differ; nothing was written" in screen
    assert not key.exists()


def test_keyless_defaults_to_the_public_good_config_shipped_with_sigstore() -> None:
    from nexusctl.signing.signers import public_good_trust_config

    for staging, host in ((False, "sigstore.dev"), (True, "sigstage.dev")):
        doc = json.loads(public_good_trust_config(staging=staging))
        assert doc["mediaType"] == "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
        ca_urls = [ca["url"] for ca in doc["signingConfig"]["caUrls"]]
        assert ca_urls
        assert all(host in url for url in ca_urls)
        assert doc["trustedRoot"]["certificateAuthorities"]


def test_the_shipped_config_is_one_sigstore_python_accepts() -> None:
    from sigstore.models import ClientTrustConfig
    from sigstore.sign import SigningContext

    from nexusctl.signing.signers import public_good_trust_config

    config = ClientTrustConfig.from_json(public_good_trust_config())
    SigningContext.from_trust_config(config)  # raises on an unusable config; no network here


def test_keyless_without_trust_config_uses_public_good_and_stays_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no token the command stops before any network use, after resolving the config."""
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    bundle = tmp_path / "bundle"
    run("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(bundle))
    no_ci = {k: None for k in os.environ if k.startswith(("GITHUB_", "ACTIONS_", "CI", "GITLAB"))}
    for extra in ([], ["--staging"]):
        code, _, err = run(
            "policy",
            "sign",
            str(bundle),
            "--keyless",
            *extra,
            env={**no_ci, "SIGSTORE_ID_TOKEN": None},
        )
        assert code == 2, err
        assert "--keyless needs an identity token" in err


def test_staging_and_trust_config_do_not_go_together(tmp_path: Path) -> None:
    code, _, err = run(
        "policy",
        "sign",
        str(tmp_path),
        "--keyless",
        "--staging",
        "--trust-config",
        str(tmp_path / "tc.json"),
    )
    assert code == 2
    assert "--staging and --trust-config cannot go together" in err
    code, _, err = run("policy", "sign", str(tmp_path), "--key", "k.pem", "--staging")
    assert code == 2
    assert "--staging needs --keyless" in err
