"""Reading a registry clone between events: the shared side of the clone's lock.

A gateway that resolves from a clone (``registry resolve --from FOLDER``) must never see, and
keep in its TUF state, files of an event that is later undone: a rotated root written by a
config ``apply`` that was killed before its commit, say, and then replaced by another
proposal. Writers hold ``.git/nexusctl-registry.lock`` exclusively (``Store.locked``) from
before their first change until after their commit, removing the clean stamp first and
writing it again (naming HEAD) after the commit. So a reader

1. holds the same lock *shared* for its whole read — no event starts meanwhile, and one in
   progress is waited for (a bounded wait, then ``ConflictError``: exit 7, a held lock);
2. then requires the clean stamp to name HEAD; without one (a killed writer, or a clone
   moved by ``git pull``), the folder it reads must have no uncommitted change (``git
   status`` of that folder only), else it refuses (``uncommitted-event``, as ``registry
   verify`` names the same state) and the next registry command undoes the event.

The lock file is opened read-only (a gateway may lack write access to the clone) and never
created: a clone without one (a fresh ``git clone``) never ran a registry command. Nothing in
the clone is written.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from nexusctl.errors import ConflictError, EnvironmentError_, VerificationError
from nexusctl.files import flock_within
from nexusctl.registry._store import LOCK_NAME, Store


@contextlib.contextmanager
def reading(store: Store, rel: str, wait_seconds: float) -> Iterator[None]:
    """Hold ``store``'s lock shared while the folder ``rel`` is read; refuse a half-done event.

    Raises:
        ConflictError: a registry command held the lock longer than ``wait_seconds``.
        VerificationError: ``rel`` holds an interrupted event's files (``uncommitted-event``).
        EnvironmentError_: the lock file could not be opened, or git failed.
    """
    lock_path = store.git_dir() / LOCK_NAME
    try:
        # flock needs no write access; O_NONBLOCK: a FIFO planted there is not waited on.
        fd: int | None = os.open(lock_path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        fd = None  # no registry command ever ran in this clone: no event to wait for
    except OSError as exc:
        raise EnvironmentError_(f"cannot open {lock_path}: {exc.strerror}") from None
    try:
        if fd is not None:
            if not flock_within(fd, fcntl.LOCK_SH, wait_seconds):
                raise ConflictError(
                    f"{store.root}: a registry command held the clone's lock for "
                    f"{wait_seconds:g} s; nothing was read",
                    hint="try again later, or wait longer (--wait SECONDS)",
                )
            if not store.stamped_clean() and store.uncommitted(rel):
                raise VerificationError(
                    f"{store.root}: a registry event was interrupted here; {rel}/ holds "
                    "files no commit has, so nothing was read",
                    reason="uncommitted-event",
                    hint="the next registry command on this clone (publish, promote, approve, "
                    "rollback, config ...) undoes it; then try again",
                )
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock
