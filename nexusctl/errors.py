"""The one error tree of nexusctl and the exit-code table every command shares.

Every error a user can cause is a ``NexusError``. Its ``str()`` is the single line shown on
stderr; ``hint`` is an optional second line. The CLI maps each class to its exit code; nothing
else in the package chooses exit codes.

    NexusError                      (base; never raised directly)
    ├── UsageError            2     wrong flags or arguments the parser could not catch
    ├── InputError            3     a file or value we were given is malformed or unsafe
    │   ├── PolicyLoadError   3     YAML/schema/semantic error in a policy, catalog or gate file
    │   └── TrafficError      3     malformed recorded traffic
    ├── VerificationError     5     a signature, digest, manifest or trust check failed
    ├── GateFailed            6     a simulation gate or promotion gate said no
    ├── ConflictError         7     someone else changed the shared state first (pull, retry)
    └── EnvironmentError_     4     could not run: missing tool, unreachable service, I/O failure

Exit codes (identical across commands, documented in ``docs/exit-codes.md``):

    0  success / clean
    1  findings at or above the fail level (lint findings)
    2  usage error
    3  invalid input
    4  could not run (environment, I/O, external service)
    5  verification failed
    6  gate failed
    7  conflict: the registry (or another shared store) moved on; pull and retry
    70 internal error (a bug: please report it; ``--debug`` shows the traceback)

"Found problems" (1, 5, 6) and "could not run" (2, 3, 4) never share a code, so scripts can
tell them apart.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes shared by every nexusctl command."""

    OK = 0
    FINDINGS = 1
    USAGE = 2
    INVALID_INPUT = 3
    ENVIRONMENT = 4
    VERIFICATION_FAILED = 5
    GATE_FAILED = 6
    CONFLICT = 7
    INTERNAL = 70


class NexusError(Exception):
    """Base of every error nexusctl reports to a user."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(NexusError):
    """The command was called with arguments that cannot work together."""

    exit_code = ExitCode.USAGE


class InputError(NexusError):
    """A file or value handed to nexusctl is malformed, unsafe or too large."""

    exit_code = ExitCode.INVALID_INPUT


class Location:
    """A position in a source file: 1-based line and column."""

    __slots__ = ("column", "line", "path")

    def __init__(self, path: str, line: int | None = None, column: int | None = None) -> None:
        self.path = path
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.line is None:
            return self.path
        if self.column is None:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.column}"

    def __repr__(self) -> str:
        return f"Location({self!s})"


class PolicyLoadError(InputError):
    """A policy, catalog or other YAML document could not be loaded; carries its location."""

    def __init__(self, location: Location, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{location}: {message}", hint=hint)
        self.location = location
        self.detail = message


class TrafficError(InputError):
    """Recorded traffic is malformed (bad rows, unknown columns, empty input)."""


class VerificationError(NexusError):
    """A digest, manifest, signature, identity or attestation check failed."""

    exit_code = ExitCode.VERIFICATION_FAILED

    def __init__(
        self, message: str, *, reason: str = "verification-failed", hint: str | None = None
    ):
        super().__init__(message, hint=hint)
        self.reason = reason


class GateFailed(NexusError):
    """A gate (simulation or promotion) evaluated to fail."""

    exit_code = ExitCode.GATE_FAILED


class ConflictError(NexusError):
    """Another writer changed the shared state first (a registry push was rejected, a lock held)."""

    exit_code = ExitCode.CONFLICT


class EnvironmentError_(NexusError):
    """nexusctl could not run: a tool is missing, a service is unreachable, I/O failed."""

    exit_code = ExitCode.ENVIRONMENT
