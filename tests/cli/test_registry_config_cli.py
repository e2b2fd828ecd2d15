"""Config changes through the CLI: a relaxed config without the admins' threshold is refused
(exit 5, nothing recorded; or caught by verify when committed by hand), a properly signed
rotation is applied and verifies."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.registry.config import load_config
from nexusctl.registry.records import read_unverified, sign_record
from nexusctl.signing import KeySigner
from nexusctl.statements import PromotionPredicate
from tests.registry_kit import config_yaml, make_keys, write_setup

runner = CliRunner()


def run(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args], prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    """A registry whose config changes need both admins (threshold 2)."""
    keys = make_keys(tmp_path)
    config, trust = write_setup(tmp_path, soak=0, admin_threshold=2)
    code, _, err = run(
        "registry", "init", tmp_path / "reg", "--config", config, "--trust", trust,
        "--key", keys["admin"], "--key", keys["admin2"],
    )  # fmt: skip
    assert code == 0, err
    relaxed = tmp_path / "v2.yaml"
    relaxed.write_text(config_yaml(tmp_path, version=2, admin_threshold=2, prod_approvals=0))
    return {"tmp": tmp_path, "reg": tmp_path / "reg", "v2": relaxed, **keys}


def records(reg: Path) -> list[Path]:
    return sorted((reg / "records").glob("*.json"))


def test_one_admin_cannot_apply_a_relaxed_config(setup: dict[str, Path]) -> None:
    reg = setup["reg"]
    code, out, err = run("registry", "config", "propose", setup["v2"], "--key", setup["admin"],
                         "-r", reg)  # fmt: skip
    assert (code, out.strip()) == (0, "proposed config v2"), err
    before = records(reg)
    code, out, err = run("registry", "config", "apply", "--key", setup["admin"], "-r", reg)
    assert code == 5
    assert "has 1 of the 2 admin signatures that v1 requires" in err
    assert records(reg) == before
    # Someone who is not an admin cannot add the missing signature.
    code, _, err = run("registry", "config", "sign", "--key", setup["alice"], "-r", reg)
    assert code == 5
    assert "not allowed to sign a config change" in err
    code, out, _ = run("registry", "status", "-r", reg, "--format", "json")
    assert json.loads(out)["config_version"] == 1


def test_a_relaxed_config_committed_by_hand_fails_verify(setup: dict[str, Path]) -> None:
    """An admin with push access writes v2 and its config record alone, and pushes it."""
    reg, admin = setup["reg"], setup["admin"]
    target = reg / "config" / "v000002.yaml"
    target.write_bytes(setup["v2"].read_bytes())
    last = records(reg)[-1]
    raw = last.read_bytes()
    base = read_unverified(raw, last.name)
    fields = base.model_dump()
    fields.update(
        sequence=base.sequence + 1,
        event="config",
        actor="admin",
        previous_record="sha256:" + hashlib.sha256(raw).hexdigest(),
        config_version=2,
        config_digest=load_config(target).digest,
        config_signatures=["admin"],
    )
    signed = sign_record(PromotionPredicate.model_validate(fields), KeySigner.from_file(admin))
    last.with_name(f"{base.sequence + 1:012d}.json").write_bytes(signed)
    git = ["git", "-C", str(reg), "-c", "user.name=admin", "-c", "user.email=a@x.invalid"]
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "relax prod"], check=True)
    code, out, _ = run("registry", "verify", "-r", reg, "--format", "json")
    assert code == 5
    doc = json.loads(out)
    assert doc["ok"] is False
    assert doc["reason"] == "config-threshold"
    assert "record 2 " in doc["message"]


def test_a_properly_signed_rotation_applies_and_verifies(setup: dict[str, Path]) -> None:
    reg = setup["reg"]
    assert run("registry", "config", "propose", setup["v2"], "--key", setup["admin"],
               "-r", reg)[0] == 0  # fmt: skip
    code, out, err = run("registry", "config", "sign", "--key", setup["admin2"], "-r", reg)
    assert (code, out.strip()) == (0, "signed by admin, admin2"), err
    code, out, err = run("registry", "config", "apply", "--key", setup["admin2"], "-r", reg,
                         "--format", "json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["event"] == "config"
    assert doc["predicate"]["config_signatures"] == ["admin", "admin2"]
    assert (reg / "config" / "v000002.sig" / "admin2.json").is_file()
    assert not (reg / "config" / "proposed").exists()
    code, out, err = run("registry", "verify", "-r", reg, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["config_version"] == 2
    code, out, _ = run("registry", "status", "-r", reg, "--format", "json")
    assert json.loads(out)["config_version"] == 2


def test_a_releaser_rotation_through_the_cli(setup: dict[str, Path]) -> None:
    """v2 replaces releaser ci with carol and makes alice the second admin: every
    environment's TUF root rotates; the admins of v1 and of v2 sign it."""
    reg, tmp = setup["reg"], setup["tmp"]
    v2 = tmp / "rotate.yaml"
    v2.write_text(
        config_yaml(
            tmp, version=2, admins=("admin", "alice"), admin_threshold=2, releasers=("carol",)
        )
    )
    code, out, err = run("registry", "config", "propose", v2, "--key", setup["admin"], "-r", reg)
    assert code == 0, err
    assert out.splitlines()[0] == "proposed config v2"
    assert "  TUF root prod v2: signed by 1/2 of root v1's keys, 1/2 of its own" in out
    code, out, err = run("registry", "config", "sign", "--key", setup["alice"], "-r", reg)
    assert code == 0, err
    assert out.splitlines()[0] == "signed by admin"  # alice is not an admin of v1
    assert "  TUF root prod v2: signed by 1/2 of root v1's keys, 2/2 of its own" in out
    code, _, err = run("registry", "config", "apply", "--key", setup["admin"], "-r", reg)
    assert code == 5
    assert "config v2 has 1 of the 2 admin signatures that v1 requires" in err
    code, out, err = run("registry", "config", "sign", "--key", setup["admin2"], "-r", reg)
    assert (code, out.splitlines()[0]) == (0, "signed by admin, admin2"), err
    assert "  TUF root prod v2: signed by 2/2 of root v1's keys, 2/2 of its own" in out
    code, _, err = run("registry", "config", "apply", "--key", setup["admin"], "-r", reg)
    assert code == 0, err
    code, out, err = run("registry", "verify", "-r", reg, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["config_version"] == 2
    assert sorted(p.name for p in (reg / "tuf" / "prod" / "metadata").glob("*.root.json")) == [
        "1.root.json",
        "2.root.json",
    ]
    # Root 2 re-signed by the new admins alone: root 1's threshold is gone -> exit 5.
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata, Root

    from nexusctl.signing.keys import load_private_key

    path = reg / "tuf" / "staging" / "metadata" / "2.root.json"
    root = Metadata[Root].from_bytes(path.read_bytes())
    root.sign(CryptoSigner(load_private_key(setup["alice"])))
    root.sign(CryptoSigner(load_private_key(setup["admin"])), append=True)
    path.write_bytes(root.to_bytes())
    git = ["git", "-C", str(reg), "-c", "user.name=m", "-c", "user.email=m@x.invalid"]
    subprocess.run([*git, "commit", "--quiet", "-am", "re-sign root 2"], check=True)
    code, out, _ = run("registry", "verify", "-r", reg, "--format", "json")
    assert code == 5
    doc = json.loads(out)
    assert doc["reason"] == "tuf-root-threshold"
    assert "tuf/staging/metadata/2.root.json: signed by 1 of root v1's 2" in doc["message"]


def test_a_trust_policy_change_through_the_cli(setup: dict[str, Path]) -> None:
    reg, tmp = setup["reg"], setup["tmp"]
    folder = tmp / "trust-v2"
    folder.mkdir()
    (folder / "bob.pub").write_bytes((tmp / "bob.pub").read_bytes())
    trust = folder / "trust.yaml"
    trust.write_text((tmp / "trust.yaml").read_text().replace("ci", "bob"))
    v2 = tmp / "trust-change.yaml"
    v2.write_text(
        config_yaml(tmp, version=2, admin_threshold=2, trust_policy="trust/v2/trust.yaml")
    )
    digest = "sha256:" + hashlib.sha256(trust.read_bytes()).hexdigest()
    code, out, err = run("registry", "config", "propose", v2, "--key", setup["admin"], "-r", reg)
    assert code == 2  # the config moves its trust policy: the new one must come with it
    assert "--trust-policy" in err
    code, out, err = run("registry", "config", "propose", v2, "--key", setup["admin"], "-r", reg,
                         "--trust-policy", trust)  # fmt: skip
    assert code == 0, err
    assert out.splitlines() == ["proposed config v2", f"  with trust policy {digest}"]
    assert run("registry", "config", "sign", "--key", setup["admin2"], "-r", reg)[0] == 0
    code, out, err = run("registry", "config", "apply", "--key", setup["admin2"], "-r", reg,
                         "--format", "json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["predicate"]["trust_policy_digest"] == digest
    code, out, err = run("registry", "verify", "-r", reg, "--format", "json")
    assert code == 0, err
    # The old trust policy swapped by hand afterwards: exit 5, trust-policy-changed.
    (reg / "trust" / "trust.yaml").write_bytes(trust.read_bytes())
    git = ["git", "-C", str(reg), "-c", "user.name=m", "-c", "user.email=m@x.invalid"]
    subprocess.run([*git, "commit", "--quiet", "-am", "swap"], check=True)
    code, out, _ = run("registry", "verify", "-r", reg, "--format", "json")
    assert (code, json.loads(out)["reason"]) == (5, "trust-policy-changed")
