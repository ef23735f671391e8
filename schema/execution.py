"""graphql-core's executor, told that an ORM row is a value and not something to await.

Tortoise models define `__await__` (awaiting a row returns the row), so graphql-core's `is_awaitable` takes
every row a resolver returns for a coroutine: it wraps the field in an async completion, and a list of rows
(a page's `nodes`, a timeline) in a gather with one asyncio task per row. Awaiting a row only hands back the
row, so completing it directly gives the same result without the tasks: a page whose relations were
prefetched (resolvers/prefetch.py) then completes synchronously.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from enum import Enum
from typing import Any, TypeGuard

from strawberry.execution import optimized_is_awaitable
from tortoise.models import Model

from compat import ExecutionContextBase
from schema.fastpath import FastPathMixin

#: Types that a resolver returns most often and that are never awaitable: answered without a lookup.
_PLAIN = frozenset({type(None), bool, int, float, str, list, dict, datetime})


def is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    """graphql-core's predicate, except that a Tortoise row (and an enum member) is a plain value."""
    kind = type(value)
    if kind in _PLAIN:
        return False
    if isinstance(value, (Model, Enum)):
        return False
    return optimized_is_awaitable(value)


class ExecutionContext(FastPathMixin, ExecutionContextBase):
    """Strawberry's execution context with `is_awaitable` above (strawberry passes its own to `execute`), and
    the fast path for queries that succeed (schema/fastpath.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_awaitable = is_awaitable
