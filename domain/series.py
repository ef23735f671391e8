"""Campaign.series: the Activity log counted per time bucket of a time zone (domain.md, "The Overview over
time and per step").

Buckets are local: a DAY runs from one local midnight to the next (23 or 25 hours across a DST change), a
WEEK from Monday's local midnight (ISO weeks), an HOUR from one instant the local clock reads XX:00 to the
next. Their starts are computed here with zoneinfo, never by the database, so both backends agree on them.

The counting is SQL, grouped by (kind, bucket): the database returns at most buckets x kinds rows, whatever
the number of activities. It reads the pre-counted 15-minute slots (domain/slots.py, table activity_slot):
every bucket start of a zone whose offsets are multiples of 15 minutes (all since 1972) is a slot start, so
a bucket is a sum of whole slots. The part of [from, to) that is not whole slots (an end given off a quarter
hour) is counted from the activity table, as is a whole window whose bucket starts are not slot starts (an
old zone's odd offset, before 1972). PostgreSQL is given the bucket starts (width_bucket). SQLite returns
slots (or, for the activity table, runs of `slot` seconds of epoch time, `slot` being the greatest common
divisor of the bucket starts) folded into buckets here, which is exact since no slot straddles a bucket
start. A first or last bucket partly outside [from, to) counts only what happened inside [from, to) (the
start shown is still the bucket's own start).

Every entry of the log counts, a removed lead's included (the Activity tab still shows them). Arguments a
series cannot have are top-level errors with `extensions: {code: "INVALID_INPUT", argument: ...}` (the field
is a list: it has no UserErrors to carry them): an unknown time zone, `from` not before `to`, dates outside
1970-2100, more than 1,000 buckets. Explicit nulls mean the defaults.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain import slots
from domain.errors import PublicError
from models.enums import ActivityKind, SeriesBucket
from models.sql import db, fetch, is_postgres, placeholders

MAX_BUCKETS = 1000
#: The dates any client may give (domain.md, "Limits that every client meets").
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)
#: How many buckets a series has when neither end is given: the last 30 days, 48 hours or 12 weeks.
DEFAULT_BUCKETS = {SeriesBucket.HOUR: 48, SeriesBucket.DAY: 30, SeriesBucket.WEEK: 12}

_HOUR = timedelta(hours=1)

POINT_KINDS = slots.POINT_KINDS
_FIELD_OF_KIND = slots.COLUMN_OF_KIND
POSITIVE_LABELS = slots.POSITIVE_LABELS


class SeriesArgumentError(PublicError):
    """A series asked for with arguments it cannot have: a top-level error, code INVALID_INPUT."""

    def __init__(self, message: str, argument: str) -> None:
        super().__init__(message)
        # graphql-core copies an original error's `extensions` onto the error it reports.
        self.extensions = {"code": "INVALID_INPUT", "argument": argument}


@dataclass(slots=True)
class SeriesPoint:
    start: datetime
    profile_visits: int = 0
    invitations_sent: int = 0
    invitations_accepted: int = 0
    linkedin_messages_sent: int = 0
    emails_sent: int = 0
    emails_clicked: int = 0
    emails_bounced: int = 0
    replies: int = 0
    positive_replies: int = 0
    unsubscribes: int = 0
    tasks_completed: int = 0
    errors: int = 0


COUNT_FIELDS = tuple(f.name for f in fields(SeriesPoint) if f.name != "start")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SeriesArgumentError(
            f"Unknown time zone {name!r}: use an IANA name such as 'Europe/Madrid' or 'UTC'.", "timezone"
        ) from None


def _first_instant(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local date. fold=0 also maps a midnight skipped by DST to the gap's end."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _exists(naive: datetime, fold: int, tz: ZoneInfo) -> datetime | None:
    """The UTC instant at which the local clock reads `naive` (with this fold), or None if it never does."""
    at = naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)
    return at if at.astimezone(tz).replace(tzinfo=None) == naive else None


def floor(at: datetime, bucket: SeriesBucket, tz: ZoneInfo) -> datetime:
    """The start (UTC) of the bucket that holds `at`."""
    local = at.astimezone(tz)
    if bucket == SeriesBucket.DAY:
        return _first_instant(local.date(), tz)
    if bucket == SeriesBucket.WEEK:
        return _first_instant(local.date() - timedelta(days=local.weekday()), tz)
    start = _exists(local.replace(minute=0, second=0, microsecond=0, tzinfo=None), local.fold, tz)
    if start is not None and start <= at:
        return start
    # The clock never read this XX:00 (a half-hour DST change, Australia/Lord_Howe): the bucket is the
    # previous hour's, or the one after it.
    previous = floor(at - timedelta(hours=1), bucket, tz)
    following = _next(previous, bucket, tz)
    return following if following <= at else previous


def _next(start: datetime, bucket: SeriesBucket, tz: ZoneInfo) -> datetime:
    """The start (UTC) of the bucket after the one starting at `start`."""
    local = start.astimezone(tz)
    if bucket == SeriesBucket.DAY:
        return _first_instant(local.date() + timedelta(days=1), tz)
    if bucket == SeriesBucket.WEEK:
        return _first_instant(local.date() + timedelta(days=7 - local.weekday()), tz)
    after = start + _HOUR
    if after.astimezone(tz).utcoffset() == local.utcoffset() and local.minute == local.second == 0:
        return after  # no change of offset within the hour: the next hour is an hour later
    hour = local.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    # The same reading again (the repeated hour when DST ends), else the next hour the clock reads.
    for naive in (hour + timedelta(hours=n) for n in range(5)):
        found = [at for fold in (0, 1) if (at := _exists(naive, fold, tz)) is not None and at > start]
        if found:
            return min(found)
    raise AssertionError(f"no local hour after {start} in {tz}")


def window(
    bucket: SeriesBucket, start: datetime | None, end: datetime | None, tz: ZoneInfo, now: datetime
) -> tuple[datetime, datetime, list[datetime]]:
    """[from, to) and the starts of its buckets, oldest first. Ends left out: the last N buckets up to now's
    (included), or N buckets from `from` / up to `to`."""
    count = DEFAULT_BUCKETS[bucket]
    if end is None:
        anchor = floor(start, bucket, tz) if start is not None else floor(now, bucket, tz)
        if start is None:
            end = _next(anchor, bucket, tz)
            start = _step_back(anchor, bucket, tz, count - 1)
        else:
            end = _step_forward(anchor, bucket, tz, count)
    elif start is None:
        start = _step_back(floor(end - timedelta(microseconds=1), bucket, tz), bucket, tz, count - 1)
    if start >= end:
        raise SeriesArgumentError("`from` must be before `to`.", "from")
    if start < EARLIEST or end > LATEST:
        raise SeriesArgumentError("A series lies between 1970 and 2100.", "from" if start < EARLIEST else "to")
    starts = [floor(start, bucket, tz)]
    while True:
        following = _next(starts[-1], bucket, tz)
        if following >= end:
            break
        starts.append(following)
        if len(starts) > MAX_BUCKETS:
            raise SeriesArgumentError(
                f"A series has at most {MAX_BUCKETS:,} buckets: narrow [from, to) or use a larger bucket.", "to"
            )
    return start, end, starts


def _step_forward(start: datetime, bucket: SeriesBucket, tz: ZoneInfo, count: int) -> datetime:
    for _ in range(count):
        start = _next(start, bucket, tz)
    return start


def _step_back(start: datetime, bucket: SeriesBucket, tz: ZoneInfo, count: int) -> datetime:
    for _ in range(count):
        start = floor(start - timedelta(microseconds=1), bucket, tz)
    return start


def _slot_seconds(starts: list[datetime]) -> int:
    return math.gcd(*(int(s.timestamp()) for s in starts)) or 1


async def series(
    campaign_id: int,
    bucket: SeriesBucket = SeriesBucket.DAY,
    start: datetime | None = None,
    end: datetime | None = None,
    timezone: str = "UTC",
    *,
    now: datetime,
) -> list[SeriesPoint]:
    """One point per bucket of [start, end) in `timezone`, oldest first, zeros included; `now` places the
    default window (the engine's clock, so a frozen clock freezes it too)."""
    tz = zone(timezone)
    start, end, starts = window(SeriesBucket(bucket), start, end, tz, now)
    points = [SeriesPoint(start=s) for s in starts]
    for kind, index, count in await _count(campaign_id, start, end, starts):
        name = "positive_replies" if kind == "+" else _FIELD_OF_KIND.get(kind, kind)
        setattr(points[index], name, getattr(points[index], name) + count)
    return points


def _ceil_slot(at: datetime) -> datetime:
    floor_ = slots.slot_of(at)
    return floor_ if floor_ == at else floor_ + slots.SLOT


async def _count(
    campaign_id: int, start: datetime, end: datetime, starts: list[datetime]
) -> list[tuple[str, int, int]]:
    """(kind or field, bucket index, activities) in [start, end): whole slots from the slots, the rest (the
    ends off a quarter hour) from the activity table. Kind "+" is the positive replies."""
    first, last = _ceil_slot(start), slots.slot_of(end)
    if first >= last or any(int(s.timestamp()) % slots.SLOT_SECONDS for s in starts[1:]):
        return await _counts(campaign_id, start, end, starts)
    out = await _slot_counts(campaign_id, first, last, starts)
    if start < first:
        out += await _counts(campaign_id, start, first, starts)
    if last < end:
        out += await _counts(campaign_id, last, end, starts)
    return out


async def _slot_counts(
    campaign_id: int, start: datetime, end: datetime, starts: list[datetime]
) -> list[tuple[str, int, int]]:
    """(field, bucket index, activities) from the slots in [start, end), both slot starts."""
    conn = db()
    marks = placeholders(conn, 4)
    values: list[Any] = [campaign_id, start.astimezone(UTC), end.astimezone(UTC)]
    where = f"campaign_id = {marks[0]} AND slot_start >= {marks[1]} AND slot_start < {marks[2]}"
    sums = ", ".join(f"SUM({c}) AS {c}" for c in slots.COLUMNS)
    if is_postgres(conn):
        rows = await fetch(
            conn,
            f"SELECT width_bucket(slot_start, {marks[3]}::timestamptz[]) - 1 AS g, {sums}"
            f" FROM activity_slot WHERE {where} GROUP BY g",
            [*values, starts],
        )
        index = [int(r["g"]) for r in rows]
    else:
        rows = await fetch(
            conn,
            f"SELECT CAST(strftime('%s', slot_start) AS INTEGER) AS g, {sums}"
            f" FROM activity_slot WHERE {where} GROUP BY slot_start",
            values,
        )
        epochs = [int(s.timestamp()) for s in starts]
        index = [bisect_right(epochs, int(r["g"])) - 1 for r in rows]
    return [(c, i, int(r[c])) for r, i in zip(rows, index, strict=True) for c in slots.COLUMNS if r[c]]


async def _counts(
    campaign_id: int, start: datetime, end: datetime, starts: list[datetime]
) -> list[tuple[str, int, int]]:
    """(kind, bucket index, activities) in [start, end) from the activity table; kind "+" is the positive
    replies.

    PostgreSQL finds each activity's bucket itself (width_bucket: a binary search of the starts). SQLite
    groups by slot, folded into buckets here.
    """
    conn = db()
    kinds = list(_FIELD_OF_KIND)
    marks = placeholders(conn, 4 + len(kinds))
    # UTC, as every occurred_at is stored: SQLite compares the ISO text.
    values: list[Any] = [campaign_id, start.astimezone(UTC), end.astimezone(UTC)]
    where = f"campaign_id = {marks[0]} AND occurred_at >= {marks[1]} AND occurred_at < {marks[2]}"
    slot = _slot_seconds(starts)
    if is_postgres(conn):
        group = f"width_bucket(occurred_at, {marks[3]}::timestamptz[]) - 1"
        values.append(starts)
    else:
        group = f"CAST(strftime('%s', occurred_at) AS INTEGER) / {slot}"
        marks = [*marks[:3], *marks[4:]]
    rows = await fetch(
        conn,
        f"SELECT kind, {group} AS g, COUNT(*) AS n FROM activity WHERE {where}"
        f" AND kind IN ({', '.join(marks[-len(kinds) :])}) GROUP BY kind, g",
        [*values, *kinds],
    )
    labels = placeholders(conn, 2 * len(POSITIVE_LABELS), start=len(values) + 1)
    label_sql = " OR ".join(
        f"detail = {labels[2 * i]} OR detail LIKE {labels[2 * i + 1]}" for i in range(len(POSITIVE_LABELS))
    )
    positive = await fetch(
        conn,
        f"SELECT '+' AS kind, {group} AS g, COUNT(*) AS n FROM activity WHERE {where}"
        f" AND kind = '{ActivityKind.REPLY_RECEIVED.value}' AND ({label_sql}) GROUP BY g",
        [*values, *(v for label in POSITIVE_LABELS for v in (label, label + " %"))],
    )
    if is_postgres(conn):
        return [(r["kind"], int(r["g"]), int(r["n"])) for r in rows + positive]
    epochs = [int(s.timestamp()) for s in starts]
    return [(r["kind"], bisect_right(epochs, int(r["g"]) * slot) - 1, int(r["n"])) for r in rows + positive]
