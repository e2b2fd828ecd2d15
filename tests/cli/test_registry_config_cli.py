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
