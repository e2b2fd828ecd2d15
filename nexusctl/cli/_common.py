"""What every command shares: error-to-exit-code mapping, consoles, output formats."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import typer

from nexusctl.errors import ExitCode, NexusError

if TYPE_CHECKING:
    from rich.console import Console

P = ParamSpec("P")
R = TypeVar("R")

_state = {"debug": False}


def set_debug(enabled: bool) -> None:
    """Remember whether --debug was given (show tracebacks for errors)."""
    _state["debug"] = enabled


def stdout_console() -> Console:
    """A console for results on stdout (created lazily so test runners can capture it)."""
    from rich.console import Console

    return Console(soft_wrap=True)


def stderr_console() -> Console:
    """A console for diagnostics on stderr."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


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
            hint = _escape(exc.hint) if exc.hint else None
            raise fail(_escape(str(exc)), exc.exit_code, hint) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if _state["debug"]:
                raise
            raise fail(
                f"internal error: {type(exc).__name__}: {_escape(str(exc))}",
                ExitCode.INTERNAL,
                "this is a bug in nexusctl; run again with --debug for the traceback",
            ) from exc

    return wrapper


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def write_stdout(text: str) -> None:
    """Write raw text (JSON, SARIF, Markdown) to stdout with no rich processing."""
    sys.stdout.write(text)
    if not text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
