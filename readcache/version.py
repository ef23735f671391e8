"""The data version: a value that changes whenever a committed change could make a query answer differently.

It is read from the database itself, so no writer has to remember to bump anything:

- PostgreSQL: `pg_current_snapshot()`. Only writing transactions get a txid, and a snapshot is exactly the set
  of transactions whose effects are visible: the same snapshot text means the same set of commits. A commit
  moves `xmax` past its txid or drops it from the in-progress list, and neither ever goes back, so a version
  never repeats once it has changed. (Txids are cluster-wide: a commit in another database also changes it,
  which costs a miss, never a stale answer.)
- SQLite (embedded, one connection per process): the connection's `total_changes` (every row this connection
  wrote, committed or not) with `PRAGMA data_version` (changes committed by any other connection), plus an
  epoch per connection object, because both restart when a connection is reopened. Tortoise's SQLite client
  runs a transaction under the connection's lock and every other statement waits for that lock, so a read
  never sees uncommitted rows: once it runs, the transaction it waited for has committed or rolled back, and
  `total_changes` already counted its writes either way.

A version is read before the query executes, so whatever the execution reads is at least that new: storing
an answer under a version older than its data is harmless (that version is never current again).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Hashable

from tortoise import connections

Version = Hashable

_epochs = itertools.count(1)


class Coalesced:
    """At most one version read in flight; callers that arrive before it is sent share it.

    A caller may only use a read that started after it arrived (a commit acknowledged before the request
    came in must be visible in the version). So callers join the *pending* batch, and a batch is detached
    from new callers just before its read is sent: late arrivals wait for the next read. Under load this turns
    one round trip per request into one per round trip time.
    """

    def __init__(self, read: Callable[[], Awaitable[Version]]) -> None:
        self._read = read
        self._pending: asyncio.Future[Version] | None = None
        self._running = False
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference to tasks

    async def current(self) -> Version:
        pending = self._pending
        if pending is None:
            pending = self._pending = asyncio.get_running_loop().create_future()
            if not self._running:
                self._running = True
                self._task = asyncio.get_running_loop().create_task(self._drain())
        # shield: one caller giving up (client gone) must not cancel the read the others wait for.
        return await asyncio.shield(pending)

    async def _drain(self) -> None:
        try:
            while self._pending is not None:
                batch, self._pending = self._pending, None  # from here on, new callers join the next read
                try:
                    batch.set_result(await self._read())
                except Exception as exc:
                    batch.set_exception(exc)
                    batch.exception()  # retrieved here too: a batch whose callers all left must not warn
        finally:
            self._running = False


# Both readers talk to the driver directly, under Tortoise's own connection handling (pool, or the SQLite
# lock): cheaper than execute_query, and not logged as one of the request's statements.


async def postgres_version() -> Version:
    async with connections.get("default").acquire_connection() as conn:
        return ("pg", await conn.fetchval("SELECT pg_current_snapshot()::text"))


async def sqlite_version() -> Version:
    async with connections.get("default").acquire_connection() as conn:
        epoch = getattr(conn, "_outbound_epoch", None)
        if epoch is None:
            epoch = conn._outbound_epoch = next(_epochs)
        # Under the lock: no statement of this connection runs between the two reads.
        changes = conn.total_changes
        rows = await conn.execute_fetchall("PRAGMA data_version")
        return ("sqlite", epoch, changes, rows[0][0])


def reader_for_default_connection() -> Callable[[], Awaitable[Version]] | None:
    """The version reader for the configured database, or None when its kind is not one we can version."""
    dialect = connections.get("default").capabilities.dialect
    if dialect == "postgres":
        return postgres_version
    if dialect == "sqlite":
        return sqlite_version
    return None
