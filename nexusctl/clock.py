"""The one clock: every "now" in nexusctl comes from a ``Clock``, so tests can move time.

Times are timezone-aware UTC ``datetime``s; on the wire they are RFC 3339 with a ``Z`` suffix
(``format_rfc3339``), and ``parse_rfc3339`` refuses a time without an explicit offset.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from nexusctl.errors import InputError


class Clock(Protocol):
    """Something that tells the current UTC time."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> dt.datetime:
        """Return the current time in UTC."""
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that says what it is told; ``advance`` moves it forward (tests, replays)."""

    def __init__(self, moment: dt.datetime) -> None:
        self._moment = as_utc(moment)

    def now(self) -> dt.datetime:
        """Return the set time."""
        return self._moment

    def advance(self, delta: dt.timedelta) -> None:
        """Move the clock by ``delta``."""
        self._moment += delta


SYSTEM_CLOCK = SystemClock()


def as_utc(moment: dt.datetime) -> dt.datetime:
    """Return ``moment`` in UTC; a naive datetime is refused rather than guessed."""
    if moment.tzinfo is None:
        raise InputError(f"time {moment.isoformat()} has no timezone; give it in UTC (…Z)")
    return moment.astimezone(dt.UTC)


def format_rfc3339(moment: dt.datetime) -> str:
    """Return ``moment`` as RFC 3339 UTC with a ``Z`` suffix (microseconds only when set)."""
    utc = as_utc(moment)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_rfc3339(text: str) -> dt.datetime:
    """Parse an RFC 3339 time with an explicit offset (``Z`` or ``±hh:mm``) into UTC.

    Raises:
        InputError: not an RFC 3339 time, or no offset given.
    """
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"'{text}' is not an RFC 3339 time (e.g. 2026-11-03T14:00:00Z)") from None
    return as_utc(moment)
