"""Bounded reads and hashing of files given by a user: the one place nexusctl opens them
(and ``write_atomic``, for the small state files a command keeps for its user, and
``flock_within``, for the lock files that serialise writers).

A size cap taken from ``stat().st_size`` trusts the file to say how big it is: ``/dev/zero``
says 0 and never ends, and a FIFO blocks the reader until someone writes. So every read here
opens without blocking, ``fstat``s the open descriptor, requires a regular file and reads at
most ``cap + 1`` bytes: a larger file is refused without being read whole.

Raises ``InputError`` (exit 3) with the file's name and one reason; callers that need a more
specific error (a policy load error located at a line, a verification failure) catch it and
translate.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from nexusctl.errors import EnvironmentError_, InputError

_CHUNK = 1024 * 1024


def describe_size(cap: int) -> str:
    """Return ``cap`` bytes as a short human unit (``64 MiB``, ``512 KiB``, ``100 bytes``)."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if cap >= size and cap % size == 0:
            return f"{cap // size} {unit}"
    return f"{cap} bytes"


@contextmanager
def open_regular(path: Path, *, what: str = "file") -> Iterator[BinaryIO]:
    """Open ``path`` for binary reading, refusing anything but a regular file.

    The open never blocks (a FIFO with no writer is refused, not waited on) and the check is
    made on the open descriptor, so the file cannot be swapped between check and read.

    Raises:
        InputError: missing, a directory, a device, FIFO or socket, or unreadable.
    """
    shown = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputError(f"{shown}: {what} not found") from None
    except IsADirectoryError:
        raise InputError(f"{shown}: is a directory, expected a {what}") from None
    except OSError as exc:
        raise InputError(f"{shown}: cannot read {what}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{shown}: is a directory, expected a {what}")
        if not stat.S_ISREG(mode):
            raise InputError(f"{shown}: is not a regular file (device, FIFO or socket)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_bounded(path: Path, cap: int, *, what: str = "file") -> bytes:
    """Return the bytes of the regular file ``path``, refusing one larger than ``cap`` bytes.

    Raises:
        InputError: as ``open_regular``, or the file is larger than ``cap``.
    """
    with open_regular(path, what=what) as handle:
        try:
            raw = handle.read(cap + 1)
        except OSError as exc:
            raise InputError(f"{path}: cannot read {what}: {exc.strerror}") from None
    if len(raw) > cap:
        raise InputError(f"{path}: {what} is larger than the {describe_size(cap)} cap")
    return raw


def sha256_file(path: Path, *, what: str = "file") -> str:
    """Return the lowercase hex SHA-256 of the regular file ``path``, read in chunks.

    Raises:
        InputError: as ``open_regular``.
    """
    digest = hashlib.sha256()
    with open_regular(path, what=what) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes, *, what: str = "file") -> None:
    """Replace ``path`` with ``data`` through a temporary file beside it and a rename.

    A reader (or a crash) sees the old bytes or the new ones, never a torn file. A symlink at
    ``path`` is replaced, never written through; a special file or folder there is refused.

    Raises:
        EnvironmentError_: the folder is missing or unwritable, or ``path`` is a folder or a
            special file (``/dev/null``, a FIFO) that a rename must not replace.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise EnvironmentError_(f"{path}: cannot write {what}: {exc.strerror}") from None
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise EnvironmentError_(f"{path}: cannot write {what}: not a regular file")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise EnvironmentError_(f"{path}: cannot write {what}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def flock_within(fd: int, operation: int, seconds: float, *, poll: float = 0.05) -> bool:
    """Take ``fcntl.flock(fd, operation)`` (``LOCK_SH`` or ``LOCK_EX``), waiting at most
    ``seconds``; return False when another process held it all that time."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(poll, left))
