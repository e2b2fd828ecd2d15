"""What every command shares: error-to-exit-code mapping, consoles, output formats.

A reader that closes stdout early (``nexusctl ... | head``) ends the command quietly, the way a
C tool killed by SIGPIPE does: stdout is pointed at ``/dev/null`` (so the interpreter's final
flush cannot fail) and the exit status is 141 (128 + SIGPIPE), what a shell reports for
``git log | head`` under ``pipefail``. Never 0: a gate that failed after its report was cut
short must not look like a pass. (Python docs, "Note on SIGPIPE".)
"""

from __future__ import annotations

import functools
import os
import select
import sys
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, ParamSpec, TypeVar

import typer

from nexusctl.errors import ExitCode, NexusError

if TYPE_CHECKING:
    from rich.console import Console

P = ParamSpec("P")
R = TypeVar("R")

_state = {"debug": False}


class TableCsvJson(StrEnum):
    """The ``--format`` of a query's rows: a table for people, CSV or JSON for programs."""

    table = "table"
    csv = "csv"
    json = "json"


class ReportFormat(StrEnum):
    """The ``--format`` of a written report."""

    markdown = "markdown"
    html = "html"
    json = "json"


class TextOrJson(StrEnum):
    """The ``--format`` of commands that print for people (text) or programs (one JSON document)."""

    text = "text"
    json = "json"


#: Exit status when the reader closed stdout: 128 + SIGPIPE, as a shell reports a C tool's.
STDOUT_CLOSED = 141


def set_debug(enabled: bool) -> None:
    """Remember whether --debug was given (show tracebacks for errors)."""
    _state["debug"] = enabled


def stdout_console() -> Console:
    """A console for results on stdout (created lazily so test runners can capture it)."""
    from rich.console import Console

    class _StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise stdout_closed()

    return _StdoutConsole(soft_wrap=True, color_system=color_system())


def stdout_closed() -> typer.Exit:
    """Point stdout at /dev/null (the reader left) and return the quiet Exit to raise."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real descriptor (a test runner's buffer): nothing to do
        pass
    return typer.Exit(STDOUT_CLOSED)


def _stdout_broken() -> bool:
    """True when stdout is a pipe whose reader has gone (not some other pipe we wrote to)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows) or no descriptor
        return True


def no_color() -> bool:
    """Whether ``NO_COLOR`` is set to a non-empty value (https://no-color.org)."""
    return bool(os.environ.get("NO_COLOR"))


def color_system() -> Literal["auto"] | None:
    """rich's colour system: none at all under ``NO_COLOR`` (not even bold), else automatic.

    Automatic means no escape codes when the stream is not a terminal (a pipe, a file, a CI
    log), unless ``FORCE_COLOR`` asks for them.
    """
    return None if no_color() else "auto"


def stderr_console() -> Console:
    """A console for diagnostics on stderr."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, color_system=color_system())


def fail(message: str, code: ExitCode, hint: str | None = None) -> typer.Exit:
    """Print ``message`` (and a hint) to stderr and return the Exit to raise."""
    err = stderr_console()
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    if hint:
        err.print(f"[dim]hint:[/] {hint}", markup=True, highlight=False)
    return typer.Exit(int(code))


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn NexusError into one stderr line and its exit code; anything else is a bug (70)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except NexusError as exc:
            if _state["debug"]:
                raise
            hint = shown(exc.hint) if exc.hint else None
            raise fail(shown(str(exc)), exc.exit_code, hint) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError as exc:
            if not _stdout_broken():
                if _state["debug"]:
                    raise
                raise _internal(exc) from exc
            raise stdout_closed() from None
        except Exception as exc:
            if _state["debug"]:
                raise
            raise _internal(exc) from exc

    return wrapper


def _internal(exc: Exception) -> typer.Exit:
    return fail(
        f"internal error: {type(exc).__name__}: {shown(str(exc))}",
        ExitCode.INTERNAL,
        "this is a bug in nexusctl; run again with --debug for the traceback",
    )


def plain(text: object) -> str:
    """User text for plain output: control characters shown as visible escapes (``\\x1b``).

    Policy text can carry terminal escapes (YAML's ``"\\e[2J"``); printed raw, they would
    clear the screen or rewrite lines. Every text renderer passes user strings through here
    (or ``shown``); JSON output escapes them by itself.
    """
    from nexusctl.document.text import escape_controls

    return escape_controls(str(text))


def shown(text: object) -> str:
    """User text for rich markup: ``plain`` plus rich's markup escaping (``[`` in a name)."""
    from rich.markup import escape

    return escape(plain(text))


def write_stdout(text: str) -> None:
    """Write raw text (JSON, SARIF, Markdown) to stdout with no rich processing."""
    sys.stdout.write(text)
    if not text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
