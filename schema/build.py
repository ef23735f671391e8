"""The GraphQL schema assembled from its roots (the one place that imports them all)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext as StrawberryExecutionContext

from compat import graphql_schema
from config import Settings, get_settings
from schema import direct
from schema.cost import QueryLimits
from schema.execution import ExecutionContext
from schema.masking import ErrorIdMasking, log_client_errors
from schema.mutation import Mutation
from schema.observe import OperationMetrics
from schema.query import Query
from schema.scalars import DateTime
from schema.subscription import Subscription
from schema.websocket_only import SubscriptionsOverWebsocket


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: StrawberryExecutionContext | None = None
    ) -> None:
        """Strawberry's hook for logging the errors before masking (schema/masking.py says what is logged)."""
        log_client_errors(errors)


def build_schema(lean: bool | None = None, settings: Settings | None = None) -> Schema:
    """The served schema. `lean` (default: the LEAN_EXECUTOR setting): queries that succeed take the lean
    executor (schema/fastpath.py, schema/direct.py, schema/execution.py); off, every operation runs on
    Strawberry's own graphql-core execution, with the same resolvers. The query limits are `settings`'
    (default: the process's)."""
    settings = settings or get_settings()
    if lean is None:
        lean = settings.lean_executor
    limits = QueryLimits.from_settings(settings)
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(auto_camel_case=True, scalar_map={datetime: DateTime}),
        extensions=[
            # Measured before it runs (depth, aliases, tokens, objects); parsing and validating a query costs
            # more than executing a small one, so both are cached, within a byte budget (schema/cost.py).
            *limits.extensions(),
            ErrorIdMasking,
            SubscriptionsOverWebsocket,
            OperationMetrics,  # requests and latency by operation, for /metrics
        ],
        # Rows are values, not awaitables: no asyncio task per row (schema/execution.py); queries that
        # succeed take the lean executor (schema/fastpath.py). None: Strawberry's own.
        execution_context_class=ExecutionContext if lean else None,
    )
    limits.install(graphql_schema(schema))
    if lean:
        # Plain attributes and one-line sync resolvers skip Strawberry's per-call wrapper (schema/direct.py).
        direct.install(schema)
    return schema


__all__ = ["build_schema"]
