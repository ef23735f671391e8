"""The GraphQL schema: declarative types, inputs, payloads and roots (logic lives in resolvers/)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.extensions import ValidationCache
from strawberry.schema.config import StrawberryConfig

from schema import direct
from schema.execution import ExecutionContext
from schema.masking import ErrorIdMasking, ReportingParserCache
from schema.mutation import Mutation
from schema.query import Query
from schema.scalars import DateTime
from schema.subscription import Subscription
from schema.transport import SubscriptionsOverWebsocket


def build_schema() -> strawberry.Schema:
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(auto_camel_case=True, scalar_map={datetime: DateTime}),
        extensions=[
            # Parsing and validating a query costs more than executing a small one: cache both
            # (module-level LRU caches, shared by every request).
            lambda: ReportingParserCache(maxsize=1024),
            lambda: ValidationCache(maxsize=1024),
            ErrorIdMasking,
            SubscriptionsOverWebsocket,
        ],
        # Rows are values, not awaitables: no asyncio task per row (schema/execution.py).
        execution_context_class=ExecutionContext,
    )
    # Plain attributes and one-line sync resolvers skip Strawberry's per-call wrapper (schema/direct.py).
    direct.install(schema)
    return schema


__all__ = ["build_schema"]
