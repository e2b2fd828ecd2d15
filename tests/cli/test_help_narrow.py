"""Help and text output in an 80-column terminal and in logs: words for values, no escapes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.cli.show_cmds import fit_widths
from nexusctl.policy.loader import load_policy

REPO = Path(__file__).resolve().parents[2]
NEXUSCTL = Path(sys.executable).parent / "nexusctl"
POLICIES = sorted(
    p
    for p in (REPO / "policies" / "nebula").glob("*.yaml")
    if "kind: RoutingPolicy" in p.read_text(encoding="utf-8")
)
#: A Python type as typer prints it: ``<bool>``, ``<list[Path]>``, ``<path>``, ``<int>``.
PYTHON_TYPE = re.compile(
    r"<(?:bool|int|float|str|bytes|path|file|directory|datetime|Path|Decimal|UUID"
    r"|[A-Za-z]+\[[^\]]*\])(?: range)?>"
)


def _commands(command: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    subcommands: dict[str, object] = getattr(command, "commands", {})
    for name, sub in sorted(subcommands.items()):
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_the_walk_finds_every_group_and_command() -> None:
    assert ("simulate",) in COMMANDS
    assert ("policy", "show") in COMMANDS
    assert ("registry", "config") in COMMANDS
    assert len(COMMANDS) > 40


def test_the_pattern_catches_what_typer_prints_by_default() -> None:
    for text in ("<bool>", "<list[Path]>", "<path>", "<int>", "<float>", "<str>"):
        assert PYTHON_TYPE.search(text), text
    assert not PYTHON_TYPE.search("<text|json|markdown>")
    assert not PYTHON_TYPE.search("<details> <!-- nexusctl-comment: TAG -->")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_help_at_80_columns_names_values_in_words(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(
        app, [*command, "--help"], prog_name="nexusctl", env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Usage:" in text
    assert not PYTHON_TYPE.search(text), PYTHON_TYPE.findall(text)
    assert "\x1b" not in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_flags_show_no_value_and_lists_show_their_element() -> None:
    lint = CliRunner().invoke(
        app, ["policy", "lint", "--help"], prog_name="nexusctl", env={"COLUMNS": "120"}
    )
    assert re.search(r"paths\.\.\.\s+PATH\.\.\.", lint.stdout)
    help_row = next(line for line in lint.stdout.splitlines() if "--help" in line)
    assert re.search(r"--help\s+-h\s+Show this message", help_row)


def _identifiers(path: Path) -> set[str]:
    spec = load_policy(path).policy.spec
    ids = {r.id for r in spec.routes} | {g.id for g in spec.guardrails}
    ids |= {e.id for e in spec.escalation} | {e.target for e in spec.escalation}
    ids |= {t.id for t in spec.tenants} | {c.id for c in spec.fallback_chains}
    return ids


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_policy_show_at_80_columns_cuts_no_word(
    policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    shown = str(policy.relative_to(REPO))
    result = CliRunner().invoke(
        app, ["policy", "show", shown], prog_name="nexusctl", env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    words = {w.strip(",;:>") for line in lines for w in line.split()}
    missing = {i for i in _identifiers(policy) if i not in words}
    assert not missing, f"cut or missing at 80 columns: {sorted(missing)}"


def test_fit_widths_gives_each_column_its_longest_word_first() -> None:
    columns = ("rule", "reason")
    rows = [("nothing-eligible", "No deployment satisfies residency and the cost cap.")]
    widths = fit_widths(columns, rows, 40, [])
    assert widths[0] >= len("nothing-eligible")
    assert sum(widths) + 3 * 2 + 1 <= 40
    assert fit_widths(columns, rows, 200, []) == [16, len(rows[0][1])]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [str(NEXUSCTL), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**clean, "COLUMNS": "80", **env},
    )


def test_no_escape_codes_into_a_pipe_and_none_at_all_under_no_color() -> None:
    show = ["policy", "show", str(POLICIES[0])]
    assert "\x1b" in _run(show, FORCE_COLOR="1").stdout  # the check below can fail
    assert "\x1b" not in _run(show).stdout
    assert "\x1b" not in _run(show, FORCE_COLOR="1", NO_COLOR="1").stdout
    # typer would force escapes into a pipe whenever GITHUB_ACTIONS is set
    helped = _run(["policy", "lint", "--help"], GITHUB_ACTIONS="true")
    assert helped.returncode == 0
    assert "\x1b" not in helped.stdout
    failed = _run(["policy", "show", "missing.yaml"], NO_COLOR="1", FORCE_COLOR="1")
    assert failed.returncode == 3
    assert "\x1b" not in failed.stderr


@pytest.mark.slow
def test_the_demo_piped_to_a_file_has_no_escape_codes(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    env = {
        **os.environ,
        "PATH": f"{NEXUSCTL.parent}{os.pathsep}{os.environ['PATH']}",
        "NEXUSCTL_DEMO_OUT": str(tmp_path / "out"),
        "NEXUSCTL_DEMO_ONLY": "20 40",  # 20 prints bold headings itself; 40 draws tables
    }
    env.pop("NO_COLOR", None)
    with log.open("w", encoding="utf-8") as handle:
        proc = subprocess.run(
            ["bash", str(REPO / "demo" / "run.sh")],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=600,
            check=False,
        )
    text = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, text[-3000:]
    assert "== 20-explain ==" in text
    assert "== 40-simulate ==" in text
    assert "\x1b" not in text


def test_help_paragraphs_are_joined_but_lists_and_examples_keep_their_lines() -> None:
    from nexusctl.cli._help import join_paragraph_lines

    text = join_paragraph_lines(["one\ntwo\n- item\n  nexusctl x\nthree", "\bkept\nas is"])
    assert text == "one two\n- item\n  nexusctl x three\n\n\bkept\nas is"
