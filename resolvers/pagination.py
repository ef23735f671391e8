"""Keyset pagination: opaque cursors over the sort key, `first` capped, bad input refused clearly.

A cursor is base64url(JSON [kind, *sort key]). The kind names the connection it came from, so a cursor of
one connection passed to another is refused like any other malformed cursor. A page is one query with
`LIMIT first + 1` (the extra row only tells whether a next page exists) and a WHERE on the sort key, never
an OFFSET: page 1000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain import validation
from domain.errors import PaginationError

MAX_FIRST = 100


@dataclass(slots=True)
class PageInfo:
    has_next_page: bool = False
    has_previous_page: bool = False
    start_cursor: str | None = None
    end_cursor: str | None = None


@dataclass(slots=True)
class Edge:
    cursor: str
    node: Any


Count = int | Callable[[], Awaitable[int]]


@dataclass(slots=True)
class Page:
    """What a Connection field returns: strawberry reads these attributes.

    `count` is a number, or an async callable run only if the client asks for `totalCount`. Cursors are made
    only when asked for: `pageInfo` holds the first and last, `edges` makes the rest on first access (most
    clients read `nodes` and `endCursor`, and a cursor costs a JSON and a base64 encoding).
    """

    nodes: list[Any]
    cursor_of: Callable[[Any], str] | None
    page_info: PageInfo
    count: Count = 0
    _edges: list[Edge] | None = None

    @property
    def edges(self) -> list[Edge]:
        if self._edges is None:
            cursor_of = self.cursor_of
            self._edges = [Edge(cursor=cursor_of(n), node=n) for n in self.nodes] if cursor_of else []
        return self._edges

    @property
    def cursors(self) -> list[str]:
        return [edge.cursor for edge in self.edges]

    @property
    def total_count(self) -> int | Awaitable[int]:
        return self.count() if callable(self.count) else self.count


def check_first(first: int | None, default: int = 50) -> int:
    """`first` as given (null: the default); below 0 or above MAX_FIRST is a PaginationError."""
    if first is None:
        return default
    if first < 0:
        raise PaginationError(f"`first` must be 0 or more (got {first}).")
    if first > MAX_FIRST:
        raise PaginationError(f"`first` must be at most {MAX_FIRST} (got {first}); page with `after`.")
    return first


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def _bad_cursor(cursor: str) -> PaginationError:
    shown = cursor if len(cursor) <= 80 else cursor[:80] + "..."
    return PaginationError(
        f"`after` is not a valid cursor for this list: {shown!r}. Pass an endCursor from a previous page of it."
    )


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The sort key inside a cursor; a cursor that is not one of ours is a clear error."""
    if cursor is None:
        return None
    if len(cursor) > validation.CURSOR:
        raise _bad_cursor(cursor)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != arity:
        raise _bad_cursor(cursor)
    return key


def _key(value: Any) -> bool:
    """A row id as a cursor holds it: a whole number that fits a BIGINT column."""
    return type(value) is int and 0 <= value <= validation.MAX_KEY


def id_cursor(kind: str, pk: int) -> str:
    return encode_cursor(kind, pk)


def decode_id_cursor(cursor: str | None, kind: str) -> int | None:
    """The id inside a cursor of `kind` made by `id_cursor`, or None when there is no cursor."""
    key = decode_cursor(cursor, 2)
    if key is None:
        return None
    if key[0] != kind or not _key(key[1]):
        raise _bad_cursor(cursor or "")
    return key[1]


def time_cursor(kind: str, at: datetime, pk: int) -> str:
    return encode_cursor(kind, at.astimezone(UTC).isoformat(), pk)


def decode_time_cursor(cursor: str | None, kind: str) -> tuple[datetime, int] | None:
    """(datetime, id) inside a cursor of `kind` made by `time_cursor`, or None when there is no cursor."""
    key = decode_cursor(cursor, 3)
    if key is None:
        return None
    if key[0] != kind or not isinstance(key[1], str) or not _key(key[2]):
        raise _bad_cursor(cursor or "")
    try:
        at = datetime.fromisoformat(key[1])
    except ValueError:
        raise _bad_cursor(cursor or "") from None
    if at.tzinfo is None or not validation.EARLIEST <= at < validation.LATEST:
        raise _bad_cursor(cursor or "")
    return at.astimezone(UTC), key[2]


def build_page(
    rows: Sequence[Any], first: int, cursor_of: Callable[[Any], str], after: str | None, count: Count
) -> Page:
    """A page from `first + 1` fetched rows: the extra row only says that a next page exists."""
    nodes = list(rows[:first])
    info = PageInfo(
        has_next_page=len(rows) > first,
        has_previous_page=after is not None,
        start_cursor=cursor_of(nodes[0]) if nodes else None,
        end_cursor=cursor_of(nodes[-1]) if nodes else None,
    )
    return Page(nodes=nodes, cursor_of=cursor_of, page_info=info, count=count)


def empty_page() -> Page:
    """What a filter on an ID that does not exist (in this workspace) returns."""
    return Page(nodes=[], cursor_of=None, page_info=PageInfo(), count=0)
