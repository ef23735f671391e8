"""Subscriptions run over a websocket only.

Strawberry allows a subscription in a plain HTTP POST (for its multipart protocol) and then executes it as a
query, which fails inside with "Cannot return null" (a masked fault). Taken out of the HTTP request's
allowed operations, it is refused up front like a mutation over GET: 400, code BAD_REQUEST.
"""

from __future__ import annotations

from collections.abc import Iterator

from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType


class SubscriptionsOverWebsocket(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        request = getattr(context.context, "request", None)
        if request is not None and not isinstance(request, WebSocket):
            context.allowed_operations = set(context.allowed_operations) - {OperationType.SUBSCRIPTION}
        yield
