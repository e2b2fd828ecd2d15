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
from nexusctl.signing.trust import ResolvedEnvironment
from nexusctl.statements import (
    ROUTING_DIFF_PREDICATE,
    AttestedGate,
    AttestedPolicy,
    RoutingDiffPredicate,
)
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


def diff_predicate(passed: bool, gate_passed: bool) -> dict[str, object]:
    """A complete routing-diff predicate (the model verification parses it into)."""
    side = AttestedPolicy(name="p", version=1, policy_sha256="0" * 64, catalog_sha256="1" * 64)
    pair = {"baseline": 1, "candidate": 1}
    gate = AttestedGate(
        name="spend_change_max_pct",
        comparison="<=",
        threshold="5.000000",
        value="1.000000",
        passed=gate_passed,
        source="cli",
    )
    predicate = RoutingDiffPredicate(
        generator="nexusctl test",
        baseline=side,
        candidate=side,
        traffic_sha256="2" * 64,
        requests=1,
        decisions_changed=0,
        spend_micro_usd={"baseline": 1, "candidate": 1, "change": 0},
        residency_violations=pair,
        frontier_requests=pair,
        escalated_or_refused=pair,
        slo_met=pair,
        served=pair,
        passed=passed,
        gates=[gate],
    )
    return predicate.model_dump(mode="json")


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
    failed = diff_predicate(passed=False, gate_passed=False)
    write_attestation(
        candidate, "routing-diff", attest(subjects, ROUTING_DIFF_PREDICATE, failed, signer)
    )
    with pytest.raises(VerificationError) as info:
        verify_bundle(candidate, env)
    assert info.value.reason == "routing-diff-failed"
    assert "spend_change_max_pct" in str(info.value)
    passed = diff_predicate(passed=True, gate_passed=True)
    write_attestation(
        candidate, "routing-diff", attest(subjects, ROUTING_DIFF_PREDICATE, passed, signer)
    )
    report = verify_bundle(candidate, env)
    assert report.attestations == {"routing-diff": "key:ci"}


def test_routing_diff_about_other_bundles_refused(setup: dict[str, Path]) -> None:
    signer = KeySigner.from_file(setup["trust"].parent / "k.pem")
    subjects = [Subject.of("baseline", digest_of(setup["baseline"]))]
    predicate = diff_predicate(passed=True, gate_passed=True)
    bundle_json = attest(subjects, ROUTING_DIFF_PREDICATE, predicate, signer)
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


def test_routing_diff_with_a_predicate_of_another_shape_refused(setup: dict[str, Path]) -> None:
    """The predicate type is right but the body is not a routing diff: not meaningful, refused."""
    signer = KeySigner.from_file(setup["trust"].parent / "k.pem")
    subjects = [Subject.of("candidate", digest_of(setup["candidate"]))]
    partial = {"passed": True, "gates": []}
    bundle_json = attest(subjects, ROUTING_DIFF_PREDICATE, partial, signer)
    write_attestation(setup["candidate"], "routing-diff", bundle_json)
    with pytest.raises(VerificationError) as info:
        verify_bundle(setup["candidate"], env_for(setup["trust"]))
    assert info.value.reason == "malformed-predicate"


def test_provenance_predicate_under_routing_diff_name_refused(setup: dict[str, Path]) -> None:
    """A valid provenance filed as routing-diff: the kind name and the predicate disagree."""
    candidate = setup["candidate"]
    signer = KeySigner.from_file(setup["trust"].parent / "k.pem")
    from nexusctl.signing import attest_provenance

    provenance = attest_provenance(candidate, signer, None)
    provenance.rename(candidate / "attestations" / "routing-diff.sigstore.json")
    with pytest.raises(VerificationError) as info:
        verify_bundle(candidate, env_for(setup["trust"]))
    assert info.value.reason == "wrong-predicate"


def test_attestation_of_unknown_kind_refused(setup: dict[str, Path]) -> None:
    candidate = setup["candidate"]
    signer = KeySigner.from_file(setup["trust"].parent / "k.pem")
    subjects = [Subject.of("candidate", digest_of(candidate))]
    bundle_json = attest(subjects, "https://example.invalid/other/v1", {}, signer)
    with pytest.raises(InputError, match="not an attestation kind"):
        write_attestation(candidate, "sbom", bundle_json)
    (candidate / "attestations").mkdir(exist_ok=True)
    (candidate / "attestations" / "sbom.sigstore.json").write_bytes(bundle_json)
    with pytest.raises(VerificationError) as info:
        verify_bundle(candidate, env_for(setup["trust"]))
    assert info.value.reason == "unknown-attestation"
