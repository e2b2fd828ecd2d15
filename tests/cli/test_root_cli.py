"""The root command: --version, --help, NO_COLOR, --debug, no-args help, shell completion."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl import __version__
from nexusctl.cli.app import app
from nexusctl.errors import PolicyLoadError

NEXUSCTL = Path(sys.executable).parent / "nexusctl"
GROUPS = ("policy", "catalog", "schema", "traffic", "key", "registry", "evidence", "ci")
ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
#: SGR parameters that select a colour: 30-38, 40-48, 90-97, 100-107 (ECMA-48 §8.3.117).
COLOUR = re.compile(r"^(3[0-8]|4[0-8]|9[0-7]|10[0-7])$")


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script in a fresh process with a controlled environment."""
    clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [str(NEXUSCTL), *args],
        env={**clean, "COLUMNS": "100", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _colours(text: str) -> set[str]:
    found = set()
    for escape in ESCAPE.findall(text):
        found |= {p for p in escape[2:-1].split(";") if COLOUR.match(p)}
    return found


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"], prog_name="nexusctl")
    assert result.exit_code == 0
    assert result.stdout == f"nexusctl {__version__}\n"
    assert result.stderr == ""


def test_help_lists_every_group_and_the_root_options() -> None:
    result = CliRunner().invoke(app, ["--help"], prog_name="nexusctl")
    assert result.exit_code == 0
    assert "Usage: nexusctl [OPTIONS] COMMAND [ARGS]..." in result.stdout
    for group in GROUPS:
        assert re.search(rf"│ {group}\s", result.stdout), group
    assert "--debug" in result.stdout
    assert "--version" in result.stdout
    assert "--show-completion" in result.stdout


def test_no_arguments_shows_help_and_exits_2() -> None:
    result = CliRunner().invoke(app, [], prog_name="nexusctl")
    assert result.exit_code == 2
    assert "Usage: nexusctl [OPTIONS] COMMAND [ARGS]..." in result.stdout


@pytest.mark.parametrize("group", GROUPS)
def test_group_without_command_shows_its_help(group: str) -> None:
    result = CliRunner().invoke(app, [group], prog_name="nexusctl")
    assert result.exit_code == 2
    assert f"Usage: nexusctl {group} [OPTIONS] COMMAND [ARGS]..." in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["frobnicate"], prog_name="nexusctl")
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr


def test_forced_colour_shows_colour_and_no_color_removes_it() -> None:
    coloured = _run(["--help"], FORCE_COLOR="1")
    assert _colours(coloured.stdout), "FORCE_COLOR=1 should colour the help (test sanity)"
    plain = _run(["--help"], FORCE_COLOR="1", NO_COLOR="1")
    assert plain.returncode == 0
    assert _colours(plain.stdout) == set()
    error = _run(
        ["catalog", "prices", "missing.yaml", "--from", "litellm"], FORCE_COLOR="1", NO_COLOR="1"
    )
    assert error.returncode == 3
    assert _colours(error.stderr) == set()


@pytest.mark.parametrize(
    "args",
    [["--help"], ["schema", "--help"], ["catalog", "prices", "missing.yaml", "--from", "litellm"]],
)
def test_no_color_output_to_a_pipe_has_no_escapes_at_all(args: list[str]) -> None:
    result = _run(args, NO_COLOR="1")
    assert "\x1b[" not in result.stdout + result.stderr
    assert result.stdout + result.stderr


def test_debug_flag_reraises_instead_of_one_line() -> None:
    args = ["catalog", "prices", "missing.yaml", "--from", "litellm"]
    quiet = CliRunner().invoke(app, args, prog_name="nexusctl")
    assert quiet.exit_code == 3
    assert quiet.stderr == "error: missing.yaml: file not found\n"
    loud = CliRunner().invoke(app, ["--debug", *args], prog_name="nexusctl")
    assert isinstance(loud.exception, PolicyLoadError)
    crashed = _run(["--debug", *args])
    assert "Traceback" in crashed.stderr
    assert "PolicyLoadError: missing.yaml: file not found" in crashed.stderr


def test_completion_script_for_bash() -> None:
    # `--show-completion` takes no value: typer detects the shell from the parent process, so
    # a test of it would depend on what runs pytest (bash here, sh under make). The explicit
    # form below is what `--show-completion` prints for bash, with no detection involved.
    result = _run([], _NEXUSCTL_COMPLETE="source_bash")
    assert result.returncode == 0, result.stderr
    assert "_nexusctl_completion()" in result.stdout
    assert "complete -o default -F _nexusctl_completion nexusctl" in result.stdout


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [("nexusctl sch", "1", "schema"), ("nexusctl catalog prices c.yaml --fr", "4", "--from")],
)
def test_bash_completion_completes_commands_and_options(
    words: str, cword: str, expected: str
) -> None:
    result = _run([], _NEXUSCTL_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=cword)
    assert result.returncode == 0
    assert result.stdout.split() == [expected]


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**clean, "COLUMNS": "100"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("args", [["--help"], []])
def test_root_help_is_the_same_from_the_lazy_entry_point(args: list[str]) -> None:
    lazy = _python("from nexusctl.cli.entry import main; main()", *args)
    full = _python("from nexusctl.cli.app import main; main()", *args)
    assert lazy.returncode == full.returncode
    assert lazy.stdout == full.stdout
    assert "policy" in lazy.stdout
    assert "simulate" in lazy.stdout


def test_root_only_invocations_skip_the_other_command_modules() -> None:
    code = (
        "import sys\nfrom nexusctl.cli.entry import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('nexusctl.cli.')))"
    )
    root_only = _python(code, "--version")
    assert "nexusctl.cli.lint_cmds" not in root_only.stdout
    assert "nexusctl.cli.simulate_cmds" in root_only.stdout
    full = _python(code, "policy", "--help")
    assert "nexusctl.cli.lint_cmds" in full.stdout


def test_every_command_module_is_mapped_to_the_groups_it_registers_on() -> None:
    from nexusctl.cli import _apps
    from nexusctl.cli.entry import GROUP_MODULES

    cli_dir = Path(__file__).resolve().parents[2] / "nexusctl" / "cli"
    app_names = [name for name in vars(_apps) if name.endswith("_app")]
    assert app_names
    for module in sorted(p.stem for p in cli_dir.glob("*_cmds.py")):
        text = (cli_dir / f"{module}.py").read_text(encoding="utf-8")
        for app_name in app_names:
            if f"@{app_name}.command" in text:
                group = app_name.removesuffix("_app").replace("registry_config", "registry")
                assert module in GROUP_MODULES[group], f"{module} registers on '{group}'"


@pytest.mark.parametrize("group", [*GROUPS, "registry config"])
def test_group_help_is_the_same_from_the_lazy_entry_point(group: str) -> None:
    args = [*group.split(), "--help"]
    lazy = _python("from nexusctl.cli.entry import main; main()", *args)
    full = _python("from nexusctl.cli.app import main; main()", *args)
    assert lazy.returncode == full.returncode == 0
    assert lazy.stdout == full.stdout


def test_a_group_invocation_loads_only_that_group_s_modules() -> None:
    code = (
        "import sys\nfrom nexusctl.cli.entry import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('nexusctl.cli.')))"
    )
    loaded = _python(code, "--debug", "registry", "--help")
    assert "nexusctl.cli.registry_cmds" in loaded.stdout
    assert "nexusctl.cli.lint_cmds" not in loaded.stdout
    assert "nexusctl.cli.evidence_cmds" not in loaded.stdout
