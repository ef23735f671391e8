"""The engine's notion of "now": the system clock, or a controllable one in tests.

Every engine function that depends on time takes `now` from here (or as an argument), so a test can
freeze the clock, jump over a weekend or a DST change, and see exactly what a user would see.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """Stands still until moved: `advance(hours=3)`, `set(datetime(...))`."""

    def __init__(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._at += delta or timedelta(**kwargs)
        return self._at


_clock: Clock = Clock()


def now() -> datetime:
    return _clock.now()


def set_clock(clock: Clock) -> None:
    global _clock
    _clock = clock


def reset_clock() -> None:
    set_clock(Clock())
