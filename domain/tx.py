"""Transactions with after-commit effects: jobs and live events go out only once the data is committed.

    async with transaction() as conn:
        ...
        after_commit(lambda: publish(...))

Effects registered inside are run in order after COMMIT, and dropped on rollback. `after_commit` outside
a transaction (or `one_statement`) is a programming error and raises: an effect must never run before the
data it announces is committed.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

log = logging.getLogger("outbound.tx")

Effect = Callable[[], Awaitable[None] | None]
_pending: contextvars.ContextVar[list[Effect] | None] = contextvars.ContextVar("after_commit", default=None)


@asynccontextmanager
async def _effects() -> AsyncIterator[None]:
    """Collect the block's after-commit effects; run them in order if it ends without error, else drop them."""
    effects: list[Effect] = []
    token = _pending.set(effects)
    try:
        yield
    finally:
        _pending.reset(token)
    for effect in effects:
        await _run(effect)


@asynccontextmanager
async def transaction() -> AsyncIterator[BaseDBAsyncClient]:
    if _pending.get() is not None:  # nested: effects belong to the outermost transaction
        async with in_transaction() as conn:
            yield conn
        return
    async with _effects(), in_transaction() as conn:
        yield conn


@asynccontextmanager
async def one_statement() -> AsyncIterator[None]:
    """For a block whose only write is ONE statement, run outside a transaction: a single statement commits
    atomically by itself (autocommit), so BEGIN and COMMIT would be two round trips for nothing. Effects
    registered with `after_commit` run when the block ends without error, i.e. after that statement
    committed; an error drops them, as a rollback does. Inside a transaction, it simply belongs to it.
    """
    if _pending.get() is not None:
        yield
        return
    async with _effects():
        yield


def after_commit(effect: Effect) -> None:
    effects = _pending.get()
    if effects is None:
        raise RuntimeError("after_commit outside a transaction: open one with `transaction()`")
    effects.append(effect)


async def _run(effect: Effect) -> None:
    try:
        result = effect()
        if result is not None:
            await result
    except Exception:  # an effect failing must not turn a committed change into an error
        log.exception("after-commit effect failed")
