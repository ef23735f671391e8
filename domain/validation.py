"""The limits every input meets (domain.md, "Limits that every client meets"), checked in one place.

Requests and jobs call the same checks through the domain functions (contacts, identities, campaigns,
steps, inbound events), so a value the API refuses can never be stored by another path. Each check adds an
`InvalidInput` with the field's path to the caller's list (every problem is reported at once) and returns
the cleaned value; query arguments, which have no payload to carry UserErrors, use `argument_text` and
`argument_moment`, which raise a top-level `PublicError` (BAD_USER_INPUT).

The numbers are the ones the schema's descriptions state (schema/inputs.py reads them from here).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from domain.errors import DomainError, InvalidInput, PublicError

# Maximum lengths, in characters.
NAME = 200  # a person's, a sender's or a campaign's name; company; job title
EMAIL = 254  # RFC 5321's longest usable address
URL = 500
EMAIL_SUBJECT = 998  # RFC 5322's longest header line
INMAIL_SUBJECT = 200
EMAIL_CONTENT = 100_000
LINKEDIN_NOTE = 300
LINKEDIN_MESSAGE = 8_000
TASK_TITLE = 500
AI_PROMPT = 2_000
EVENT_MESSAGE = 100_000
SEARCH = 200
CURSOR = 200
TIMEZONE = 64

# Ranges of numbers, inclusive.
WAIT_FOR_ACCEPTANCE_DAYS = (1, 365)
DELAY_DAYS = (0, 365)
DELAY_HOURS = (0, 23)
DELAY_MINUTES = (0, 59)
IDENTITY_LIMIT = (0, 1_000_000)
#: Dates: anything outside is a typo (year 1, 9999) that would overflow the engine's arithmetic.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
#: The largest key a cursor or an ID may carry: a BIGINT column's.
MAX_KEY = 2**63 - 1

#: Control characters (C0, DEL, C1) and lone surrogates: never in text. A long text keeps \n, \r and \t.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: One plain address: no display name, list, quotes, angle brackets, comments or whitespace.
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")

Path = Sequence[str]


def _where(path: Path) -> str:
    return path[-1] if path else "The value"


def bad_characters(value: str, *, multiline: bool = False) -> bool:
    return (_CONTROL_MULTILINE if multiline else _CONTROL).search(value) is not None


def text(
    value: Any,
    path: Path,
    errors: list[DomainError],
    *,
    max_length: int,
    required: bool = False,
    multiline: bool = False,
    strip: bool = True,
) -> str | None:
    """A text field: stripped (empty means none), at most `max_length` characters, no control characters
    (a `multiline` text may hold line breaks and tabs)."""
    if value is None:
        if required:
            errors.append(InvalidInput(f"{_where(path)} is required.", path))
        return None
    if not isinstance(value, str):
        errors.append(InvalidInput(f"{_where(path)} must be text.", path))
        return None
    if strip:
        value = value.strip()
    if not value:
        if required:
            errors.append(InvalidInput(f"{_where(path)} is required.", path))
        return None
    if len(value) > max_length:
        errors.append(InvalidInput(f"{_where(path)} is at most {max_length} characters (got {len(value)}).", path))
    elif bad_characters(value, multiline=multiline):
        allowed = " (line breaks and tabs are allowed)" if multiline else ""
        errors.append(InvalidInput(f"{_where(path)} may not contain control characters such as NUL{allowed}.", path))
    return value


def email(value: Any, path: Path, errors: list[DomainError], *, required: bool = False) -> str | None:
    """One plain address (`name@example.com`), its domain lower-cased; lists, display names, angle
    brackets and whitespace are refused."""
    before = len(errors)
    value = text(value, path, errors, max_length=EMAIL, required=required)
    if value is None or len(errors) > before:
        return value
    local, sep, domain = value.rpartition("@")
    if not sep or len(local) > 64 or not _LOCAL.match(local) or not _DOMAIN.match(domain):
        errors.append(InvalidInput("Not one plain email address (like name@example.com).", path))
        return value
    return f"{local}@{domain.lower()}"


def domain_name(value: Any, path: Path, errors: list[DomainError]) -> str | None:
    """One domain name (`example.com`), lower-cased: the part after an address's "@" as `email` accepts it."""
    before = len(errors)
    value = text(value, path, errors, max_length=EMAIL, required=True)
    if value is None or len(errors) > before:
        return value
    if not _DOMAIN.match(value):
        errors.append(InvalidInput("Not one plain domain name (like example.com).", path))
        return value
    return value.lower()


def integer(value: Any, path: Path, errors: list[DomainError], bounds: tuple[int, int]) -> int | None:
    """A whole number within `bounds` (inclusive); None stays None."""
    if value is None:
        return None
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors.append(InvalidInput(f"{_where(path)} must be between {low} and {high}.", path))
        return None
    return value


def moment(value: Any, path: Path, errors: list[DomainError]) -> datetime | None:
    """A date and time between 1970 and 2100; one without a time zone is taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        errors.append(InvalidInput(f"{_where(path)} must be a date and time.", path))
        return None
    at = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST <= at < LATEST:
        errors.append(InvalidInput(f"{_where(path)} must be between 1970 and 2100.", path))
        return None
    return at


def raise_first(errors: list[DomainError]) -> None:
    """For a function that reports one problem (a single-field call): the first one found."""
    if errors:
        raise errors[0]


# ------------------------------------------------------------------ query arguments (top-level errors)


def argument_text(value: str | None, name: str, max_length: int) -> str | None:
    """A query argument's text: over the limit or with control characters is a BAD_USER_INPUT error."""
    if value is None:
        return None
    if len(value) > max_length:
        raise PublicError(f"`{name}` is at most {max_length} characters (got {len(value)}).")
    if bad_characters(value):
        raise PublicError(f"`{name}` may not contain control characters such as NUL.")
    return value


def argument_moment(value: datetime | None, name: str) -> datetime | None:
    """A query argument's date: outside 1970..2100 is a BAD_USER_INPUT error."""
    errors: list[DomainError] = []
    at = moment(value, [name], errors)
    if errors:
        raise PublicError(f"`{name}` must be a date between 1970 and 2100.")
    return at
