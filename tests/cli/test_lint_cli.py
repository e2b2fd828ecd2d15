"""``nexusctl policy lint`` on the examples and the edge cases of its options."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from nexusctl.cli.app import app

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLES = REPO / "policies" / "nebula"
LINT_ASSETS = REPO / "tests" / "assets" / "lint"
EXAMPLE_FILES = [
    str(EXAMPLES / name)
    for name in ("retail-chat.yaml", "credit-underwriting.yaml", "code-assistant.yaml")
]


def lint(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["policy", "lint", *args], prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


def test_examples_are_clean_even_at_note_level() -> None:
    code, out, _ = lint("--fail-on", "note", *EXAMPLE_FILES)
    assert code == 0, out
    assert out.strip() == (
        "3 policies and 1 catalog linted: 0 errors, 0 warnings, 0 notes; 4 suppressed"
    )


def test_examples_json_lists_the_justified_suppressions() -> None:
    code, out, _ = lint("--format", "json", *EXAMPLE_FILES)
    document = json.loads(out)
    assert code == 0
    assert document["findings"] == []
    waived = {(f["rule"], tuple(f["targets"][:1])) for f in document["suppressed"]}
    assert waived == {("NXL009", ("faq",)), ("NXL010", ("vision-statements",)),
                      ("NXL009", ("completion",)), ("NXL017", ("advice",))}  # fmt: skip
    assert all(len(f["suppression"]["reason"]) > 20 for f in document["suppressed"])


def test_fail_on_decides_the_exit_code() -> None:
    folder = str(LINT_ASSETS / "NXL002-shadowed-route")
    assert lint(folder)[0] == 0  # a warning is below the default fail level
    assert lint("--fail-on", "warning", folder)[0] == 1
    assert lint("--fail-on", "note", folder)[0] == 1


def test_folder_skips_other_kinds_with_a_note(tmp_path: Path) -> None:
    shutil.copytree(LINT_ASSETS / "NXL001-frontier-catch-all", tmp_path / "p")
    (tmp_path / "p" / "gates.yaml").write_text("kind: SimulationGates\n")
    (tmp_path / "p" / ".hidden.yaml").write_text("{{{ not yaml\n")
    (tmp_path / "p" / "notes.txt").write_text("ignored\n")
    code, out, err = lint(str(tmp_path))
    assert code == 1
    assert "NXL001" in out
    assert "gates.yaml: kind 'SimulationGates' is not linted; skipped" in err
    assert "hidden" not in out + err


def test_no_policy_found_is_invalid_input(tmp_path: Path) -> None:
    (tmp_path / "readme.yaml").write_text("kind: Something\n")
    code, out, err = lint(str(tmp_path))
    assert code == 3
    assert out == ""
    assert "no RoutingPolicy found" in err


def test_an_explicit_catalog_alone_is_linted() -> None:
    code, out, _ = lint(str(EXAMPLES / "catalog.yaml"))
    assert code == 0
    assert out.startswith("0 policies and 1 catalog linted")


def test_load_error_beside_findings_still_exits_3(tmp_path: Path) -> None:
    shutil.copytree(LINT_ASSETS / "NXL001-frontier-catch-all", tmp_path / "p")
    (tmp_path / "p" / "broken.yaml").write_text("kind: RoutingPolicy\nspec: [\n")
    code, out, _ = lint("--format", "json", str(tmp_path))
    rules = sorted(f["rule"] for f in json.loads(out)["findings"])
    assert code == 3
    assert rules == ["NXL000", "NXL001"]


def test_previous_must_name_a_linted_policy() -> None:
    code, _, err = lint("--previous", EXAMPLE_FILES[0], EXAMPLE_FILES[1])
    assert code == 3
    assert "--previous policy 'retail-chat' matches no linted policy" in err


def test_previous_version_is_compared_by_policy_name(tmp_path: Path) -> None:
    folder = LINT_ASSETS / "NXL013-version-not-increased"
    older = tmp_path / "older.yaml"
    older.write_text(
        (folder / "previous" / "policy.yaml").read_text().replace("version: 2", "version: 1")
    )
    code, out, _ = lint("--previous", str(older), str(folder / "policy.yaml"))
    assert (code, out.count("NXL013")) == (0, 0)
    code, out, _ = lint(
        "--previous", str(folder / "previous" / "policy.yaml"), str(folder / "policy.yaml")
    )
    assert code == 1
    assert "NXL013" in out


def test_github_format_prints_workflow_commands() -> None:
    folder = LINT_ASSETS / "NXL005-residency-escape"
    code, out, _ = lint("--format", "github", str(folder))
    first = out.splitlines()[0]
    assert code == 1
    path = (folder / "policy.yaml").as_posix().replace(":", "%3A").replace(",", "%2C")
    assert first.startswith(f"::error file={path},line=26,col=7,title=NXL005::residency class")


def test_unknown_format_is_a_usage_error() -> None:
    code, _, _ = lint("--format", "xml", EXAMPLE_FILES[0])
    assert code == 2
