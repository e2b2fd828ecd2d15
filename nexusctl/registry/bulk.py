"""Many events in one session: building or importing a large registry through the library.

A ``Session`` holds the clone's lock once, replays the log once and keeps the replayed state
(and the signature checks already made) in memory between events. Each event is the same as
the single-event functions in ``ops`` make it — the same checks and gates, the same signed
record, the same files, one git commit per event with the same message, author and date —
but the commits are streamed into one ``git fast-import`` process (``Store.begin_bulk``)
instead of two git processes per event, and the branch moves when the session ends.

The CLI never uses a session: every command is one event, one ``git commit``. A session that
dies leaves uncommitted files that the next command on the clone undoes (nothing from the
session is kept), and ``registry verify`` checks a bulk-built registry exactly like any other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from nexusctl.clock import Clock
from nexusctl.registry._context import Actor, EventResult, Registry, save_cache
from nexusctl.registry._store import Store
from nexusctl.registry.ops import approve_in, move_in, publish_in


class Session:
    """A registry clone open for many events (use as a context manager)."""

    def __init__(self, root: Path, clock: Clock) -> None:
        self.root = root
        self.clock = clock
        self._store = Store(root)
        self._lock = self._store.locked()
        self._reg: Registry | None = None
        self._actors: dict[Path, Actor] = {}

    def __enter__(self) -> Session:
        self._lock.__enter__()
        try:
            self._reg = Registry.open(self.root, store=self._store)
            self._store.begin_bulk()
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self._store.end_bulk(keep=error is None)
            if error is None and self._reg is not None:
                from nexusctl.registry._index import load_index

                save_cache(self.registry)
                load_index(self.root)  # history --at's index, built once here
        finally:
            self._lock.__exit__(kind, error, trace)

    @property
    def registry(self) -> Registry:
        """The open registry with its replayed state."""
        if self._reg is None:
            from nexusctl.errors import UsageError

            raise UsageError("the bulk session is not open (or ended after a failed event)")
        return self._reg

    def actor(self, key: Path) -> Actor:
        """Return the actor ``key`` identifies (loaded once per session)."""
        if key not in self._actors:
            self._actors[key] = Actor.from_key(key, self.registry.cfg)
        return self._actors[key]

    def _event(self, run: Callable[[], EventResult]) -> EventResult:
        """Run one event; one that failed after writing files ends the session (kept: none).

        An event refused before it wrote anything (a failed gate, a bad key) leaves the
        session usable, as the single-event commands leave the clone.
        """
        try:
            return run()
        except BaseException:
            if self._store.bulk_pending():
                self._store.end_bulk(keep=False)
                self._reg = None
            raise

    def publish(self, bundle_dir: Path, key: Path) -> EventResult:
        """Publish a bundle (see ``ops.publish``)."""
        return self._event(
            lambda: publish_in(self.registry, self.actor(key), bundle_dir, self.clock)
        )

    def approve(
        self,
        name: str,
        version: int,
        env: str,
        key: Path,
        *,
        purpose: str = "promote",
        expires_in: dt.timedelta | None = None,
    ) -> EventResult:
        """Approve a version for an environment (see ``ops.approve``)."""
        return self._event(
            lambda: approve_in(
                self.registry,
                self.actor(key),
                name,
                version,
                env,
                self.clock,
                purpose=purpose,
                expires_in=expires_in,
            )
        )

    def promote(
        self,
        name: str,
        version: int,
        env: str,
        key: Path,
        *,
        attestation: Path | None = None,
        override: bool = False,
    ) -> EventResult:
        """Promote a version into an environment (see ``ops.promote``)."""
        return self._event(
            lambda: move_in(
                self.registry,
                self.actor(key),
                name,
                version,
                env,
                self.clock,
                attestation,
                override,
                None,
            )
        )

    def rollback(self, name: str, env: str, version: int, reason: str, key: Path) -> EventResult:
        """Roll an environment back to an earlier version (see ``ops.rollback``)."""
        from nexusctl.errors import UsageError

        if not reason.strip():
            raise UsageError("a rollback needs a --reason")
        return self._event(
            lambda: move_in(
                self.registry, self.actor(key), name, version, env, self.clock, None, False, reason
            )
        )
