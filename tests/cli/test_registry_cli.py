"""`nexusctl registry ...` through the CLI: outputs, exit codes, two clones racing over a remote."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.registry_kit import make_keys, signed_bundle, write_setup

runner = CliRunner()


def run(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args], prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


def git(*args: object) -> str:
    return subprocess.run(
        ["git", *[str(a) for a in args]], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    keys = make_keys(tmp_path)
    config, trust = write_setup(tmp_path, soak=0)
    code, out, err = run(
        "registry", "init", tmp_path / "reg", "--config", config, "--trust", trust,
        "--key", keys["admin"], "--key", keys["admin2"],
    )  # fmt: skip
    assert code == 0, err
    assert "recorded init as record 1" in out
    return {"tmp": tmp_path, "reg": tmp_path / "reg", **keys}


def test_publish_promote_status_history_verify(setup: dict[str, Path]) -> None:
    reg, tmp = setup["reg"], setup["tmp"]
    bundle = signed_bundle(tmp, 3, setup["ci"])
    code, out, err = run(
        "registry", "publish", bundle, "--key", setup["ci"], "-r", reg, "--format", "json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["event"] == "publish"
    assert doc["predicate"]["bundle"]["version"] == 3
    code, out, err = run("registry", "promote", "retail-chat@3", "--to", "staging",
                         "--key", setup["ci"], "-r", reg)  # fmt: skip
    assert code == 6
    assert "gate 'order' failed" in err
    assert out == ""
    assert run("registry", "promote", "retail-chat@3", "--to", "dev", "--key", setup["ci"],
               "-r", reg)[0] == 0  # fmt: skip
    code, out, err = run("registry", "approve", "retail-chat@v3", "--env", "staging",
                         "--key", setup["alice"], "-r", reg)  # fmt: skip
    assert code == 0, err
    code, out, err = run("registry", "promote", "retail-chat@3", "--to", "staging",
                         "--key", setup["ci"], "-r", reg)  # fmt: skip
    assert code == 0, err
    assert "gate approvals: pass" in out
    code, out, _ = run("registry", "status", "-r", reg)
    assert code == 0
    assert "staging:\n  retail-chat v3 sha256:" in out
    assert "prod:\n  (nothing live)" in out
    code, out, _ = run("registry", "history", "-r", reg, "--env", "staging", "--format", "json")
    assert [r["event"] for r in json.loads(out)["records"]] == ["approve", "promote"]
    code, out, _ = run("registry", "history", "-r", reg, "--at", "2000-01-01T00:00:00Z")
    assert "(nothing live)" in out
    code, out, _ = run("registry", "verify", "-r", reg, "--format", "json")
    assert code == 0
    assert json.loads(out)["records"] == 5
    # Hand-edit the live set: uncommitted, verify says an event is half-done; committed
    # (as someone with push access would), it names the tampered file. Exit 5, one JSON doc.
    (reg / "live" / "staging.json").write_text("{}")
    code, out, err = run("registry", "verify", "-r", reg, "--format", "json")
    assert code == 5
    assert json.loads(out)["reason"] == "uncommitted-event"
    git("-C", reg, "config", "user.name", "Mallory")
    git("-C", reg, "config", "user.email", "mallory@example.invalid")
    git("-C", reg, "commit", "--quiet", "-am", "tidy up")
    code, out, err = run("registry", "verify", "-r", reg, "--format", "json")
    assert code == 5
    assert json.loads(out)["reason"] == "live-tampered"
    assert "staging.json" in err


def test_bad_inputs_exit_codes(setup: dict[str, Path]) -> None:
    reg = setup["reg"]
    assert run("registry", "promote", "retail-chat", "--to", "dev", "--key", setup["ci"],
               "-r", reg)[0] == 2  # fmt: skip
    assert run("registry", "promote", "retail-chat@3", "--to", "qa", "--key", setup["ci"],
               "-r", reg)[0] == 2  # fmt: skip
    code, _, err = run("registry", "status", "-r", setup["tmp"])
    assert code == 3
    assert "not a registry" in err
    code, _, err = run("registry", "init", reg, "--config", setup["tmp"] / "registry.yaml",
                       "--trust", setup["tmp"] / "trust.yaml", "--key", setup["admin"])  # fmt: skip
    assert code == 3
    assert "not empty" in err
    assert run("registry", "status", "-r", reg, "--format", "xml")[0] == 2
    head = git("-C", reg, "rev-parse", "HEAD")
    for lifetime in ("99999999999999999999", "0", "-5"):  # the first overflowed a timedelta
        args = ["--key", setup["alice"], "--expires-in", lifetime, "-r", reg]
        code, _, err = run("registry", "approve", "retail-chat@3", "--env", "staging", *args)
        assert code == 2, err
        assert "--expires-in" in err
        assert "internal error" not in err
    assert git("-C", reg, "rev-parse", "HEAD") == head


def test_two_clones_one_wins_the_other_gets_exit_7(setup: dict[str, Path]) -> None:
    tmp, reg = setup["tmp"], setup["reg"]
    remote = tmp / "remote.git"
    git("clone", "--quiet", "--bare", reg, remote)
    clones = []
    for name in ("a", "b"):
        git("clone", "--quiet", remote, tmp / name)
        git("-C", tmp / name, "config", "user.name", f"clone {name}")
        git("-C", tmp / name, "config", "user.email", f"{name}@example.invalid")
        clones.append(tmp / name)
    a, b = clones
    v3, v4 = signed_bundle(tmp, 3, setup["ci"]), signed_bundle(tmp, 4, setup["ci"])
    assert run("registry", "publish", v3, "--key", setup["ci"], "-r", a)[0] == 0
    head_before = git("-C", b, "rev-parse", "HEAD")
    code, _, err = run("registry", "publish", v4, "--key", setup["ci"], "-r", b)
    assert code == 7
    assert "remote moved" in err
    assert git("-C", b, "rev-parse", "HEAD") == head_before  # the losing commit was undone
    assert git("-C", b, "status", "--porcelain") == ""
    assert run("registry", "pull", "-r", b)[0] == 0
    code, _, err = run("registry", "publish", v4, "--key", setup["ci"], "-r", b)
    assert code == 0, err
    assert run("registry", "pull", "-r", a)[0] == 0
    code, out, _ = run("registry", "verify", "-r", a, "--format", "json")
    assert code == 0
    assert json.loads(out)["records"] == 3  # init + both publishes: nothing lost
    log = git("--git-dir", remote, "log", "--format=%s").splitlines()
    assert log[:2] == ["publish: retail-chat v4 (record 3)", "publish: retail-chat v3 (record 2)"]


def test_processes_on_one_clone_are_serialised(setup: dict[str, Path]) -> None:
    import os
    import sys

    tmp, reg = setup["tmp"], setup["reg"]
    nexusctl = str(Path(sys.executable).parent / "nexusctl")
    bundles = [signed_bundle(tmp, v, setup["ci"]) for v in (3, 4, 5, 6)]
    procs = [
        subprocess.Popen(
            [nexusctl, "registry", "publish", str(b), "--key", str(setup["ci"]), "-r", str(reg)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "COLUMNS": "200"},
        )
        for b in bundles
    ]
    results = [(*p.communicate(timeout=300), p.returncode) for p in procs]
    assert [code for _, _, code in results] == [0, 0, 0, 0], results
    code, out, _ = run("registry", "verify", "-r", reg, "--format", "json")
    assert code == 0
    assert json.loads(out)["records"] == 5


@pytest.mark.parametrize(
    ("asset", "message"),
    [
        ("threshold-unreachable.yaml", "threshold 2 exceeds the 1 keys"),
        ("unknown-approver.yaml", "prod.approvers names unknown keys: eve"),
        ("bad-key.yaml", "not a PEM public key"),
    ],
)
def test_bad_configs_exit_3_and_create_nothing(
    setup: dict[str, Path], asset: str, message: str
) -> None:
    from tests.conftest import ASSETS

    target, trust = setup["tmp"] / "new", setup["tmp"] / "trust.yaml"
    config = ASSETS / "registry" / asset
    code, out, err = run(
        "registry", "init", target, "--config", config, "--trust", trust, "--key", setup["admin"]
    )
    assert code == 3
    assert message in err
    assert out == ""
    assert not target.exists()
