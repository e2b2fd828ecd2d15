"""`policy inspect`: what a bundle holds and claims, as text and JSON, never a trust verdict."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.signing.inspect import NOT_VERIFIED, BundleInspection
from nexusctl.traffic.synth import write_synth
from tests.conftest import POLICIES

TRUST_OTHER_KEY = (
    "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: t, version: 1}\n"
    "spec:\n  environments:\n    prod: {keys: [{id: someone, path: other.pub}]}\n"
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


def ok(*args: str) -> str:
    code, out, err = run(*args)
    assert code == 0, err
    return out


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@nexus.test", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, str]:
    """A git checkout holding retail-chat v3 and its catalog (no price table: kept small)."""
    root = tmp_path / "src"
    (root / "policies").mkdir(parents=True)
    example = Path(__file__).resolve().parents[2] / "examples" / "policy-repo" / "policies"
    for name in ("retail-chat.yaml", "catalog.yaml"):
        shutil.copy(example / name, root / "policies" / name)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "v3")
    return root / "policies" / "retail-chat.yaml", _git(root, "rev-parse", "HEAD")


@pytest.fixture
def signed(tmp_path: Path, source: tuple[Path, str]) -> Path:
    policy, _ = source
    ok("key", "generate", "--out", str(tmp_path / "release.pem"))
    bundle = tmp_path / "bundle"
    ok("policy", "bundle", str(policy), "-o", str(bundle))
    ok("policy", "sign", str(bundle), "--key", str(tmp_path / "release.pem"))
    ok(
        "policy",
        "attest",
        str(bundle),
        "--provenance",
        "--source",
        str(policy),
        "--key",
        str(tmp_path / "release.pem"),
    )
    return bundle


def test_json_names_files_signer_and_provenance(
    signed: Path, source: tuple[Path, str], tmp_path: Path
) -> None:
    _, commit = source
    doc = json.loads(ok("policy", "inspect", str(signed), "--format", "json"))
    report = BundleInspection.model_validate(doc)  # the exported schema's model
    assert report.verified is False
    assert report.note == NOT_VERIFIED
    assert report.policy == "retail-chat@3"
    manifest = (signed / "manifest.json").read_bytes()
    assert report.digest == "sha256:" + hashlib.sha256(manifest).hexdigest()
    on_disk = {
        f.path: hashlib.sha256((signed / f.path).read_bytes()).hexdigest() for f in report.files
    }
    assert on_disk == {f.path: f.sha256 for f in report.files}
    assert report.signature is not None
    pub = (tmp_path / "release.pub").read_bytes()
    assert report.signature.signer.mode == "key"
    assert report.signature.signer.key_hint == hashlib.sha256(pub).hexdigest()
    assert report.signature.predicate_type == "https://model_signing/signature/v1.0"
    prov = report.provenance
    assert prov is not None
    assert prov.commit == commit
    assert prov.dirty is False
    assert prov.path == "policies/retail-chat.yaml"
    assert prov.repository is not None
    assert prov.repository.startswith("git+file://")
    assert report.routing_diff is None


def test_text_says_it_does_not_verify(signed: Path, source: tuple[Path, str]) -> None:
    _, commit = source
    out = ok("policy", "inspect", str(signed))
    lines = out.splitlines()
    assert lines[0] == NOT_VERIFIED
    assert lines[1].startswith("bundle retail-chat-v3 sha256:")
    assert "  claimed signer: key hint " in out
    assert f"  commit {commit} (clean)" in out
    assert "  path policies/retail-chat.yaml" in out
    assert "\x1b" not in out


def test_inspect_shows_a_signer_verify_would_refuse(signed: Path, tmp_path: Path) -> None:
    ok("key", "generate", "--out", str(tmp_path / "other.pem"))
    (tmp_path / "trust.yaml").write_text(TRUST_OTHER_KEY)
    code, _, _ = run("policy", "verify", str(signed), "--trust", str(tmp_path / "trust.yaml"))
    assert code == 5
    assert "claimed signer: key hint" in ok("policy", "inspect", str(signed))


def test_unsigned_bundle(tmp_path: Path, source: tuple[Path, str]) -> None:
    bundle = tmp_path / "plain"
    ok("policy", "bundle", str(source[0]), "-o", str(bundle))
    assert "signature: none (run policy sign)" in ok("policy", "inspect", str(bundle))
    doc = json.loads(ok("policy", "inspect", str(bundle), "--format", "json"))
    assert doc["signature"] is None
    assert doc["provenance"] is None


def test_routing_diff_summary(tmp_path: Path) -> None:
    ok("key", "generate", "--out", str(tmp_path / "release.pem"))
    for name, policy in (("live", "retail-chat.yaml"), ("cand", "retail-chat.candidate.yaml")):
        ok("policy", "bundle", str(POLICIES / policy), "-o", str(tmp_path / name))
    write_synth(tmp_path / "traffic.parquet", 2_000, 3)
    attestation = tmp_path / "diff.sigstore.json"
    code, _, err = run(
        "simulate",
        "-b",
        str(tmp_path / "live"),
        "-c",
        str(tmp_path / "cand"),
        "-t",
        str(tmp_path / "traffic.parquet"),
        "--format",
        "json",
        "--attest",
        str(attestation),
        "--key",
        str(tmp_path / "release.pem"),
    )
    assert code in (0, 6), err
    # simulate files the attestation in the candidate bundle too.
    filed = tmp_path / "cand" / "attestations" / "routing-diff.sigstore.json"
    assert filed.read_bytes() == attestation.read_bytes()
    doc = json.loads(ok("policy", "inspect", str(tmp_path / "cand"), "--format", "json"))
    diff = doc["routing_diff"]
    assert diff["baseline"]["name"] == "retail-chat"
    assert diff["baseline"]["version"] == 3
    assert diff["candidate"]["version"] == 4
    assert diff["requests"] == 2_000
    assert diff["passed"] is (code == 0)
    assert {g["name"] for g in diff["gates"]}
    text = ok("policy", "inspect", str(tmp_path / "cand"))
    assert "routing diff (attestations/routing-diff.sigstore.json):" in text
    assert "  baseline retail-chat@3 policy sha256:" in text
    assert f"  verdict {'PASS' if code == 0 else 'FAIL'}" in text
    assert "  spend $" in text


def test_garbage_signature_is_one_line_exit_5(signed: Path) -> None:
    (signed / "signature.sigstore.json").write_bytes(b"\x00not json{{")
    code, out, err = run("policy", "inspect", str(signed))
    assert code == 5
    assert out == ""
    assert err.startswith("error: signature.sigstore.json: not a JSON Sigstore bundle")
    assert "Traceback" not in err


def test_a_payload_that_is_not_a_statement(signed: Path) -> None:
    import base64

    path = signed / "attestations" / "provenance.sigstore.json"
    doc = json.loads(path.read_text())
    doc["dsseEnvelope"]["payload"] = base64.b64encode(b'{"_type": "x"}').decode()
    path.write_text(json.dumps(doc))
    code, _, err = run("policy", "inspect", str(signed))
    assert code == 5
    assert "the signed statement is not what its name says" in err


def test_an_oversized_signature_is_refused_before_reading(signed: Path) -> None:
    with (signed / "signature.sigstore.json").open("wb") as handle:
        handle.truncate(8 * 1024 * 1024 + 1)
    code, _, err = run("policy", "inspect", str(signed))
    assert code == 3
    assert "larger than" in err


def test_tampered_files_and_non_bundles(signed: Path, tmp_path: Path) -> None:
    (signed / "retail-chat.yaml").write_text("tampered\n")
    code, _, err = run("policy", "inspect", str(signed))
    assert code == 5
    assert "retail-chat.yaml" in err
    code, _, err = run("policy", "inspect", str(tmp_path / "nowhere"))
    assert code == 3
    code, _, err = run("policy", "inspect", str(signed), "--format", "yaml")
    assert code == 2
