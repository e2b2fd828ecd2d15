"""Private-PKI path validation through `policy verify`: path length, name constraints, EKU.

Each broken CA has a valid twin that verifies, so every refusal below is the constraint's doing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.conftest import POLICIES
from tests.e2e.signing.pki import certificate_sign_args, make_pki

EMAIL = "release@nebula.example"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


def sign_and_verify(
    tmp_path: Path, san: str = EMAIL, **options: Any
) -> tuple[int, dict[str, Any], str]:
    bundle = tmp_path / "b"
    code, _, err = run("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o", str(bundle))
    assert code == 0, err
    pki = make_pki(tmp_path, san, **options)
    code, _, err = run(*certificate_sign_args(bundle, pki))
    assert code == 0, err
    trust = tmp_path / "trust.yaml"
    trust.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: pki, version: 1}\n"
        "spec:\n  environments:\n    prod:\n      certificateAuthorities:\n"
        "        - {id: nebula-root, path: root.pem}\n"
    )
    code, out, err = run("policy", "verify", str(bundle), "--trust", str(trust), "--format", "json")
    return code, json.loads(out), err


def refused(tmp_path: Path, because: str, san: str = EMAIL, **options: Any) -> None:
    code, doc, err = sign_and_verify(tmp_path, san, **options)
    assert code == 5, doc
    assert doc["reason"] == "untrusted-signer"
    assert because in err  # the hint carries cryptography's reason


def accepted(tmp_path: Path, san: str = EMAIL, **options: Any) -> None:
    code, doc, err = sign_and_verify(tmp_path, san, **options)
    assert code == 0, err
    assert doc["signer"] == f"ca:nebula-root:{san}"


def test_two_intermediates_within_path_length_verify(tmp_path: Path) -> None:
    accepted(tmp_path, root_path_length=2, intermediates=2)


def test_root_path_length_exceeded_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "path length", root_path_length=1, intermediates=2)


@pytest.mark.parametrize("intermediates", [1, 2])
def test_path_length_zero_root_allows_no_intermediate(tmp_path: Path, intermediates: int) -> None:
    refused(tmp_path, "path length", root_path_length=0, intermediates=intermediates)


def _dns_constraint(domain: str) -> x509.NameConstraints:
    return x509.NameConstraints(permitted_subtrees=[x509.DNSName(domain)], excluded_subtrees=None)


def test_leaf_inside_name_constraints_verifies(tmp_path: Path) -> None:
    accepted(
        tmp_path, "signer.nebula.example", ca_name_constraints=_dns_constraint("nebula.example")
    )


def test_leaf_outside_name_constraints_is_refused(tmp_path: Path) -> None:
    refused(
        tmp_path,
        "name constraints",
        "signer.evil.example",
        ca_name_constraints=_dns_constraint("nebula.example"),
    )


def test_leaf_in_excluded_subtree_is_refused(tmp_path: Path) -> None:
    excluded = x509.NameConstraints(
        permitted_subtrees=None, excluded_subtrees=[x509.DNSName("evil.example")]
    )
    refused(tmp_path, "name constraint", "signer.evil.example", ca_name_constraints=excluded)


def test_leaf_eku_without_code_signing_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "does not allow code signing", leaf_eku=[ExtendedKeyUsageOID.SERVER_AUTH])


def test_leaf_without_eku_but_digital_signature_verifies(tmp_path: Path) -> None:
    accepted(tmp_path, leaf_eku=None)


def test_ca_limited_to_tls_cannot_issue_code_signing(tmp_path: Path) -> None:
    refused(tmp_path, "does not allow code signing", ca_eku=[ExtendedKeyUsageOID.SERVER_AUTH])


def test_ca_allowing_code_signing_verifies(tmp_path: Path) -> None:
    accepted(tmp_path, ca_eku=[ExtendedKeyUsageOID.CODE_SIGNING])
