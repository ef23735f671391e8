"""Keyset pagination: opaque cursors over the sort key, `first` capped, bad input refused clearly."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(slots=True)
class Page:
    """What a Connection field returns: strawberry reads these attributes."""

    nodes: list[Any]
    cursors: list[str]
    page_info: PageInfo
    total_count: int
    edges: list[Edge] = field(init=False)

    def __post_init__(self) -> None:
        self.edges = [Edge(cursor=c, node=n) for c, n in zip(self.cursors, self.nodes, strict=True)]


def check_first(first: int | None) -> int:
    if first is None:
        return 50
    if first < 0:
        raise PaginationError(f"`first` must be 0 or more (got {first}).")
    if first > MAX_FIRST:
        raise PaginationError(f"`first` must be at most {MAX_FIRST} (got {first}); page with `after`.")
    return first


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The sort key inside a cursor; a cursor that is not one of ours is a clear error."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != arity:
        raise PaginationError(f"`after` is not a valid cursor: {cursor!r}. Use an endCursor from a previous page.")
    return key
