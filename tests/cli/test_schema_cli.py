"""`nexusctl schema export|docs`: writes, --check exit codes, drift listing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.schema._registry import EXPORTED_MODELS
from tests.conftest import REPO

EXPECTED = sorted(f"{name}.json" for name, _ in EXPORTED_MODELS)


def test_export_writes_each_schema_then_check_is_clean(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    result = CliRunner().invoke(app, ["schema", "export", "--out", str(out)], prog_name="nexusctl")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == EXPECTED
    assert f"wrote {out / 'RoutingPolicy.json'}" in result.stdout
    for name in EXPECTED:
        assert (out / name).read_bytes() == (REPO / "schemas" / name).read_bytes()
    again = CliRunner().invoke(app, ["schema", "export", "--out", str(out)], prog_name="nexusctl")
    assert again.exit_code == 0
    assert "already up to date" in again.stdout
    check = CliRunner().invoke(
        app, ["schema", "export", "--out", str(out), "--check"], prog_name="nexusctl"
    )
    assert check.exit_code == 0, check.stderr
    assert check.stdout == f"{out}: {len(EXPECTED)} schema(s) in sync with the models\n"


def test_export_check_exits_1_and_lists_drifted_files_without_writing(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    CliRunner().invoke(app, ["schema", "export", "--out", str(out)], prog_name="nexusctl")
    policy = out / "RoutingPolicy.json"
    policy.write_text("{}\n")
    (out / "ModelCatalog.json").unlink()
    (out / "Extra.json").write_text("{}\n")
    result = CliRunner().invoke(
        app, ["schema", "export", "--out", str(out), "--check"], prog_name="nexusctl"
    )
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{out / 'Extra.json'}: stale",
        f"{out / 'ModelCatalog.json'}: missing",
        f"{out / 'RoutingPolicy.json'}: changed",
    ]
    assert "3 file(s) drifted" in result.stderr
    assert policy.read_text() == "{}\n"
    assert not (out / "ModelCatalog.json").exists()


def test_export_notes_a_stale_file_but_keeps_it(tmp_path: Path) -> None:
    (tmp_path / "Old.json").write_text("{}\n")
    result = CliRunner().invoke(
        app, ["schema", "export", "-o", str(tmp_path)], prog_name="nexusctl"
    )
    assert result.exit_code == 0
    assert "Old.json is not generated from any model" in result.stderr
    assert (tmp_path / "Old.json").exists()


def test_export_to_an_unwritable_place_exits_4(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(
        app, ["schema", "export", "--out", str(blocker / "sub")], prog_name="nexusctl"
    )
    assert result.exit_code == 4
    assert result.stderr.startswith("error: cannot write")
    assert "Traceback" not in result.stderr


def test_docs_writes_then_check_detects_a_hand_edit(tmp_path: Path) -> None:
    out = tmp_path / "reference.md"
    result = CliRunner().invoke(app, ["schema", "docs", "--out", str(out)], prog_name="nexusctl")
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes() == (REPO / "docs" / "policy-reference.md").read_bytes()
    ok = CliRunner().invoke(
        app, ["schema", "docs", "-o", str(out), "--check"], prog_name="nexusctl"
    )
    assert ok.exit_code == 0
    out.write_text(out.read_text() + "hand edit\n")
    bad = CliRunner().invoke(
        app, ["schema", "docs", "-o", str(out), "--check"], prog_name="nexusctl"
    )
    assert bad.exit_code == 1
    assert bad.stdout.strip() == f"{out}: changed"
    assert out.read_text().endswith("hand edit\n")
    missing = CliRunner().invoke(
        app, ["schema", "docs", "-o", str(tmp_path / "none.md"), "--check"], prog_name="nexusctl"
    )
    assert missing.exit_code == 1
    assert "missing" in missing.stdout


def test_committed_files_are_in_sync_via_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    schemas = CliRunner().invoke(app, ["schema", "export", "--check"], prog_name="nexusctl")
    docs = CliRunner().invoke(app, ["schema", "docs", "--check"], prog_name="nexusctl")
    assert schemas.exit_code == 0, schemas.stdout
    assert docs.exit_code == 0, docs.stdout
