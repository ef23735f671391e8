"""Working hours and usage periods in an identity's own time zone (zoneinfo: DST-correct).

All inputs and outputs are aware UTC datetimes; local wall-clock times only exist inside this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class InvalidWorkingHours(ValueError):
    """The identity's time zone or hours cannot be used (IDENTITY_MISCONFIGURATION)."""


@dataclass(frozen=True)
class WorkingHours:
    timezone: str = "UTC"
    days_mask: int = 0b0011111  # bit i = datetime.weekday() i
    start: str = "09:00"
    end: str = "18:00"

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except Exception as exc:
            raise InvalidWorkingHours(f"unknown time zone {self.timezone!r}") from exc

    def bounds(self) -> tuple[time, time | None]:
        """(start, end) local times; end None means midnight at the end of the day ("24:00")."""
        start, end = _parse(self.start), _parse(self.end)
        if start is None:
            raise InvalidWorkingHours(f"bad start {self.start!r}")
        if end is not None and end <= start:
            raise InvalidWorkingHours(f"end {self.end!r} is not after start {self.start!r}")
        if not self.days_mask & 0b1111111:
            raise InvalidWorkingHours("no working days")
        return start, end

    def validate(self) -> None:
        self.zone()
        self.bounds()


def _parse(value: str) -> time | None:
    try:
        hours, minutes = (int(part) for part in value.split(":"))
    except (ValueError, AttributeError) as exc:
        raise InvalidWorkingHours(f"bad time {value!r}") from exc
    if (hours, minutes) == (24, 0):
        return None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise InvalidWorkingHours(f"bad time {value!r}")
    return time(hours, minutes)


def _local(day: date, at: time | None, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as UTC. `None` is the midnight that ends `day`."""
    if at is None:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def in_window(now: datetime, hours: WorkingHours) -> bool:
    zone = hours.zone()
    start, end = hours.bounds()
    local = now.astimezone(zone)
    if not hours.days_mask & (1 << local.weekday()):
        return False
    return _local(local.date(), start, zone) <= now < _local(local.date(), end, zone)


def next_window_start(now: datetime, hours: WorkingHours) -> datetime:
    """`now` if inside working hours, else the start of the next working window (UTC)."""
    if in_window(now, hours):
        return now
    zone = hours.zone()
    start, _ = hours.bounds()
    today = now.astimezone(zone).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        if hours.days_mask & (1 << day.weekday()):
            begins = _local(day, start, zone)
            if begins > now:
                return begins
    raise InvalidWorkingHours("no working window within a week")  # unreachable with a valid mask


def day_period(now: datetime, zone: ZoneInfo) -> str:
    """The identity's calendar day: daily caps count per local day."""
    return now.astimezone(zone).date().isoformat()


def month_period(now: datetime, zone: ZoneInfo) -> str:
    return now.astimezone(zone).strftime("%Y-%m")


def next_day_start(now: datetime, zone: ZoneInfo) -> datetime:
    return _local(now.astimezone(zone).date(), None, zone)


def next_month_start(now: datetime, zone: ZoneInfo) -> datetime:
    local = now.astimezone(zone).date()
    first = date(local.year + (local.month == 12), local.month % 12 + 1, 1)
    return datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
