"""compat.py against the real libraries: each accessor used as the code uses it, and the shape it relies on.

When an upgrade moves one of these internals, the failure names the accessor, the library, the version
compat.py was written against (the pin in requirements.lock) and the version installed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import graphql
import pytest
import strawberry
from graphql import GraphQLSchema
from strawberry.dataloader import DataLoader
from strawberry.resolvers import is_default_resolver
from strawberry.types.field import StrawberryField

import compat

LOCK = (Path(__file__).resolve().parent.parent / "requirements.lock").read_text()


def upgrade(library: str, accessor: str, what: str) -> str:
    """The failure message: which accessor broke, against which pinned version, and what changed."""
    pinned = re.search(rf"^{re.escape(library)}==(\S+)", LOCK, re.MULTILINE)
    return (
        f"compat.{accessor} was written against {library} {pinned.group(1) if pinned else '?'} "
        f"(requirements.lock), {version(library)} is installed: {what}. Update compat.py and its users."
    )


def params(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)


# ------------------------------------------------------------------ Strawberry

SEEN: dict[str, Any] = {}


@strawberry.type
class Query:
    plain: int = 1

    @strawberry.field
    def answer(self, info: strawberry.Info) -> int:
        SEEN["info"] = info
        return 42


def test_graphql_schema_is_the_one_strawberry_executes() -> None:
    schema = strawberry.Schema(query=Query)
    core = compat.graphql_schema(schema)
    assert isinstance(core, GraphQLSchema), upgrade("strawberry-graphql", "graphql_schema", "Schema._schema moved")
    assert graphql.graphql_sync(core, "{ plain }", root_value=Query()).data == {"plain": 1}


def test_raw_info_and_info_builder() -> None:
    schema = strawberry.Schema(query=Query)
    result = schema.execute_sync("{ answer }", context_value={"who": "test"})
    assert result.errors is None and result.data == {"answer": 42}
    info = SEEN.pop("info")
    raw = compat.raw_info(info)
    # graphql-core's info, or Strawberry's NamedTuple of the same fields: what the code reads is `.schema`.
    assert isinstance(getattr(raw, "schema", None), GraphQLSchema) and raw.field_name == "answer", upgrade(
        "strawberry-graphql", "raw_info", "Info._raw_info moved"
    )
    field = compat.strawberry_field_of(compat.graphql_schema(schema).query_type.fields["answer"])  # type: ignore[union-attr]
    assert field is not None
    built = compat.info_builder(schema.config.info_class, field)(raw)
    assert isinstance(built, strawberry.Info), upgrade("strawberry-graphql", "info_builder", "Info's fields changed")
    assert (built.field_name, built.context, compat.raw_info(built)) == ("answer", {"who": "test"}, raw)


def test_strawberry_field_of_and_default_resolver_mark() -> None:
    core = compat.graphql_schema(strawberry.Schema(query=Query))
    field = compat.strawberry_field_of(core.query_type.fields["plain"])  # type: ignore[union-attr]
    assert isinstance(field, StrawberryField), upgrade(
        "strawberry-graphql", "strawberry_field_of", "GraphQLCoreConverter.DEFINITION_BACKREF no longer set"
    )
    assert field.python_name == "plain"

    def resolve(source: Any, info: Any) -> Any:
        return None

    for mark in (True, False):
        compat.mark_default_resolver(resolve, mark)
        assert is_default_resolver(resolve) is mark, upgrade(
            "strawberry-graphql", "mark_default_resolver", "is_default_resolver no longer reads _is_default"
        )


def test_transport_ws_handler_shape() -> None:
    base, operation = compat.TransportWSHandler, compat.TransportWSOperation
    used = {
        "handle": ["self"],
        "on_request_accepted": ["self"],
        "run_operation": ["self", "operation"],
        "handle_message": ["self", "message"],
        "handle_invalid_message": ["self", "error_message"],
        "handle_task_exception": ["self", "error"],
        "shutdown": ["self"],
    }
    for name, expected in used.items():
        assert params(getattr(base, name, None) or (lambda: None)) == expected, upgrade(
            "strawberry-graphql", "TransportWSHandler", f"{name}{expected} changed (schema/transport.py overrides it)"
        )
    for name in ("completed", "task", "query", "variables", "id", "operation_name"):
        assert name in operation.__slots__, upgrade("strawberry-graphql", "TransportWSOperation", f"no {name}")
    assert callable(getattr(operation, "send_operation_message", None))
    # The constructor stores its arguments; the timer starts empty, as `connection_init_timeout_task` expects.
    handler = base(None, None, None, None, None, None)  # type: ignore[arg-type]
    assert compat.connection_init_timeout_task(handler) is None, upgrade(
        "strawberry-graphql", "connection_init_timeout_task", "the attribute is gone"
    )
    assert "self.connection_init_timeout_task = None" not in inspect.getsource(base.shutdown), upgrade(
        "strawberry-graphql", "forget_connection_init_timeout_task", "shutdown now clears the timer itself"
    )
    compat.forget_connection_init_timeout_task(handler)
    assert compat.connection_init_timeout_task(handler) is None


def test_starlette_websocket_is_the_adapters_ws() -> None:
    from strawberry.asgi import ASGIWebSocketAdapter

    sentinel = object()
    adapter = ASGIWebSocketAdapter(None, None, sentinel)  # type: ignore[arg-type]
    handler = compat.TransportWSHandler(None, adapter, None, None, None, None)  # type: ignore[arg-type]
    assert compat.starlette_websocket(handler) is sentinel, upgrade(
        "strawberry-graphql", "starlette_websocket", "ASGIWebSocketAdapter no longer keeps the socket as `ws`"
    )


async def test_cached_future() -> None:
    async def load(keys: list[int]) -> list[int]:
        return [k * 10 for k in keys]

    loader = DataLoader(load_fn=load)
    assert compat.cached_future(loader, 1) is None
    assert await loader.load(1) == 10
    future = compat.cached_future(loader, 1)
    assert isinstance(future, asyncio.Future) and future.done() and future.result() == 10, upgrade(
        "strawberry-graphql", "cached_future", "DataLoader.cache_map no longer holds the futures by key"
    )
    uncached = DataLoader(load_fn=load, cache=False)
    await uncached.load(1)
    assert compat.cached_future(uncached, 1) is None


def test_execution_context_base_is_graphql_cores() -> None:
    assert issubclass(compat.ExecutionContextBase, graphql.Executor), upgrade(
        "strawberry-graphql", "ExecutionContextBase", "no longer a graphql-core Executor"
    )


# ------------------------------------------------------------------ graphql-core


def test_execution_context_hooks_schema_fastpath_uses() -> None:
    base = graphql.Executor
    hooks = {
        "execute_collected_root_fields": [
            "self", "root_type", "root_value", "grouped_field_set", "serially", "new_defer_usages"
        ],
        "build_resolve_info": ["self", "field_def", "field_nodes", "parent_type", "path"],
        "collect_subfields": ["self", "return_type", "field_details_list"],
        "ensure_valid_runtime_type": [
            "self", "runtime_type_name", "return_type", "field_details_list", "info", "result"
        ],
        "settle_in_background": ["self", "awaitables"],
    }  # fmt: skip
    for name, expected in hooks.items():
        assert params(getattr(base, name, None) or (lambda: None)) == expected, upgrade(
            "graphql-core", "ExecutionContextBase", f"Executor.{name}{expected} changed (schema/fastpath.py)"
        )
    assert set(compat.FieldDetailsList.__args__[0]._fields) >= {"node", "fragment_variable_values"}  # type: ignore[attr-defined]

    core = compat.graphql_schema(strawberry.Schema(query=Query))
    context = base.build(core, graphql.parse("{ plain }"))
    assert isinstance(context, base)
    for name in ("fragment_definitions", "operation", "variable_values", "middleware_manager", "hide_suggestions"):
        assert hasattr(context, name), upgrade("graphql-core", "ExecutionContextBase", f"no attribute {name}")
    assert isinstance(getattr(context, "_relevant_sub_fields", None), dict), upgrade(
        "graphql-core", "forget_relevant_subfields", "Executor._relevant_sub_fields is gone"
    )
    memo: dict[Any, Any] = context._relevant_sub_fields
    memo[1] = 2
    compat.forget_relevant_subfields(context)
    assert memo == {}


# ------------------------------------------------------------------ Tortoise


async def test_model_meta_and_loaded_state_match_init_from_db(database: None) -> None:
    from tortoise.models import MetaInfo

    from models import Lead

    meta = compat.model_meta(Lead)
    assert isinstance(meta, MetaInfo), upgrade("tortoise-orm", "model_meta", "Model._meta moved")
    for name in ("fields_map", "fields_db_projection", "db_table", "db_pk_column", "pk_attr", "generated_db_fields"):
        assert hasattr(meta, name), upgrade("tortoise-orm", "model_meta", f"MetaInfo.{name} is gone")
    groups = (meta.db_native_fields, meta.db_default_fields, meta.db_complex_fields)
    for group in groups:
        assert all(len(entry) == 3 for entry in group), upgrade(
            "tortoise-orm", "model_meta", "the (column, attribute, field) groups _init_from_db reads changed"
        )
    # What `_init_from_db` sets besides the columns is exactly what models/fastread.py sets.
    row = {column: None for group in groups for column, _, _ in group}
    instance = Lead._init_from_db(**row)
    attributes = {attr for group in groups for _, attr, _ in group}
    bookkeeping = {k: v for k, v in vars(instance).items() if k not in attributes}
    expected = {**compat.loaded_state(Lead, False), compat.FRESH_PER_INSTANCE: {}}
    assert bookkeeping == expected, upgrade(
        "tortoise-orm", "loaded_state", f"_init_from_db now sets {bookkeeping}, fastread sets {expected}"
    )


# ------------------------------------------------------------------ Dramatiq


def test_event_loop_thread_shape() -> None:
    thread = compat.EventLoopThread(logging.getLogger("test"))
    try:
        for name in ("loop", "logger", "interrupt_check_ival"):
            assert hasattr(thread, name), upgrade("dramatiq", "EventLoopThread", f"no {name} (tasks/broker.py)")
        assert isinstance(thread.loop, asyncio.AbstractEventLoop)
        assert params(thread.run_coroutine) == ["coro"], upgrade("dramatiq", "EventLoopThread", "run_coroutine changed")
        assert params(compat.EventLoopThread.start) == ["self", "timeout"]
    finally:
        thread.loop.close()
    before = compat.get_event_loop_thread()
    try:
        compat.set_event_loop_thread(thread)
        assert compat.get_event_loop_thread() is thread, upgrade(
            "dramatiq", "set_event_loop_thread", "the process-wide loop thread is no longer what get returns"
        )
    finally:
        compat.set_event_loop_thread(before)


def _message(queue: str, n: int) -> Any:
    from dramatiq import Message

    return Message(queue_name=queue, actor_name="compat.probe", args=(n,), kwargs={}, options={})


def test_stub_outstanding_counts_messages_until_acked() -> None:
    from dramatiq.brokers.stub import StubBroker

    broker = StubBroker()
    broker.declare_queue("probe")
    for n in range(2):
        broker.enqueue(_message("probe", n))
    consumer = broker.consume("probe", prefetch=1, timeout=100)
    taken = next(consumer)
    assert taken is not None
    assert compat.stub_outstanding(broker, "probe") == 2, upgrade(
        "dramatiq", "stub_outstanding", "a fetched message no longer counts until it is acked"
    )
    consumer.ack(taken)
    assert compat.stub_outstanding(broker, "probe") == 1
    consumer.close()


def test_redis_layout_is_the_one_redis_outstanding_reads() -> None:
    import dramatiq.brokers.redis as redis_broker

    lua = (Path(redis_broker.__file__).parent / "redis" / "dispatch.lua").read_text()
    for shape in (
        'local acks = namespace .. ":__acks__." .. worker_id',
        'local heartbeats = namespace .. ":__heartbeats__"',
        'redis.call("zadd", heartbeats, timestamp, worker_id)',
        'local queue_acks = acks .. "." .. queue_name',
        'local queue_full_name = namespace .. ":" .. queue_name',
        'local queue_messages = queue_full_name .. ".msgs"',
    ):
        assert shape in lua, upgrade("dramatiq", "redis_outstanding", f"dispatch.lua no longer has `{shape}`")


async def test_redis_outstanding_counts_what_live_workers_hold(backend: Any) -> None:
    if not backend.real:
        pytest.skip("needs Redis: --backend real (the layout it reads is checked above on every backend)")
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=backend.redis_url, namespace=f"{backend.namespace}:compat")
    try:
        broker.declare_queue("probe")
        for n in range(3):
            broker.enqueue(_message("probe", n))
        consumer = broker.consume("probe", prefetch=1, timeout=100)
        taken = next(consumer)
        while taken is None:
            taken = next(consumer)
        assert compat.redis_outstanding(broker, "probe", silent_ms=60_000) == 3, upgrade(
            "dramatiq", "redis_outstanding", "a message a live worker fetched is no longer counted"
        )
        await asyncio.sleep(0.05)
        assert compat.redis_outstanding(broker, "probe", silent_ms=10) == 2, upgrade(
            "dramatiq", "redis_outstanding", "a silent worker's messages are still counted"
        )
        consumer.ack(taken)
        assert compat.redis_outstanding(broker, "probe", silent_ms=60_000) == 2
        consumer.close()
    finally:
        broker.flush_all()
        broker.close()


def test_no_private_names_outside_compat() -> None:
    """The accessors above are the only way in: no package reaches into these internals itself."""
    root = Path(__file__).resolve().parent.parent
    private = re.compile(
        r"\._schema\b|\._raw_info\b|_raw_info=|\._meta\b|\._partial\b|\._saved_in_db\b|\._relevant_sub_fields\b"
        r"|\.cache_map\b|\._is_default\b|dramatiq\.asyncio|graphql\.execution\.collect_fields"
        r"|connection_init_timeout_task\s*=|websocket\.ws\b|\.unfinished_tasks\b|__acks__|__heartbeats__"
    )
    found = []
    packages = sorted(p.parent for p in root.glob("*/__init__.py") if p.parent.name not in ("tests", "bench"))
    sources = [p for p in root.glob("*.py") if p.name != "compat.py"]
    sources += [p for package in packages for p in package.rglob("*.py") if "migrations" not in p.parts]
    for path in sorted(sources):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if private.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert not found, "use compat.py for these:\n" + "\n".join(found)
