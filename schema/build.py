"""The GraphQL schema assembled from its roots (the one place that imports them all)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.extensions import ValidationCache
from strawberry.schema.config import StrawberryConfig

from config import get_settings
from schema import direct
from schema.execution import ExecutionContext
from schema.masking import ErrorIdMasking, ReportingParserCache
from schema.mutation import Mutation
from schema.observe import OperationMetrics
from schema.query import Query
from schema.scalars import DateTime
from schema.subscription import Subscription
from schema.websocket_only import SubscriptionsOverWebsocket


def build_schema(lean: bool | None = None) -> strawberry.Schema:
    """The served schema. `lean` (default: the LEAN_EXECUTOR setting): queries that succeed take the lean
    executor (schema/fastpath.py, schema/direct.py, schema/execution.py); off, every operation runs on
    Strawberry's own graphql-core execution, with the same resolvers."""
    if lean is None:
        lean = get_settings().lean_executor
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
            OperationMetrics,  # requests and latency by operation, for /metrics
        ],
        # Rows are values, not awaitables: no asyncio task per row (schema/execution.py); queries that
        # succeed take the lean executor (schema/fastpath.py). None: Strawberry's own.
        execution_context_class=ExecutionContext if lean else None,
    )
    if lean:
        # Plain attributes and one-line sync resolvers skip Strawberry's per-call wrapper (schema/direct.py).
        direct.install(schema)
    return schema


__all__ = ["build_schema"]
