"""The `attest` API and attestations a trust policy requires (routing-diff as the lead uses it)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from nexusctl.bundle import build_bundle
from nexusctl.errors import InputError, VerificationError
from nexusctl.signing import (
    KeySigner,
    Subject,
    attest,
    load_trust_policy,
    resolve_environment,
    sign_bundle,
    verify_bundle,
    write_attestation,
)
from nexusctl.signing.keys import generate_key_pair
from nexusctl.signing.statements import ROUTING_DIFF_PREDICATE
from nexusctl.signing.trust import ResolvedEnvironment
from tests.conftest import POLICIES


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    generate_key_pair(tmp_path / "k.pem")
    baseline = build_bundle(POLICIES / "retail-chat.yaml", tmp_path / "baseline")
    candidate = build_bundle(POLICIES / "code-assistant.yaml", tmp_path / "candidate")
    signer = KeySigner.from_file(tmp_path / "k.pem")
    sign_bundle(candidate.path, signer)
    trust = tmp_path / "trust.yaml"
    trust.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: t, version: 1}\n"
        "spec:\n  environments:\n    prod:\n      keys: [{id: ci, path: k.pub}]\n"
        "      requiredAttestations: [routing-diff]\n"
    )
    return {"baseline": baseline.path, "candidate": candidate.path, "trust": trust}


def digest_of(bundle: Path) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()


def env_for(trust: Path) -> ResolvedEnvironment:
    return resolve_environment(load_trust_policy(trust), trust.parent, None)


def test_attest_returns_sigstore_bundle_with_exact_predicate(setup: dict[str, Path]) -> None:
    signer = KeySigner.from_file(setup["trust"].parent / "k.pem")
    predicate = {"spend": {"baselinePicoUsd": 12_000_000_000_000, "deltaPicoUsd": -5}, "ok": True}
    subjects = [Subject.of("baseline", digest_of(setup["baseline"]))]
    raw = attest(subjects, ROUTING_DIFF_PREDICATE, predicate, signer)
    doc = json.loads(raw)
    assert doc["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    assert statement["predicate"] == predicate
    assert isinstance(statement["predicate"]["spend"]["baselinePicoUsd"], int)
    assert statement["subject"][0]["digest"]["sha256"] == digest_of(setup["baseline"])[7:]


def test_required_routing_diff_attestation(setup: dict[str, Path]) -> None:
    candidate = setup["candidate"]
    env = env_for(setup["trust"])
    with pytest.raises(VerificationError) as info:
        verify_bundle(candidate, env)
    assert info.value.reason == "attestation-missing"
    signer = KeySigner.from_file(setup["trust"].parent / "k.pem")
    subjects = [
        Subject.of("baseline", digest_of(setup["baseline"])),
        Subject.of("candidate", digest_of(candidate)),
    ]
    failed = {"passed": False, "gates": [{"name": "spend_change_max_pct", "passed": False}]}
    write_attestation(
        candidate, "routing-diff", attest(subjects, ROUTING_DIFF_PREDICATE, failed, signer)
    )
    with pytest.raises(VerificationError) as info:
        verify_bundle(candidate, env)
    assert info.value.reason == "routing-diff-failed"
    assert "spend_change_max_pct" in str(info.value)
    passed = {"passed": True, "gates": [{"name": "spend_change_max_pct", "passed": True}]}
    write_attestation(
        candidate, "routing-diff", attest(subjects, ROUTING_DIFF_PREDICATE, passed, signer)
    )
    report = verify_bundle(candidate, env)
    assert report.attestations == {"routing-diff": "key:ci"}


def test_routing_diff_about_other_bundles_refused(setup: dict[str, Path]) -> None:
    signer = KeySigner.from_file(setup["trust"].parent / "k.pem")
    subjects = [Subject.of("baseline", digest_of(setup["baseline"]))]
    bundle_json = attest(subjects, ROUTING_DIFF_PREDICATE, {}, signer)
    write_attestation(setup["candidate"], "routing-diff", bundle_json)
    with pytest.raises(VerificationError) as info:
        verify_bundle(setup["candidate"], env_for(setup["trust"]))
    assert info.value.reason == "attestation-subject-mismatch"


def test_attestation_with_wrong_predicate_type_refused(setup: dict[str, Path]) -> None:
    signer = KeySigner.from_file(setup["trust"].parent / "k.pem")
    subjects = [Subject.of("candidate", digest_of(setup["candidate"]))]
    bundle_json = attest(subjects, "https://example.invalid/other/v1", {}, signer)
    write_attestation(setup["candidate"], "routing-diff", bundle_json)
    with pytest.raises(VerificationError) as info:
        verify_bundle(setup["candidate"], env_for(setup["trust"]))
    assert info.value.reason == "wrong-predicate"


def test_attest_refuses_bad_inputs(setup: dict[str, Path]) -> None:
    signer = KeySigner.from_file(setup["trust"].parent / "k.pem")
    with pytest.raises(InputError, match="at least one subject"):
        attest([], ROUTING_DIFF_PREDICATE, {}, signer)
    with pytest.raises(InputError, match="cannot be canonicalised"):
        attest([Subject.of("x", "0" * 64)], ROUTING_DIFF_PREDICATE, {"x": float("nan")}, signer)
    with pytest.raises(ValueError, match="SHA-256"):
        Subject.of("x", "sha256:XYZ")
    with pytest.raises(InputError, match="lowercase"):
        write_attestation(setup["candidate"], "../evil", b"{}")
