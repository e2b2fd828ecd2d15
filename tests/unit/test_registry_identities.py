"""Approvals signed with private-PKI certificates, judged against the config's identities.

Real certificates (a throwaway PKI), real signatures, real git. Each refusal has a twin that
passes (the first test), so the refusals are the identity check's doing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.clock import FixedClock
from nexusctl.errors import VerificationError
from nexusctl.registry import ops
from nexusctl.registry.gates import RegistryGateFailed
from nexusctl.registry.records import read_unverified, sign_record
from nexusctl.registry.verify import verify_registry
from nexusctl.signing import CertificateSigner
from nexusctl.statements import PromotionPredicate
from tests.e2e.signing.pki import make_pki
from tests.registry_kit import World, config_yaml, make_keys, signed_bundle, write_setup

ALICE = "alice@nebula.example"
EVE = "eve@nebula.example"


def _identity(ident: str, san: str, root: Path) -> str:
    pem = textwrap.indent(root.read_text(), "        ")
    return f"    - id: {ident}\n      san: {san}\n      ca: |\n{pem}"


@pytest.fixture
def world(tmp_path: Path) -> tuple[World, dict[str, dict[str, Path]]]:
    """v3 live in dev; staging needs one approval by the certificate identity alice-cert.

    eve-cert is a known identity of the same CA, but approves only prod; the 'outsider' PKI is
    not in the config at all.
    """
    pkis = {}
    for name, san in (("alice", ALICE), ("eve", EVE), ("outsider", ALICE)):
        (tmp_path / name).mkdir()
        pkis[name] = make_pki(tmp_path / name, san)
    keys = make_keys(tmp_path)
    write_setup(tmp_path, soak=0)
    text = config_yaml(tmp_path, soak=0)
    identities = "  identities:\n" + _identity("alice-cert", ALICE, pkis["alice"]["root"])
    identities += _identity("eve-cert", EVE, pkis["eve"]["root"])
    text = text.replace("  admins:", identities + "  admins:", 1)
    text = text.replace(
        "approvers: {keys: [alice, bob], threshold: 1}",
        "approvers: {keys: [alice-cert], threshold: 1}",
    )
    text = text.replace(
        "approvers: {keys: [alice, bob, carol]", "approvers: {keys: [eve-cert, bob]"
    )
    (tmp_path / "registry.yaml").write_text(text)
    # Certificates are valid from a day ago: the registry's clock starts after that.
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=3)
    world = World(tmp_path, keys, FixedClock(start), tmp_path / "reg")
    ops.init_registry(
        world.reg,
        tmp_path / "registry.yaml",
        tmp_path / "trust.yaml",
        [keys["admin"], keys["admin2"]],
        world.clock,
    )
    ops.publish(world.reg, signed_bundle(tmp_path, 3, keys["ci"]), keys["ci"], world.clock)
    ops.promote(world.reg, "retail-chat", 3, "dev", keys["ci"], world.clock)
    return world, pkis


def signer(pki: dict[str, Path]) -> CertificateSigner:
    return CertificateSigner.from_files(pki["key"], pki["leaf"], pki["chain"])


def forge_approval(world: World, pki: dict[str, Path], actor: str) -> Path:
    """Append a chained approve record for staging, signed by ``pki``, claiming ``actor``."""
    last = sorted((world.reg / "records").glob("*.json"))[-1]
    raw = last.read_bytes()
    base = read_unverified(raw, last.name)
    fields = base.model_dump()
    now = world.clock.now()
    fields.update(
        sequence=base.sequence + 1,
        previous_record="sha256:" + hashlib.sha256(raw).hexdigest(),
        actor=actor,
        event="approve",
        environment="staging",
        time=now.isoformat().replace("+00:00", "Z"),
        grant={"purpose": "promote", "expires": (now + dt.timedelta(hours=1)).isoformat()},
        gates=[],
        previous_live=None,
    )
    predicate = PromotionPredicate.model_validate(fields)
    path = last.with_name(f"{base.sequence + 1:012d}.json")
    path.write_bytes(sign_record(predicate, signer(pki)))
    git = ["git", "-C", str(world.reg), "-c", "user.name=M", "-c", "user.email=m@x.invalid"]
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "forged approval"], check=True)
    return path


def verify_failure(world: World) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        verify_registry(world.reg)
    return info.value


def test_certificate_approval_by_an_approver_counts(
    world: tuple[World, dict[str, dict[str, Path]]],
) -> None:
    w, pkis = world
    approved = ops.approve(w.reg, "retail-chat", 3, "staging", signer(pkis["alice"]), w.clock)
    assert approved.predicate.actor == "alice-cert"
    result = ops.promote(w.reg, "retail-chat", 3, "staging", w.keys["ci"], w.clock)
    approvals = next(g for g in result.predicate.gates if g.name == "approvals")
    assert approvals.verdict == "pass"
    assert verify_registry(w.reg)["ok"] is True


def test_known_identity_that_is_not_an_approver_cannot_approve(
    world: tuple[World, dict[str, dict[str, Path]]],
) -> None:
    w, pkis = world
    with pytest.raises(VerificationError) as info:
        ops.approve(w.reg, "retail-chat", 3, "staging", signer(pkis["eve"]), w.clock)
    assert info.value.reason == "untrusted-signer"
    assert "eve-cert" in str(info.value)


def test_certificate_of_an_unknown_ca_cannot_approve(
    world: tuple[World, dict[str, dict[str, Path]]],
) -> None:
    w, pkis = world  # same SAN as alice, but a root the config does not name
    with pytest.raises(VerificationError) as info:
        ops.approve(w.reg, "retail-chat", 3, "staging", signer(pkis["outsider"]), w.clock)
    assert info.value.reason == "untrusted-signer"


def test_forged_approval_by_a_non_approver_fails_the_gate_and_verify(
    world: tuple[World, dict[str, dict[str, Path]]],
) -> None:
    w, pkis = world
    path = forge_approval(w, pkis["eve"], "eve-cert")
    with pytest.raises(RegistryGateFailed) as gate:
        ops.promote(w.reg, "retail-chat", 3, "staging", w.keys["ci"], w.clock)
    assert gate.value.gate == "approvals"
    error = verify_failure(w)
    assert error.reason == "untrusted-signer"
    assert path.name in str(error)
    assert "eve-cert" in str(error)


@pytest.mark.parametrize("pki", ["eve", "outsider"])
def test_approval_claiming_an_approver_counts_only_as_its_real_signer(
    world: tuple[World, dict[str, dict[str, Path]]], pki: str
) -> None:
    w, pkis = world
    path = forge_approval(w, pkis[pki], "alice-cert")  # the record lies about its actor
    with pytest.raises(RegistryGateFailed) as gate:
        ops.promote(w.reg, "retail-chat", 3, "staging", w.keys["ci"], w.clock)
    assert gate.value.gate == "approvals"
    error = verify_failure(w)
    assert error.reason == ("actor-mismatch" if pki == "eve" else "untrusted-signer")
    assert path.name in str(error)


def test_cli_approve_with_certificate_and_chain(
    world: tuple[World, dict[str, dict[str, Path]]],
) -> None:
    from nexusctl.cli.app import app

    w, pkis = world
    pki = pkis["alice"]
    args = ["registry", "approve", "retail-chat@3", "--env", "staging", "-r", str(w.reg)]
    args += ["--key", str(pki["key"]), "--certificate", str(pki["leaf"])]
    args += ["--chain", str(pki["chain"]), "--format", "json"]
    result = CliRunner().invoke(app, args, prog_name="nexusctl")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["predicate"]["actor"] == "alice-cert"
    args[args.index(str(pki["key"]))] = str(pkis["eve"]["key"])
    args[args.index(str(pki["leaf"]))] = str(pkis["eve"]["leaf"])
    args[args.index(str(pki["chain"]))] = str(pkis["eve"]["chain"])
    refused = CliRunner().invoke(app, args, prog_name="nexusctl")
    assert refused.exit_code == 5, refused.stdout
