"""Spark's failures as nexusctl's errors: one line, the documented exit code.

A ``TrafficError`` or ``InputError`` raised inside a Python worker reaches the driver as
text inside Spark's exception (the worker's traceback); it is raised again here as the same
class with the same message, so ``--engine spark`` refuses bad traffic with the same exit
code (3) as the NumPy engine. Anything else Spark raises means the engine could not run
(exit 4), with the first line of Spark's message.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from nexusctl.errors import EnvironmentError_, InputError, NexusError, TrafficError

_WORKER_ERROR = re.compile(r"nexusctl\.errors\.(TrafficError|InputError): (.+)")
_CLASSES: dict[str, type[InputError]] = {"TrafficError": TrafficError, "InputError": InputError}


def from_worker(text: str) -> NexusError | None:
    """The nexusctl error a worker raised, found in Spark's error text (None: none)."""
    found = _WORKER_ERROR.findall(text)
    if not found:
        return None
    kind, message = found[-1]
    return _CLASSES[kind](message.strip())


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Raise Spark's errors in the body as nexusctl errors.

    Raises:
        TrafficError, InputError: raised by a worker (same message).
        EnvironmentError_: any other Spark failure.
    """
    try:
        yield
    except NexusError:
        raise
    except Exception as exc:  # py4j, pyspark and the JVM raise many types: all handled alike
        text = str(exc)
        error = from_worker(text)
        if error is not None:
            raise error from None
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        raise EnvironmentError_(
            f"Spark {what} failed: {first or type(exc).__name__}"[:500],
            hint="rerun with --debug for Spark's full message",
        ) from exc
