"""Every place the code relies on another library's internals: its private names, or names it does not document.

The packages import these from here and nowhere else, so an upgrade that moves one breaks here, and
tests/test_compat.py (which exercises each accessor on the real library objects) says which one and against
which version it was written. Each accessor is a small function or a re-export with the version it was
written against in its docstring; the hot paths call them when the schema is built, once per request or per
model and keep what they return (`cached_future` runs once per key of a prefetched relation), never once per
field of a row.

Written against the versions in requirements.lock: strawberry-graphql 0.341.2, graphql-core 3.3.2,
tortoise-orm 1.1.9, dramatiq 2.2.1.

This is a single module below every layer (like config.py): it imports only the libraries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from dramatiq.asyncio import EventLoopThread, get_event_loop_thread, set_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from graphql import GraphQLField, GraphQLResolveInfo, GraphQLSchema
from graphql.execution.collect_fields import DeferUsage, FieldDetailsList, GroupedFieldSet
from strawberry.schema.base import BaseSchema
from strawberry.schema.schema import Schema, StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.types.field import StrawberryField

if TYPE_CHECKING:
    import strawberry
    from starlette.websockets import WebSocket
    from strawberry.dataloader import DataLoader
    from tortoise.models import MetaInfo, Model

# ------------------------------------------------------------------ Strawberry 0.341.2


def graphql_schema(schema: BaseSchema) -> GraphQLSchema:
    """The graphql-core schema a Strawberry schema executes with: `Schema._schema` (strawberry 0.341.2)."""
    assert isinstance(schema, Schema), "a strawberry.Schema"  # what a handler's `schema` is typed as is the base
    return schema._schema


def raw_info(info: strawberry.Info) -> GraphQLResolveInfo:
    """graphql-core's resolve info under a Strawberry `Info`: `Info._raw_info` (strawberry 0.341.2)."""
    return info._raw_info


def info_builder(info_class: type[strawberry.Info], field: StrawberryField) -> Callable[[GraphQLResolveInfo], Any]:
    """How Strawberry builds the `Info` a resolver of `field` receives, from graphql-core's info:
    `info_class(_raw_info=..., _field=...)`, the private dataclass fields of `Info` (strawberry 0.341.2).
    Called once per field when the schema is built; the builder returned is called per resolver call."""

    def build(info: GraphQLResolveInfo) -> Any:
        return info_class(_raw_info=info, _field=field)

    return build


def mark_default_resolver(resolve: Callable[..., Any], is_default: bool) -> None:
    """Mark a field's resolve function as Strawberry marks its own: the `_is_default` attribute that
    `strawberry.resolvers.is_default_resolver` reads (strawberry 0.341.2)."""
    resolve._is_default = is_default  # type: ignore[attr-defined]  # a function attribute Strawberry reads back


def strawberry_field_of(gql_field: GraphQLField) -> StrawberryField | None:
    """The Strawberry field a graphql-core field was converted from: the back reference Strawberry keeps in
    the field's extensions under `GraphQLCoreConverter.DEFINITION_BACKREF` (strawberry 0.341.2)."""
    field = gql_field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return field if isinstance(field, StrawberryField) else None


#: The graphql-transport-ws handler schema/transport.py subclasses (strawberry 0.341.2), overriding `handle`
#: (it reads the socket itself), `on_request_accepted` and `run_operation(operation)`, and calling
#: `handle_message`, `handle_invalid_message`, `handle_task_exception`, `shutdown`, and the operation's
#: `send_operation_message`, `task` and `completed`. tests/test_compat.py checks these exist as used.
TransportWSHandler = BaseGraphQLTransportWSHandler
TransportWSOperation = Operation


def connection_init_timeout_task(handler: BaseGraphQLTransportWSHandler[Any, Any]) -> asyncio.Task[Any] | None:
    """The handler's timer for `connection_init`: `connection_init_timeout_task`, set by
    `on_request_accepted` and cancelled (not cleared) by `handle_connection_init` (strawberry 0.341.2)."""
    return handler.connection_init_timeout_task


def forget_connection_init_timeout_task(handler: BaseGraphQLTransportWSHandler[Any, Any]) -> None:
    """Drop the handler's reference to its finished `connection_init` timer; `shutdown` then has nothing to
    cancel (it checks the attribute for None, strawberry 0.341.2)."""
    handler.connection_init_timeout_task = None


def starlette_websocket(handler: BaseGraphQLTransportWSHandler[Any, Any]) -> WebSocket:
    """The Starlette websocket under the handler's adapter: `ASGIWebSocketAdapter.ws` (strawberry 0.341.2)."""
    return handler.websocket.ws  # type: ignore[attr-defined]  # the adapter's base class does not declare `ws`


def cached_future(loader: DataLoader[Any, Any], key: Hashable) -> asyncio.Future[Any] | None:
    """The future a Strawberry dataloader holds for `key`, if it caches and has one: `DataLoader.cache` and
    `DataLoader.cache_map.get` (its cache, applying the loader's cache key function; strawberry 0.341.2)."""
    return loader.cache_map.get(key) if loader.cache else None


#: Strawberry's graphql-core execution context, which schema/execution.py extends (`strawberry.schema.schema`,
#: not exported by `strawberry`; strawberry 0.341.2).
ExecutionContextBase = StrawberryGraphQLCoreExecutionContext

# ------------------------------------------------------------------ graphql-core 3.3.2

# `DeferUsage`, `FieldDetailsList`, `GroupedFieldSet` (imported above, re-exported): the collected-fields
# structures the executor hands to `execute_collected_root_fields` and `collect_subfields` returns
# (`graphql.execution.collect_fields`, not exported by `graphql`; graphql-core 3.3.2). schema/fastpath.py also
# reads `FieldDetails.node` and `.fragment_variable_values`, and overrides or calls the Executor
# methods tests/test_compat.py lists.


def forget_relevant_subfields(context: Any) -> None:
    """Empty the execution context's memo of collected subfields, `Executor._relevant_sub_fields`
    (graphql-core 3.3.2), before graphql-core runs an operation the fast path abandoned: the memo is keyed by
    ids of field details, which that run builds anew."""
    context._relevant_sub_fields.clear()


# ------------------------------------------------------------------ Tortoise 1.1.9


def model_meta(model: type[Model] | Model) -> MetaInfo:
    """A model's field and table metadata: `Model._meta` (tortoise-orm 1.1.9; its `fields_map`,
    `fields_db_projection`, `db_table`, `db_pk_column`, `pk_attr`, `generated_db_fields` and the
    `db_native_fields` / `db_default_fields` / `db_complex_fields` groups `_init_from_db` reads)."""
    return model._meta


def loaded_state(model: type[Model], partial: bool) -> dict[str, Any]:
    """The bookkeeping attributes `Model._init_from_db` sets on an instance read from the database, but
    `FRESH_PER_INSTANCE` (tortoise-orm 1.1.9: `_partial`, `_saved_in_db`, `_custom_generated_pk`)."""
    meta = model._meta
    return {
        "_partial": partial,
        "_saved_in_db": True,
        "_custom_generated_pk": meta.db_pk_column not in meta.generated_db_fields,
    }


#: The one bookkeeping attribute `_init_from_db` sets to a new dict per instance (tortoise-orm 1.1.9).
FRESH_PER_INSTANCE = "_await_when_save"

# ------------------------------------------------------------------ Dramatiq 2.2.1

#: Dramatiq's AsyncIO event loop thread and the process-wide slot async actors run on (`dramatiq.asyncio`,
#: not in its documented API; dramatiq 2.2.1). tasks/broker.py subclasses the thread over a loop that
#: already runs, setting the `loop`, `logger` and `interrupt_check_ival` attributes its `run_coroutine` reads.
#: (`EventLoopThread`, `get_event_loop_thread`, `set_event_loop_thread` are imported above and re-exported.)

#: Messages of a queue of Dramatiq's Redis broker that live workers have yet to finish: waiting in the queue's
#: list, delayed (its `.DQ` hash), or fetched but not acked by a worker whose last heartbeat (every command
#: it sends) is younger than the given bound (a dead worker's are not counted: nobody will finish them until
#: Dramatiq's maintenance puts them back). The key layout is dispatch.lua's (dramatiq 2.2.1), not documented.
_REDIS_OUTSTANDING = """
local ns, queue = KEYS[1], ARGV[1]
local n = redis.call("llen", ns .. ":" .. queue) + redis.call("hlen", ns .. ":" .. queue .. ".DQ.msgs")
local live = redis.call("zrangebyscore", ns .. ":__heartbeats__", ARGV[2], "+inf")
for _, worker in ipairs(live) do
    n = n + redis.call("scard", ns .. ":__acks__." .. worker .. "." .. queue)
end
return n
"""


def redis_outstanding(broker: RedisBroker, queue: str, silent_ms: int) -> int:
    """Messages of `queue` that workers heard from within `silent_ms` have yet to finish (the script above;
    blocking: call it off the event loop)."""
    script = broker.client.register_script(_REDIS_OUTSTANDING)
    oldest_live = int(time.time() * 1000) - silent_ms
    return int(script(keys=[broker.namespace], args=[queue, oldest_live]))


def redis_heartbeats_key(namespace: str) -> str:
    """The sorted set of Dramatiq's Redis broker: worker (broker) id -> last heartbeat in ms (dramatiq 2.2.1)."""
    return f"{namespace}:__heartbeats__"


def stub_outstanding(broker: StubBroker, queue: str) -> int:
    """Messages of `queue` (and its delay queue) in the in-process broker not yet acked: waiting, prefetched
    by a worker thread or running. `queue.Queue.unfinished_tasks` is undocumented; StubBroker.join reads it
    too (dramatiq 2.2.1)."""
    queues = broker.queues
    return sum(queues[name].unfinished_tasks for name in (queue, f"{queue}.DQ") if name in queues)


__all__ = [
    "FRESH_PER_INSTANCE",
    "DeferUsage",
    "EventLoopThread",
    "ExecutionContextBase",
    "FieldDetailsList",
    "GroupedFieldSet",
    "TransportWSHandler",
    "TransportWSOperation",
    "cached_future",
    "connection_init_timeout_task",
    "forget_connection_init_timeout_task",
    "forget_relevant_subfields",
    "get_event_loop_thread",
    "graphql_schema",
    "info_builder",
    "loaded_state",
    "mark_default_resolver",
    "model_meta",
    "raw_info",
    "redis_heartbeats_key",
    "redis_outstanding",
    "set_event_loop_thread",
    "starlette_websocket",
    "strawberry_field_of",
    "stub_outstanding",
]
