"""Keyless signing with GitHub Actions' ambient OIDC credential, end to end, offline.

The job's environment (``GITHUB_ACTIONS``, ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``_TOKEN``)
points at a fake token endpoint; ``nexusctl policy sign --keyless`` finds the credential
through sigstore-python's detection (the ``id`` package), the fake Fulcio checks the token's
signature and issues a certificate naming the workflow, the fake Rekor logs the entry, and
``nexusctl policy verify`` accepts the bundle only under a trust policy naming that workflow.
Every service is on 127.0.0.1; the real ones are never contacted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import POLICIES
from tests.e2e.fake_actions_oidc import FakeActionsOidc, WorkflowRun
from tests.e2e.fake_sigstore import GITHUB_ISSUER, FakeSigstore

pytestmark = pytest.mark.e2e

NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")


def nexusctl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the installed command as a CI step does, with only the given CI variables."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "ACTIONS_", "SIGSTORE_", "CI"))
    }
    return subprocess.run(
        [NEXUSCTL, *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def sigstore(tmp_path: Path) -> Iterator[tuple[FakeSigstore, Path]]:
    fake = FakeSigstore().start()
    config = tmp_path / "trust_config.json"
    config.write_text(json.dumps(fake.client_trust_config()))
    try:
        yield fake, config
    finally:
        fake.stop()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle"
    proc = nexusctl("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(path), env={})
    assert proc.returncode == 0, proc.stderr
    return path


def trust_policy(folder: Path, fake: FakeSigstore, san: str, pins: str = "") -> Path:
    """A trust policy allowing the keyless identity ``san`` (``pins``: more identity fields)."""
    (folder / "trusted_root.json").write_text(json.dumps(fake.trusted_root()))
    trust = folder / "trust.yaml"
    trust.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: ci, version: 1}\n"
        "spec:\n  environments:\n    prod:\n"
        f"      identities: [{{san: '{san}', issuer: '{GITHUB_ISSUER}'{pins}}}]\n"
        "      trustedRoot: trusted_root.json\n      requiredAttestations: [provenance]\n"
    )
    return trust


def sign_and_attest(bundle: Path, config: Path, env: dict[str, str]) -> list[str]:
    """Sign and attest with --keyless and no token option: the ambient path. Return output."""
    outputs = []
    for verb in (["sign"], ["attest", "--provenance", "--no-source"]):
        proc = nexusctl(
            "policy",
            verb[0],
            str(bundle),
            *verb[1:],
            "--keyless",
            "--trust-config",
            str(config),
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        outputs += [proc.stdout, proc.stderr]
    return outputs


def test_ambient_credential_signs_and_verifies_as_the_workflow(
    tmp_path: Path, sigstore: tuple[FakeSigstore, Path], bundle: Path
) -> None:
    fake, config = sigstore
    with FakeActionsOidc() as oidc:
        oidc.trust(fake)
        outputs = sign_and_attest(bundle, config, oidc.env())
    # One token per signature, each asked for the "sigstore" audience with the request token.
    assert len(oidc.issued) == 2
    assert oidc.audiences == ["sigstore", "sigstore"]
    assert oidc.refused == []
    assert fake.requests.count("POST /api/v2/signingCert") == 2
    assert fake.requests.count("POST /api/v1/log/entries") == 2
    # Neither credential appears in anything the commands printed.
    for secret in (oidc.request_token, *oidc.issued):
        assert all(secret not in text for text in outputs)

    material = json.loads((bundle / "signature.sigstore.json").read_text())
    assert "certificate" in material["verificationMaterial"]

    trust = trust_policy(tmp_path, fake, oidc.run.san)
    proc = nexusctl("policy", "verify", str(bundle), "--trust", str(trust), env={})
    assert proc.returncode == 0, proc.stderr
    assert f"signed by keyless:{oidc.run.san} ({GITHUB_ISSUER})" in proc.stdout
    assert "attestation provenance" in proc.stdout

    # policy inspect shows the same identity, read from the certificate (without verifying).
    proc = nexusctl("policy", "inspect", str(bundle), "--format", "json", env={})
    assert proc.returncode == 0, proc.stderr
    signer = json.loads(proc.stdout)["signature"]["signer"]
    assert signer["mode"] == "keyless"
    assert signer["identities"] == [oidc.run.san]
    assert signer["oidc_issuer"] == GITHUB_ISSUER
    assert [e["log_index"] for e in signer["tlog_entries"]] == [0]


def test_a_trust_policy_naming_another_workflow_rejects_it(
    tmp_path: Path, sigstore: tuple[FakeSigstore, Path], bundle: Path
) -> None:
    fake, config = sigstore
    with FakeActionsOidc() as oidc:
        oidc.trust(fake)
        sign_and_attest(bundle, config, oidc.env())
    other = WorkflowRun(
        job_workflow_ref="nebula/policies/.github/workflows/nightly.yml@refs/heads/main"
    )
    trust = trust_policy(tmp_path, fake, other.san)
    proc = nexusctl(
        "policy", "verify", str(bundle), "--trust", str(trust), "--format", "json", env={}
    )
    assert proc.returncode == 5
    assert json.loads(proc.stdout)["reason"] == "identity-mismatch"


def test_a_trust_policy_can_pin_the_repository_that_called_the_reusable_workflow(
    tmp_path: Path, sigstore: tuple[FakeSigstore, Path], bundle: Path
) -> None:
    """Every repository calling the reusable workflow at one ref gets the same SAN; the
    certificate's Source Repository URI / Ref extensions tell them apart."""
    fake, config = sigstore
    pins = ", sourceRepository: 'https://github.com/nebula/policies', sourceRef: refs/heads/main"
    pinned = trust_policy(tmp_path, fake, WorkflowRun().san, pins)

    def verify(trust: Path) -> subprocess.CompletedProcess[str]:
        return nexusctl(
            "policy", "verify", str(bundle), "--trust", str(trust), "--format", "json", env={}
        )

    with FakeActionsOidc() as oidc:  # the policy repository's own run
        oidc.trust(fake)
        sign_and_attest(bundle, config, oidc.env())
    proc = verify(pinned)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # Another repository calls the same reusable workflow at the same ref: same SAN.
    intruder = WorkflowRun(repository="mallory/fork", ref="refs/heads/main")
    assert intruder.san == WorkflowRun().san
    with FakeActionsOidc(run=intruder) as oidc:
        oidc.trust(fake)
        sign_and_attest(bundle, config, oidc.env())
    (tmp_path / "unpinned").mkdir()
    unpinned = trust_policy(tmp_path / "unpinned", fake, intruder.san)
    assert verify(unpinned).returncode == 0  # the SAN alone cannot tell them apart
    proc = verify(pinned)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    refused = json.loads(proc.stdout)
    assert refused["reason"] == "source-mismatch"
    assert "source repository 'https://github.com/mallory/fork'" in refused["message"]

    # The right repository from another branch, when the policy pins the ref.
    with FakeActionsOidc(run=WorkflowRun(ref="refs/heads/experiment")) as oidc:
        oidc.trust(fake)
        sign_and_attest(bundle, config, oidc.env())
    proc = verify(pinned)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "source ref 'refs/heads/experiment'" in json.loads(proc.stdout)["message"]


def test_a_wrong_request_token_is_refused_and_not_printed(
    sigstore: tuple[FakeSigstore, Path], bundle: Path
) -> None:
    fake, config = sigstore
    with FakeActionsOidc() as oidc:
        oidc.trust(fake)
        env = {**oidc.env(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "ghrt-not-the-one"}
        proc = nexusctl(
            "policy", "sign", str(bundle), "--keyless", "--trust-config", str(config), env=env
        )
    assert proc.returncode == 4
    assert proc.stderr.startswith("error: could not get the CI's ambient OIDC token")
    assert "ghrt-not-the-one" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert oidc.refused == [401]
    assert oidc.issued == []
    assert not (bundle / "signature.sigstore.json").exists()
    assert fake.requests == []


def test_a_job_without_id_token_permission_gets_a_hint(
    sigstore: tuple[FakeSigstore, Path], bundle: Path
) -> None:
    _, config = sigstore
    proc = nexusctl(
        "policy",
        "sign",
        str(bundle),
        "--keyless",
        "--trust-config",
        str(config),
        env={"GITHUB_ACTIONS": "true"},
    )
    assert proc.returncode == 4
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN" in proc.stderr
    assert "id-token: write" in proc.stderr
    assert not (bundle / "signature.sigstore.json").exists()


def test_fulcio_refuses_a_token_from_an_issuer_key_it_does_not_trust(
    sigstore: tuple[FakeSigstore, Path], bundle: Path
) -> None:
    fake, config = sigstore
    with FakeActionsOidc() as oidc:  # never registered with the fake Fulcio
        proc = nexusctl(
            "policy",
            "sign",
            str(bundle),
            "--keyless",
            "--trust-config",
            str(config),
            env=oidc.env(),
        )
        issued = list(oidc.issued)
    assert len(issued) == 1
    assert proc.returncode == 4
    assert proc.stderr.startswith("error: keyless signing failed")
    assert issued[0] not in proc.stdout + proc.stderr
    assert fake.requests == ["POST /api/v2/signingCert"]
    assert not (bundle / "signature.sigstore.json").exists()


def test_verification_needs_nothing_but_files(
    tmp_path: Path, sigstore: tuple[FakeSigstore, Path], bundle: Path
) -> None:
    fake, config = sigstore
    with FakeActionsOidc() as oidc:
        oidc.trust(fake)
        sign_and_attest(bundle, config, oidc.env())
    trust = trust_policy(tmp_path, fake, oidc.run.san)
    fake.stop()
    copy = tmp_path / "elsewhere"
    shutil.copytree(bundle, copy)
    proc = nexusctl("policy", "verify", str(copy), "--trust", str(trust), env={})
    assert proc.returncode == 0, proc.stderr
