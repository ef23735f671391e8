"""The shared-render path for live subscriptions: execute once per change and document, send to everyone.

Strawberry runs a subscription by executing its selection set once per event *per subscriber*. With thousands
of clients watching one campaign that is thousands of identical executions and serializations per change.
Here the graphql-transport-ws handler recognises our two subscriptions (one root field, `campaignStats` or
`campaignActivity`) and serves them from the hub itself:

- each snapshot/entry is executed and serialized ONCE per (query document, variables), the result cached on
  the shared object (`Snapshot.renders` / `Entry.renders`); concurrent subscribers await the same render;
- the per-subscriber work is a dict lookup, one string concatenation (the operation id) and one send.

The result is what Strawberry would send (same schema, same resolvers, same error masking); anything else
(other operations, several or aliased-away root fields, directives on the root field, invalid documents)
falls back to Strawberry's own handler, which stays the reference behaviour.

It is the websocket transport of the GraphQL API (server.py installs it), so it lives with the schema,
above the resolvers it calls; the hub comes from the connection's context (made in the app's lifespan).
The documents' plans and the shared, cached renders are schema/live_render.py; this module is the handler
and each subscriber's stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from json import JSONDecodeError
from typing import Any, cast

import orjson
from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.http.exceptions import WebSocketDisconnected

from compat import (
    TransportWSHandler,
    connection_init_timeout_task,
    forget_connection_init_timeout_task,
    graphql_schema,
    starlette_websocket,
)
from compat import TransportWSOperation as Operation
from domain.errors import PublicError
from live.mailbox import EMPTY, Completed, Mailbox
from resolvers.context import Context
from resolvers.subscription import authorized_campaign_id
from schema.live_render import Plan, masking, payload_of, plan_for, shared_key, shared_render

log = logging.getLogger("outbound.live")


class LiveTransportWSHandler(TransportWSHandler[Context, None]):
    """graphql-transport-ws with our two subscriptions served from the hub's shared renders.

    A connection lives for hours and there may be thousands per process, so what it keeps while idle is
    kept small (see `handle`, `on_request_accepted`, `run_operation`): one frame per operation, no done
    tasks, no copy of the last message received.
    """

    #: Forgets this socket in the revoked-key watch (set once connection_init authenticated it).
    _forget_key: Any = None

    async def handle_connection_init(self, message: Any) -> None:
        """Strawberry's, then the socket is registered under its API key: revoking the key closes it (4403)."""
        await super().handle_connection_init(message)
        context: Context = self.context
        if self.connection_acknowledged and context.keys is not None and context.api_key_id is not None:
            self._forget_key = context.keys.register(context.api_key_id, self._close_revoked)

    async def _close_revoked(self) -> None:
        await self.websocket.close(code=4403, reason="API key revoked")

    async def shutdown(self) -> None:
        if self._forget_key is not None:
            self._forget_key()
            self._forget_key = None
        await super().shutdown()

    def on_request_accepted(self) -> None:
        super().on_request_accepted()
        # Once connection_init came (the timer is cancelled) or the timer fired, the finished task would stay
        # referenced for the socket's life, with its CancelledError and that error's traceback (~1.5 KB).
        # A done task has nothing left for `shutdown` to cancel or await.
        task = connection_init_timeout_task(self)
        if task is not None:
            task.add_done_callback(self._forget_connection_init_timeout)

    def _forget_connection_init_timeout(self, task: asyncio.Task[None]) -> None:
        if connection_init_timeout_task(self) is task:
            forget_connection_init_timeout_task(self)

    async def handle(self) -> None:
        """Strawberry's `handle`, reading the socket itself: its `iter_json` generator keeps the last message
        received (text and decoded) alive while waiting for the next one, i.e. the whole `subscribe` message
        for as long as the socket is idle."""
        self.on_request_accepted()
        ws = starlette_websocket(self)
        decode = self.view.decode_json
        try:
            while ws.application_state != WebSocketState.DISCONNECTED:
                try:
                    text = await ws.receive_text()
                except KeyError:  # a binary frame: its message has "bytes", not "text"
                    await self.handle_invalid_message("WebSocket message type must be text")
                    return
                except WebSocketDisconnect:
                    return
                try:
                    message = decode(text)
                except JSONDecodeError:
                    await self.handle_invalid_message("WebSocket message must be valid JSON")
                    return
                del text
                if not isinstance(message, dict):  # `null`, `[]`, `1`: not a graphql-transport-ws message
                    await self.handle_invalid_message("WebSocket message must be a JSON object")
                    return
                await self.handle_message(cast(Any, message))
                del message
        except WebSocketDisconnected:
            pass
        finally:
            await self.shutdown()

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        """Our subscriptions: check, subscribe, send what is there, then leave it to a `Stream` (no task waits
        between items). Other operations: Strawberry's."""
        schema = graphql_schema(self.schema)
        plan = plan_for(schema, operation.query, operation.operation_name)
        shared = None if plan is None else shared_key(schema, plan, operation.variables or {})
        if plan is None or shared is None:
            await super().run_operation(operation)
            return
        # The document is the plan's (one string for every subscriber that sent it), not this message's copy;
        # the variables too.
        key, variables = shared
        operation.query = plan.query
        operation.variables = variables
        try:
            context = self.context
            kind, value = plan.campaign_arg
            raw_id = value if kind == "literal" else variables.get(value)
            try:
                # `campaignId: ID!`, and shared_key validated the variables: a string is there (a bad one is
                # NOT_FOUND, as decode_id says).
                campaign_id = await authorized_campaign_id(context.workspace_id, raw_id)  # type: ignore[arg-type]
            except PublicError as error:
                # The same `error` message Strawberry sends when a subscription resolver raises before its stream.
                located = GraphQLError(str(error), nodes=[plan.root], path=[plan.field], original_error=error)
                formatted = masking.coded(located).formatted
                await operation.send_operation_message({"id": operation.id, "type": "error", "payload": [formatted]})
                return
            hub = context.hub
            assert hub is not None, "subscriptions need the hub that the app's lifespan makes"
            if plan.field == "campaignStats":
                mailbox = hub.subscribe_stats(campaign_id)
            else:
                mailbox = await hub.subscribe_activity(campaign_id)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a fault: log it, end this operation, keep the socket
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            return
        stream = Stream(self, operation, plan, variables, key, mailbox)
        # From here the stream stands in for the operation's task (Strawberry cancels `operation.task` when the
        # client completes the operation or the socket closes): this task is its first sender.
        stream.task = asyncio.current_task()
        operation.task = stream  # type: ignore[assignment]
        mailbox.notify = stream.wake
        if operation.completed or self.operations.get(operation.id) is not operation:  # ended meanwhile
            stream.cancel()
            return
        await stream.drain()


async def _nothing() -> None:
    return None


class Stream:
    """One served subscription between two items: no task, no frame, just this and its mailbox.

    The hub puts an item in the mailbox, which calls `wake`; that starts a task which sends every waiting
    item in order and ends when the mailbox is empty. At most one such task runs per stream, so messages
    keep their order. Strawberry's handler holds this as `operation.task`: `cancel` (the client completed
    the operation, or the socket closed) ends the subscription, and awaiting it waits for a send in flight.
    """

    __slots__ = ("handler", "key", "mailbox", "operation", "plan", "prefix", "task", "variables")

    def __init__(
        self,
        handler: LiveTransportWSHandler,
        operation: Operation[Context, None],
        plan: Plan,
        variables: dict[str, Any],
        key: tuple[Plan, str],
        mailbox: Mailbox,
    ) -> None:
        self.handler = handler
        self.operation = operation
        self.plan = plan
        self.variables = variables
        self.mailbox = mailbox
        self.key = key
        self.prefix = _next_prefix(operation.id)
        #: The task sending right now, if any.
        self.task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.drain())

    def cancel(self, msg: Any = None) -> bool:
        self._close()
        task = self.task
        if task is not None and not task.done():
            task.cancel(msg)
        return True

    def done(self) -> bool:
        return self.task is None or self.task.done()

    def __await__(self) -> Any:
        """Waits for the send in flight, if any, to finish (Strawberry's `shutdown` awaits cancelled tasks)."""
        task = self.task
        if task is None or task is asyncio.current_task():
            return _nothing().__await__()
        return task.__await__()

    def _close(self) -> None:
        mailbox = self.mailbox
        mailbox.notify = None
        hub = self.handler.context.hub
        assert hub is not None  # run_operation checked it before making this stream
        hub.unsubscribe(mailbox)

    async def drain(self) -> None:
        """Send every waiting item, in order; then end (the next `put` wakes a new drain)."""
        operation, plan, mailbox = self.operation, self.plan, self.mailbox
        handler = self.handler
        send = starlette_websocket(handler).send_text
        try:
            while True:
                try:
                    item = mailbox.pop()
                except Completed:
                    self._close()
                    await operation.send_operation_message({"id": operation.id, "type": "complete"})
                    return
                except PublicError as error:  # too far behind: say so, then end the operation
                    self._close()
                    payload = payload_of(None, [GraphQLError(str(error), nodes=[plan.root], path=[plan.field])])
                    await send(self.prefix + payload + "}")
                    await operation.send_operation_message({"id": operation.id, "type": "complete"})
                    return
                if item is EMPTY:
                    self.task = None  # no await since the mailbox was seen empty: the next put wakes a new drain
                    return
                # The hot path for every subscriber but the first: one dict lookup, no await before the send.
                payload = item.renders.get(self.key)
                if not isinstance(payload, str):
                    payload = await shared_render(
                        graphql_schema(handler.schema),
                        plan,
                        self.variables,
                        handler.context.workspace,
                        item,
                        self.key,
                    )
                if operation.completed:
                    self._close()
                    return
                try:
                    await send(self.prefix + payload + "}")
                except Exception:  # the socket is gone: the handler's reader sees it and cleans up
                    self._close()
                    return
        except asyncio.CancelledError:
            self._close()
            raise
        except Exception as error:  # a fault: log it, end this operation, keep the socket
            self._close()
            await handler.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})


_prefixes: dict[str, str] = {}


def _next_prefix(operation_id: str) -> str:
    """The start of a `next` message for this operation id: shared by every subscriber using the same id."""
    prefix = _prefixes.get(operation_id)
    if prefix is None:
        prefix = '{"id":' + orjson.dumps(operation_id).decode() + ',"type":"next","payload":'
        if len(_prefixes) < 1024:  # ids are usually "1", "2"...; a client that makes up ids gets its own copy
            _prefixes[operation_id] = prefix
    return prefix
