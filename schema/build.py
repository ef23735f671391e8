"""The GraphQL schema assembled from its roots (the one place that imports them all)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from schema import direct
from schema.execution import ExecutionContext
from schema.masking import ErrorIdMasking
from schema.mutation import Mutation
from schema.query import Query
from schema.scalars import DateTime
from schema.subscription import Subscription


def build_schema() -> strawberry.Schema:
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(auto_camel_case=True, scalar_map={datetime: DateTime}),
        extensions=[
            # Parsing and validating a query costs more than executing a small one: cache both
            # (module-level LRU caches, shared by every request).
            lambda: ParserCache(maxsize=1024),
            lambda: ValidationCache(maxsize=1024),
            ErrorIdMasking,
        ],
        # Rows are values, not awaitables: no asyncio task per row (schema/execution.py).
        execution_context_class=ExecutionContext,
    )
    # Plain attributes and one-line sync resolvers skip Strawberry's per-call wrapper (schema/direct.py).
    direct.install(schema)
    return schema


__all__ = ["build_schema"]
