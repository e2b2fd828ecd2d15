"""A reader that closes stdout early (``nexusctl ... | head``) ends the command quietly.

Before: exit 70, "internal error: BrokenPipeError". Now: nothing on stderr, stdout pointed at
/dev/null, exit 141 (128 + SIGPIPE, what a shell reports for a C tool cut short), never 0, so
a gate that fails after its report was cut short can never pass. Real subprocesses and real
pipes: a CliRunner has no pipe to break.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli._bounded import NEXUSCTL
from tests.conftest import ASSETS, POLICIES

POLICY = str(POLICIES / "retail-chat.yaml")
REQUEST = f"@{ASSETS / 'router' / 'retail-faq-ca.json'}"


@pytest.mark.parametrize(
    "args",
    [
        ["policy", "show", POLICY],
        ["policy", "show", POLICY, "--format", "json"],
        ["policy", "explain", POLICY, "-r", REQUEST],
        ["policy", "explain", POLICY, "-r", REQUEST, "--format", "json"],
        ["policy", "lint", str(POLICIES), "--format", "sarif"],
        ["catalog", "prices", str(POLICIES / "catalog.yaml"), "--from", "litellm"],
    ],
    ids=["show-text", "show-json", "explain-text", "explain-json", "lint-sarif", "prices"],
)
def test_closed_stdout_ends_quietly(args: list[str]) -> None:
    proc = subprocess.Popen([str(NEXUSCTL), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader leaves before the first byte is written
    _, stderr = proc.communicate(timeout=60)
    assert stderr.decode() == ""
    assert proc.returncode == 141


def test_head_reads_the_first_line_and_the_command_ends_quietly() -> None:
    """The shell form, ``nexusctl policy show ... | head -n 1``, with a real ``head``."""
    writer = subprocess.Popen(
        [str(NEXUSCTL), "policy", "show", POLICY], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    head = subprocess.Popen(["head", "-n", "1"], stdin=writer.stdout, stdout=subprocess.PIPE)
    assert writer.stdout is not None
    writer.stdout.close()  # only head holds the read end now
    first, _ = head.communicate(timeout=60)
    _, stderr = writer.communicate(timeout=60)
    assert first.decode().startswith("retail-chat v")
    assert first.count(b"\n") == 1
    assert stderr.decode() == ""
    # 0 when the whole summary fit the pipe before head left, 141 when it was cut short.
    assert writer.returncode in {0, 141}


RAISE_BROKEN_PIPE = """
import sys
import typer
from nexusctl.cli._common import handle_errors

@handle_errors
def command() -> None:
    raise BrokenPipeError(32, "Broken pipe")  # as from a pipe to a child process

try:
    command()
except typer.Exit as exc:
    sys.exit(exc.exit_code)
"""


@pytest.mark.parametrize(("reader_left", "code"), [(True, 141), (False, 70)])
def test_only_a_closed_stdout_is_a_quiet_end(reader_left: bool, code: int) -> None:
    """A broken pipe to anything else (a child process) is still reported as a bug."""
    proc = subprocess.Popen(
        [sys.executable, "-c", RAISE_BROKEN_PIPE], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    if reader_left:
        proc.stdout.close()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code
    assert ("internal error: BrokenPipeError" in stderr.decode()) == (not reader_left)
