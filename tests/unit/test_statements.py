"""nexusctl.statements: typed in-toto statements, the bounded JSON reader, reason codes."""

from __future__ import annotations

import json

import pytest

from nexusctl.canonical import canonical_bytes
from nexusctl.document.strict_json import (
    MAX_SAFE_INTEGER,
    JsonLimitError,
    JsonTooLargeError,
    loads_strict,
)
from nexusctl.errors import VerificationError
from nexusctl.statements import (
    ATTESTATION_KINDS,
    ROUTING_DIFF_PREDICATE,
    SLSA_PROVENANCE_PREDICATE,
    ModelSigningPredicate,
    Reason,
    ResourceDescriptor,
    RoutingDiffPredicate,
    SlsaProvenance,
    StatementError,
    parse_statement,
    predicate_type_of,
    statement_bytes,
)

PROVENANCE = {
    "buildDefinition": {
        "buildType": "https://nexuscore.io/buildtypes/policy-bundle/v1",
        "externalParameters": {"policy": {"name": "p", "version": 3}},
        "resolvedDependencies": [{"uri": "git+file:///r", "digest": {"gitCommit": "a" * 40}}],
    },
    "runDetails": {"builder": {"id": "https://nexuscore.io/builders/nexusctl/v1"}},
}
SUBJECT = ResourceDescriptor.of("bundle", "sha256:" + "b" * 64)


def test_statement_round_trip_is_typed() -> None:
    payload = statement_bytes([SUBJECT], SLSA_PROVENANCE_PREDICATE, PROVENANCE)
    statement = parse_statement(payload, SlsaProvenance)
    assert statement.subject[0].sha256 == "b" * 64
    assert statement.names_digest("b" * 64)
    assert not statement.names_digest("c" * 64)
    build = statement.predicate.build_definition
    assert build.external_parameters["policy"]["version"] == 3
    assert build.resolved_dependencies[0].digest == {"gitCommit": "a" * 40}
    dumped = statement.predicate.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped == PROVENANCE


def test_statement_bytes_are_canonical_with_in_toto_names() -> None:
    payload = statement_bytes([SUBJECT], SLSA_PROVENANCE_PREDICATE, PROVENANCE)
    doc = json.loads(payload)
    assert payload == canonical_bytes(doc)
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["predicateType"] == SLSA_PROVENANCE_PREDICATE
    assert doc["subject"] == [{"name": "bundle", "digest": {"sha256": "b" * 64}}]


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"not json", "statement"),
        (b"[]", "statement"),
        (b'{"_type": "https://in-toto.io/Statement/v0.1"}', "statement"),
        (
            b'{"_type": "https://in-toto.io/Statement/v1", "subject": [], '
            b'"predicateType": "https://slsa.dev/provenance/v1", "predicate": {}}',
            "statement",
        ),
        (
            b'{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "x"}], '
            b'"predicateType": "https://slsa.dev/provenance/v1", "predicate": {}, "extra": 1}',
            "statement",
        ),
        (
            b'{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "x"}], '
            b'"predicateType": "https://example.invalid/v1", "predicate": {}}',
            "predicate-type",
        ),
        (
            b'{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "x"}], '
            b'"predicateType": "https://slsa.dev/provenance/v1", "predicate": {"x": 1}}',
            "predicate",
        ),
    ],
)
def test_parse_statement_refusals(payload: bytes, kind: str) -> None:
    with pytest.raises(StatementError) as info:
        parse_statement(payload, SlsaProvenance)
    assert info.value.kind == kind


def test_every_attestation_kind_names_a_predicate_model() -> None:
    assert set(ATTESTATION_KINDS) == {"provenance", "routing-diff"}
    assert predicate_type_of(ATTESTATION_KINDS["routing-diff"]) == ROUTING_DIFF_PREDICATE
    assert predicate_type_of(ATTESTATION_KINDS["provenance"]) == SLSA_PROVENANCE_PREDICATE
    assert RoutingDiffPredicate.PREDICATE_TYPE == ROUTING_DIFF_PREDICATE
    assert "PREDICATE_TYPE" not in ModelSigningPredicate.model_fields


def test_resource_descriptor_refuses_non_sha256() -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        ResourceDescriptor.of("x", "sha256:XYZ")


def test_reason_codes_are_their_documented_strings() -> None:
    error = VerificationError("x", reason=Reason.SYMLINK)
    assert error.reason == "symlink"
    assert f"[{error.reason}]" == "[symlink]"
    assert json.dumps({"reason": error.reason}) == '{"reason": "symlink"}'
    assert len({r.value for r in Reason}) == len(Reason)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "deeper than"),
        (b"[" * 33 + b"]" * 33, "deeper than"),
        (b"1" * 4400, "outside"),
        (b"1" + b"0" * 400, "outside"),
        (str(MAX_SAFE_INTEGER + 1).encode(), "outside"),
        (b'{"a": 1, "a": 2}', "duplicate key"),
        (b"[NaN]", "NaN"),
        (b"[Infinity]", "Infinity"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b'{"a": ', "not JSON"),
    ],
)
def test_loads_strict_refusals(raw: bytes, message: str) -> None:
    with pytest.raises(JsonLimitError, match=message):
        loads_strict(raw)


def test_loads_strict_accepts_bounds_exactly() -> None:
    assert loads_strict(b"[" * 32 + b"]" * 32) is not None
    assert loads_strict(str(MAX_SAFE_INTEGER).encode()) == MAX_SAFE_INTEGER
    assert loads_strict(str(-MAX_SAFE_INTEGER).encode()) == -MAX_SAFE_INTEGER
    assert loads_strict(b'{"s": "[[[[", "n": [1, 2.5]}') == {"s": "[[[[", "n": [1, 2.5]}


def test_loads_strict_container_cap() -> None:
    assert loads_strict(b"[{}, {}]", max_containers=3) == [{}, {}]
    with pytest.raises(JsonTooLargeError):
        loads_strict(b"[{}, {}, {}]", max_containers=3)


def test_trust_policy_kinds_are_the_attestation_kinds() -> None:
    """The trust policy's Literal (static, for its JSON Schema) names exactly the known kinds."""
    import typing

    from nexusctl.signing.trust import AttestationKind

    assert set(typing.get_args(AttestationKind)) == set(ATTESTATION_KINDS)
