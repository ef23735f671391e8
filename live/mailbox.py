"""A subscriber's mailbox: a small bounded queue between the hub (one producer) and one websocket sender.

The hub never waits on a subscriber: `put` is synchronous and O(1). What happens when a mailbox is full
depends on what it carries:

- snapshots (`keep_latest=True`): the oldest waiting snapshot is dropped. Each snapshot is whole, so a slow
  reader only skips intermediate states and always ends on the newest one.
- entries (`keep_latest=False`): nothing may be skipped, so the mailbox fails with `TooFarBehind` and its
  reader ends with a clear error instead of silently missing entries.

A mailbox lives as long as its subscription and there is one per subscriber, so it holds nothing while idle:
its queue exists only while items wait (a deque is ~0.6 KB even empty), and its reader waits on one bare
future (an `asyncio.Event` is another deque and a future per wait) or, with `notify`, keeps nothing waiting
at all. It has ONE reader.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from domain.errors import PublicError


class Completed(Exception):
    """The stream ends normally (its campaign was deleted, the server is shutting down)."""


class TooFarBehind(PublicError):
    """A reader fell too far behind a stream that must not skip entries."""


#: What `Mailbox.pop` returns when nothing waits (items may be None-like, so not None).
EMPTY: Any = object()


class Mailbox:
    __slots__ = ("_end", "_items", "_maxsize", "_waiter", "keep_latest", "notify", "position", "topic")

    def __init__(self, maxsize: int, *, keep_latest: bool) -> None:
        #: The waiting items, oldest first; None while there are none.
        self._items: deque[Any] | None = None
        self._maxsize = maxsize
        #: The future the reader awaits while the mailbox is empty (None when it is not waiting).
        self._waiter: asyncio.Future[None] | None = None
        self._end: BaseException | None = None
        self.keep_latest = keep_latest
        #: Snapshots: the last version put. Entries: the last entry id put ("from now on" starts here).
        self.position = 0
        #: The hub's topic this mailbox is registered with (set by the hub).
        self.topic: Any = None
        #: Called (synchronously) whenever `pop` has something new to say: for a reader that keeps no task
        #: waiting between items, and starts one when called.
        self.notify: Callable[[], None] | None = None

    @property
    def closed(self) -> bool:
        return self._end is not None

    def put(self, item: Any) -> None:
        if self._end is not None:
            return
        items = self._items
        if items is None:
            items = self._items = deque()
        elif len(items) >= self._maxsize:
            if not self.keep_latest:
                self.fail(
                    TooFarBehind(
                        "This subscription fell too far behind and was closed: read Campaign.activity to catch up, "
                        "then subscribe again."
                    )
                )
                return
            items.popleft()
        items.append(item)
        self._wake()

    def complete(self) -> None:
        """End after the items already queued have been read."""
        if self._end is None:
            self._end = Completed()
            self._wake()

    def fail(self, error: BaseException) -> None:
        """End at once with an error (queued items are dropped: the reader could not keep up anyway)."""
        if self._end is None:
            self._items = None
            self._end = error
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if self.notify is not None:
            self.notify()

    def pop(self) -> Any:
        """The next item if one waits, else EMPTY; raises Completed at the end of the stream, or its error."""
        items = self._items
        if items:
            item = items.popleft()
            if not items:
                self._items = None
            return item
        if self._end is not None:
            raise self._end
        return EMPTY

    def wait(self) -> asyncio.Future[None]:
        """A future done once `pop` has something new to say (an item or the end). Await it directly."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            waiter = self._waiter = asyncio.get_running_loop().create_future()
        return waiter

    async def get(self) -> Any:
        """The next item; raises Completed at the end of the stream, or the error it failed with."""
        item = self.pop()
        while item is EMPTY:
            await self.wait()
            item = self.pop()
        return item
