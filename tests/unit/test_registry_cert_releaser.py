"""Promote and roll back as a releaser named by a private-PKI certificate identity: the record
is signed with the certificate, the TUF metadata with a key of the config's `tufKeys`.

Real certificates (a throwaway PKI), real signatures, real git, python-tuf's real client. Each
refusal has a twin that passes, so the refusals are the checks' doing.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.clock import FixedClock
from nexusctl.errors import UsageError, VerificationError
from nexusctl.registry import ops
from nexusctl.registry.resolve import resolve
from nexusctl.registry.verify import verify_registry
from nexusctl.signing import CertificateSigner
from nexusctl.signing.keys import generate_key_pair
from tests.e2e.signing.pki import make_pki
from tests.registry_kit import World, config_yaml, make_keys, signed_bundle, write_setup

RELEASE = "release@nebula.example"


@pytest.fixture
def world(tmp_path: Path) -> tuple[World, dict[str, Path]]:
    """Releasers: ci (a key) and rel-cert (a certificate identity); tufKeys: [tuf]."""
    (tmp_path / "rel").mkdir()
    pki = make_pki(tmp_path / "rel", RELEASE)
    keys = make_keys(tmp_path)
    generate_key_pair(tmp_path / "tuf.pem")
    keys["tuf"] = tmp_path / "tuf.pem"
    write_setup(tmp_path, soak=0)
    text = config_yaml(tmp_path, soak=0, releasers=("ci", "rel-cert"))
    tuf_pem = textwrap.indent((tmp_path / "tuf.pub").read_text(), "        ")
    root_pem = textwrap.indent(pki["root"].read_text(), "        ")
    text = text.replace(
        "  admins:",
        f"    - id: tuf\n      pem: |\n{tuf_pem}"
        f"  identities:\n    - id: rel-cert\n      san: {RELEASE}\n      ca: |\n{root_pem}"
        "  tufKeys: [tuf]\n  admins:",
        1,
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
    return world, pki


def signer(pki: dict[str, Path]) -> CertificateSigner:
    return CertificateSigner.from_files(pki["key"], pki["leaf"], pki["chain"])


def test_a_certificate_releaser_promotes_and_rolls_back_with_a_tuf_key(
    world: tuple[World, dict[str, Path]], tmp_path: Path
) -> None:
    w, pki = world
    keys, reg, c = w.keys, w.reg, w.clock
    ops.publish(reg, signed_bundle(w.tmp, 3, keys["ci"]), signer(pki), c)
    with pytest.raises(UsageError, match="--tuf-key"):  # a certificate holds no TUF key
        ops.promote(reg, "retail-chat", 3, "dev", signer(pki), c)
    with pytest.raises(VerificationError) as info:  # alice's key signs no TUF metadata
        ops.promote(reg, "retail-chat", 3, "dev", signer(pki), c, tuf_key=keys["alice"])
    assert info.value.reason == "untrusted-signer"
    promoted = ops.promote(reg, "retail-chat", 3, "dev", signer(pki), c, tuf_key=keys["tuf"])
    assert promoted.predicate.actor == "rel-cert"
    gateway = tmp_path / "gateway"
    assert resolve(str(reg), "dev", "retail-chat", gateway).version == 3
    ops.publish(reg, signed_bundle(w.tmp, 4, keys["ci"]), keys["ci"], c)
    ops.promote(reg, "retail-chat", 4, "dev", keys["ci"], c)  # a key releaser: as before
    assert resolve(str(reg), "dev", "retail-chat", gateway).version == 4
    c.advance(dt.timedelta(minutes=5))
    back = ops.rollback(reg, "retail-chat", "dev", 3, "spend spike", signer(pki), c, keys["tuf"])
    assert (back.predicate.event, back.predicate.actor) == ("rollback", "rel-cert")
    assert resolve(str(reg), "dev", "retail-chat", gateway).version == 3
    summary = verify_registry(reg)
    assert summary["live"]["dev"]["retail-chat"]["version"] == 3


def test_a_promotion_record_signed_by_an_unknown_certificate_fails_verify(
    world: tuple[World, dict[str, Path]], tmp_path: Path
) -> None:
    """The same promotion signed by a certificate of a CA the config does not name."""
    w, pki = world
    keys, reg, c = w.keys, w.reg, w.clock
    ops.publish(reg, signed_bundle(w.tmp, 3, keys["ci"]), keys["ci"], c)
    (tmp_path / "outsider").mkdir()
    outsider = make_pki(tmp_path / "outsider", RELEASE)
    with pytest.raises(VerificationError) as info:
        ops.promote(reg, "retail-chat", 3, "dev", signer(outsider), c, tuf_key=keys["tuf"])
    assert info.value.reason == "untrusted-signer"
    ops.promote(reg, "retail-chat", 3, "dev", signer(pki), c, tuf_key=keys["tuf"])
    assert verify_registry(reg)["ok"] is True


def test_cli_promote_with_certificate_chain_and_tuf_key(
    world: tuple[World, dict[str, Path]],
) -> None:
    w, pki = world
    keys, reg = w.keys, w.reg
    ops.publish(reg, signed_bundle(w.tmp, 3, keys["ci"]), keys["ci"], w.clock)
    base = ["registry", "promote", "retail-chat@3", "--to", "dev", "-r", str(reg)]
    cert = ["--key", str(pki["key"]), "--certificate", str(pki["leaf"])]
    cert += ["--chain", str(pki["chain"])]
    runner = CliRunner()
    result = runner.invoke(app, [*base, *cert], prog_name="nexusctl")
    assert result.exit_code == 2, result.stderr
    assert "--tuf-key" in result.stderr
    result = runner.invoke(
        app, [*base, *cert, "--tuf-key", str(keys["tuf"]), "--format", "json"], prog_name="nexusctl"
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["predicate"]["actor"] == "rel-cert"
    log = subprocess.run(
        ["git", "-C", str(reg), "log", "-1", "--format=%an %s"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert log == "rel-cert promote: retail-chat v3 to dev (record 3)"


def test_tuf_keys_must_be_keys(tmp_path: Path) -> None:
    from nexusctl.errors import InputError
    from nexusctl.registry.config import load_config

    make_keys(tmp_path)
    (tmp_path / "rel").mkdir()
    pki = make_pki(tmp_path / "rel", RELEASE)
    root_pem = textwrap.indent(pki["root"].read_text(), "        ")
    text = config_yaml(tmp_path).replace(
        "  admins:",
        f"  identities:\n    - id: rel-cert\n      san: {RELEASE}\n      ca: |\n{root_pem}"
        "  tufKeys: [rel-cert]\n  admins:",
        1,
    )
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(InputError, match="tufKeys must be keys"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "good.yaml").write_text(text.replace("tufKeys: [rel-cert]", "tufKeys: [carol]"))
    assert load_config(tmp_path / "good.yaml").config.spec.tuf_keys == ["carol"]
