"""Custom scalars. DateTime is ISO-8601 with an offset, always emitted in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import strawberry

_ZERO = timedelta(0)


def serialize_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.utcoffset() == _ZERO:
        return value.isoformat()  # already UTC (whichever tzinfo says so): "+00:00" either way
    return value.astimezone(UTC).isoformat()


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError('DateTime must be an ISO-8601 string, e.g. "2026-11-26T09:30:00+00:00"')
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f'{value!r} is not an ISO-8601 date-time with an offset, e.g. "2026-11-26T09:30:00+00:00"'
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f'{value!r} has no UTC offset: add one, e.g. "{text}+00:00"')
    return parsed.astimezone(UTC)


DateTime = strawberry.scalar(
    name="DateTime",
    description='ISO-8601 with an offset, always emitted in UTC ("2026-11-26T09:30:00+00:00").',
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)
