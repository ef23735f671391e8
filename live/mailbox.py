"""A subscriber's mailbox: a small bounded queue between the hub (one producer) and one websocket sender.

The hub never waits on a subscriber: `put` is synchronous and O(1). What happens when a mailbox is full
depends on what it carries:

- snapshots (`keep_latest=True`): the oldest waiting snapshot is dropped. Each snapshot is whole, so a slow
  reader only skips intermediate states and always ends on the newest one.
- entries (`keep_latest=False`): nothing may be skipped, so the mailbox fails with `TooFarBehind` and its
  reader ends with a clear error instead of silently missing entries.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from domain.errors import PublicError


class Completed(Exception):
    """The stream ends normally (its campaign was deleted, the server is shutting down)."""


class TooFarBehind(PublicError):
    """A reader fell too far behind a stream that must not skip entries."""


class Mailbox:
    __slots__ = ("_end", "_items", "_maxsize", "_wake", "keep_latest", "position", "topic")

    def __init__(self, maxsize: int, *, keep_latest: bool) -> None:
        self._items: deque[Any] = deque()
        self._maxsize = maxsize
        self._wake = asyncio.Event()
        self._end: BaseException | None = None
        self.keep_latest = keep_latest
        #: Snapshots: the last version put. Entries: the last entry id put ("from now on" starts here).
        self.position = 0
        #: The hub's topic this mailbox is registered with (set by the hub).
        self.topic: Any = None

    @property
    def closed(self) -> bool:
        return self._end is not None

    def put(self, item: Any) -> None:
        if self._end is not None:
            return
        if len(self._items) >= self._maxsize:
            if not self.keep_latest:
                self.fail(
                    TooFarBehind(
                        "This subscription fell too far behind and was closed: read Campaign.activity to catch up, "
                        "then subscribe again."
                    )
                )
                return
            self._items.popleft()
        self._items.append(item)
        self._wake.set()

    def complete(self) -> None:
        """End after the items already queued have been read."""
        if self._end is None:
            self._end = Completed()
            self._wake.set()

    def fail(self, error: BaseException) -> None:
        """End at once with an error (queued items are dropped: the reader could not keep up anyway)."""
        if self._end is None:
            self._items.clear()
            self._end = error
            self._wake.set()

    async def get(self) -> Any:
        """The next item; raises Completed at the end of the stream, or the error it failed with."""
        while not self._items:
            if self._end is not None:
                raise self._end
            self._wake.clear()
            await self._wake.wait()
        return self._items.popleft()
