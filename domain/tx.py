"""Transactions with after-commit effects: jobs and live events go out only once the data is committed.

    async with transaction() as conn:
        ...
        after_commit(lambda: publish(...))

Effects registered inside are run in order after COMMIT, and dropped on rollback. `after_commit` outside
a transaction (or `one_statement`) is a programming error and raises: an effect must never run before the
data it announces is committed.

Domain and engine code never import the live bus or the broker. They `announce(message)` *what* happened
(a `domain.events.CampaignEvent`, an `engine.queue.RunSteps`), and the process wiring says how each kind of
message is carried out: the API's lifespan and a worker's middleware `set_handler(kind, handler)` when they
start (live/runtime.py publishes events on the bus, tasks/runtime.py sends jobs to the broker), and clear
it when they stop. A message with no handler in this process (a test, a CLI command) is dropped.

`batch(key, flush)` is the other end: work that must be written IN the transaction, once, from what the
whole transaction did (the webhook outbox, domain/webhooks.py). Items collected under `key` are handed to
`flush` just before COMMIT, so a failure there rolls the change back with them.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

log = logging.getLogger("outbound.tx")

Effect = Callable[[], Awaitable[None] | None]
M = TypeVar("M")
Handler = Callable[[Any], Awaitable[None] | None]

#: How this process carries out each kind of message: installed by the process wiring, never on import.
_handlers: dict[type, Handler] = {}
_pending: contextvars.ContextVar[list[Effect] | None] = contextvars.ContextVar("after_commit", default=None)
Flush = Callable[[list[Any]], Awaitable[None]]
#: The outermost transaction's batches: key -> (flush, items), flushed in order before COMMIT.
_batches: contextvars.ContextVar[dict[str, tuple[Flush, list[Any]]] | None] = contextvars.ContextVar(
    "before_commit", default=None
)


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
        batches: dict[str, tuple[Flush, list[Any]]] = {}
        token = _batches.set(batches)
        try:
            yield conn
            while batches:  # a flush may batch more (under another key): flush until none is left
                key = next(iter(batches))
                flush, items = batches.pop(key)
                await flush(items)
        finally:
            _batches.reset(token)


def batch(key: str, flush: Flush) -> list[Any]:
    """The current transaction's list for `key`: append to it, and `flush(items)` runs once before COMMIT.

    Outside a transaction (or in `one_statement`) it raises: the items must commit with the change."""
    batches = _batches.get()
    if batches is None:
        raise RuntimeError(f"batch({key!r}) outside a transaction: open one with `transaction()`")
    if key not in batches:
        batches[key] = (flush, [])
    return batches[key][1]


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


def set_handler(kind: type[M], handler: Callable[[M], Awaitable[None] | None] | None) -> Handler | None:
    """Process wiring: carry out every later message of `kind` with `handler` (None: drop them again).
    Returns the handler it replaces."""
    previous = _handlers.pop(kind, None)
    if handler is not None:
        _handlers[kind] = handler
    return previous


def announce(message: object) -> None:
    """Hand `message` to this process's handler of its kind once the current transaction commits."""
    after_commit(lambda: deliver(message))


async def deliver(message: object) -> None:
    """Hand `message` to its handler now: for a caller that knows its data is committed already."""
    handler = _handlers.get(type(message))
    if handler is None:
        log.debug("no handler for %s in this process: dropped", type(message).__name__)
        return
    result = handler(message)
    if result is not None:
        await result
