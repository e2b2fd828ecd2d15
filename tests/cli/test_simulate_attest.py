"""`simulate --attest`: a signed routing-diff bound to bundle digests, checked by verify."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.traffic.synth import write_synth
from tests.conftest import POLICIES

TRUST = """\
apiVersion: nexuscore.io/v1
kind: TrustPolicy
metadata:
  name: attest-test
  version: 1
spec:
  defaultEnvironment: prod
  environments:
    prod:
      keys:
        - id: release
          path: release.pub
      requiredAttestations: [routing-diff]
"""


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def signed_pair(tmp_path: Path) -> Path:
    assert _run("key", "generate", "--out", str(tmp_path / "release.pem"))[0] == 0
    for name, policy in (("live", "retail-chat.yaml"), ("cand", "retail-chat.candidate.yaml")):
        code, _, err = _run("policy", "bundle", str(POLICIES / policy), "-o", str(tmp_path / name))
        assert code == 0, err
    code, _, err = _run(
        "policy", "sign", str(tmp_path / "cand"), "--key", str(tmp_path / "release.pem")
    )
    assert code == 0, err
    write_synth(tmp_path / "traffic.parquet", 5_000, 11)
    (tmp_path / "trust.yaml").write_text(TRUST)
    return tmp_path


def _simulate(tmp: Path, *extra: str) -> tuple[int, str, str]:
    return _run(
        "simulate",
        "-b", str(tmp / "live"),
        "-c", str(tmp / "cand"),
        "-t", str(tmp / "traffic.parquet"),
        "--format", "json",
        "--attest", str(tmp / "diff.sigstore.json"),
        "--key", str(tmp / "release.pem"),
        *extra,
    )  # fmt: skip


def test_attestation_binds_both_bundle_digests_and_satisfies_verify(signed_pair: Path) -> None:
    code, out, err = _simulate(signed_pair)
    assert code == 0, err
    result = json.loads(out)
    envelope = json.loads((signed_pair / "diff.sigstore.json").read_bytes())["dsseEnvelope"]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    live = json.loads(_run("policy", "bundle", str(POLICIES / "retail-chat.yaml"), "-o",
                           str(signed_pair / "again"), "--format", "json")[1])  # fmt: skip
    predicate = statement["predicate"]
    assert predicate["baseline"]["bundle_digest"] == live["digest"]
    assert statement["subject"][0]["name"] == "retail-chat-v4"
    assert (
        "sha256:" + statement["subject"][0]["digest"]["sha256"]
        == (predicate["candidate"]["bundle_digest"])
    )
    assert predicate["requests"] == result["decisions"]["requests"] == 5_000
    assert predicate["passed"] is True
    assert "float" not in {type(v).__name__ for v in _leaves(predicate)}
    code, out, err = _run("policy", "verify", str(signed_pair / "cand"), "--trust",
                          str(signed_pair / "trust.yaml"))  # fmt: skip
    assert code == 0, err
    assert "attestation routing-diff: signed by key:release" in out


def test_a_failed_gate_is_attested_but_does_not_satisfy_a_required_routing_diff(
    signed_pair: Path,
) -> None:
    code, _, err = _simulate(signed_pair, "--gate", "changed_decisions_max_pct=0")
    assert code == 6, err
    assert (signed_pair / "cand" / "attestations" / "routing-diff.sigstore.json").is_file()
    code, _, err = _run("policy", "verify", str(signed_pair / "cand"), "--trust",
                        str(signed_pair / "trust.yaml"))  # fmt: skip
    assert code == 5
    assert "routing-diff-failed" in err
    assert "changed_decisions_max_pct" in err


def test_required_routing_diff_missing_fails_verify(signed_pair: Path) -> None:
    code, _, err = _run("policy", "verify", str(signed_pair / "cand"), "--trust",
                        str(signed_pair / "trust.yaml"))  # fmt: skip
    assert code == 5
    assert "attestation-missing" in err


def test_signing_options_without_attest_are_a_usage_error(signed_pair: Path) -> None:
    tmp = signed_pair
    code, _, err = _run("simulate", "-b", str(tmp / "live"), "-c", str(tmp / "cand"),
                        "-t", str(tmp / "traffic.parquet"), "--key",
                        str(tmp / "release.pem"))  # fmt: skip
    assert code == 2
    assert "--attest" in err


def test_a_tampered_candidate_bundle_is_never_simulated(signed_pair: Path) -> None:
    policy = signed_pair / "cand" / "retail-chat.candidate.yaml"
    policy.write_text(policy.read_text().replace("sloMs: 4000", "sloMs: 4001"))
    code, _, err = _simulate(signed_pair)
    assert code == 5
    assert "differs from the manifest" in err
    assert not (signed_pair / "diff.sigstore.json").exists()


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]
