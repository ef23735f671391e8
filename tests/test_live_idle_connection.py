"""What an idle graphql-transport-ws connection keeps (schema/transport.py), driven in-process through the ASGI app.

Thousands of sockets sit idle between pushes, so each keeps as little as it can: no finished connection_init
timer task, no task waiting per subscription (a `Stream` starts one per push), no copy of the last message.
Behaviour stays the protocol's: 4408 without connection_init, pushes in order, `complete` unsubscribes.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

import server
from live.hub import Hub
from live.mailbox import Mailbox
from live.reads import Snapshot
from schema import transport as fastpath
from schema.build import build_schema

STATS = "subscription S($id: ID!) { campaignStats(campaignId: $id) { version } }"
CAMPAIGN = 7


class Socket:
    """One client socket: the ASGI app runs against two queues."""

    def __init__(self, app: Any) -> None:
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {
            "type": "websocket",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "headers": [(b"sec-websocket-protocol", GRAPHQL_TRANSPORT_WS_PROTOCOL.encode())],
            "subprotocols": [GRAPHQL_TRANSPORT_WS_PROTOCOL],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 2),
            "scheme": "ws",
            "state": {"hub": app.hub},  # what the server's lifespan hands every connection
        }
        self.to_app.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.create_task(app(scope, self.to_app.get, self.from_app.put))

    async def send(self, message: dict[str, Any]) -> None:
        await self.to_app.put({"type": "websocket.receive", "text": orjson.dumps(message).decode()})

    async def recv(self, wait: float = 2.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.from_app.get(), wait)

    async def message(self, wait: float = 2.0) -> dict[str, Any]:
        event = await self.recv(wait)
        assert event["type"] == "websocket.send", event
        return orjson.loads(event["text"])

    async def close(self) -> None:
        await self.to_app.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 2)


class App(server.OutboundGraphQL):
    """The server's websocket app, with a fixed key and the handler it served last kept for inspection."""

    handlers: list[Any]
    hub: Hub

    async def on_ws_connect(self, context: Any) -> Any:
        params = context.connection_params or {}
        if params.get("Authorization") != "Bearer good":
            from strawberry.exceptions import ConnectionRejectionError

            raise ConnectionRejectionError({"message": "no"})
        context.workspace = SimpleNamespace(id=1)
        return None


@pytest.fixture
async def live(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[App, SimpleNamespace, Hub]]:
    campaign = SimpleNamespace(version=0)

    async def read_stats(campaign_id: int) -> Snapshot:
        return Snapshot(campaign.version, SimpleNamespace(version=campaign.version))

    async def authorized(workspace_id: int, raw_id: str) -> int:
        return CAMPAIGN

    monkeypatch.setattr(fastpath, "authorized_campaign_id", authorized)
    hub = Hub(interval=0.01, read_stats=read_stats)
    handlers: list[Any] = []

    class Handler(fastpath.LiveTransportWSHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            handlers.append(self)

    app = App(
        build_schema(),
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        connection_init_wait_timeout=timedelta(seconds=0.2),
    )
    app.graphql_transport_ws_handler_class = Handler
    app.handlers = handlers
    app.hub = hub
    yield app, campaign, hub
    await hub.stop()


async def subscribed(app: App, op: str = "1") -> Socket:
    socket = Socket(app)
    assert (await socket.recv())["type"] == "websocket.accept"
    await socket.send({"type": "connection_init", "payload": {"Authorization": "Bearer good"}})
    assert (await socket.message())["type"] == "connection_ack"
    await socket.send({"id": op, "type": "subscribe", "payload": {"query": STATS, "variables": {"id": "c"}}})
    return socket


async def test_an_idle_subscriber_keeps_no_task_and_no_last_message(live: Any) -> None:
    app, campaign, hub = live
    socket = await subscribed(app)
    assert await socket.message() == {"id": "1", "type": "next", "payload": {"data": {"campaignStats": {"version": 0}}}}
    await asyncio.sleep(0.05)
    handler = app.handlers[-1]
    assert handler.connection_init_timeout_task is None  # cancelled at connection_init, then forgotten
    stream = handler.operations["1"].task
    assert isinstance(stream, fastpath.Stream) and stream.task is None  # nothing waits between pushes
    gc.collect()
    # The subscribe message (text or decoded) is not kept by the reader while it waits for the next one.
    assert [o for o in gc.get_objects() if isinstance(o, dict) and o.get("type") == "subscribe"] == []

    for version in (1, 2, 3):  # each push starts one sender, which ends once the mailbox is empty
        campaign.version = version
        hub.topics[CAMPAIGN].stats_changed()
        message = await socket.message()
        assert message["payload"]["data"]["campaignStats"]["version"] == version
    await asyncio.sleep(0.05)
    assert stream.task is None

    await socket.send({"id": "1", "type": "complete"})  # the client ends it: unsubscribed from the hub
    await asyncio.sleep(0.05)
    assert "1" not in handler.operations and CAMPAIGN not in hub.topics
    await socket.close()


async def test_items_queued_together_go_out_in_order_and_a_closed_socket_unsubscribes(live: Any) -> None:
    app, _campaign, hub = live
    socket = await subscribed(app)
    await socket.message()
    topic = hub.topics[CAMPAIGN]
    (mailbox,) = topic.stats_subscribers
    mailbox._maxsize = 10  # several waiting at once: one sender sends them all, oldest first
    for version in (5, 6, 7):
        mailbox.put(Snapshot(version, SimpleNamespace(version=version)))
    got = [(await socket.message())["payload"]["data"]["campaignStats"]["version"] for _ in range(3)]
    assert got == [5, 6, 7]
    await socket.close()
    assert CAMPAIGN not in hub.topics  # the socket's shutdown cancelled the stream: unsubscribed


async def test_deleting_the_campaign_completes_the_stream(live: Any) -> None:
    app, _campaign, hub = live
    socket = await subscribed(app)
    await socket.message()
    hub.campaign_deleted(CAMPAIGN)
    assert await socket.message() == {"id": "1", "type": "complete"}
    assert "1" not in app.handlers[-1].operations
    await socket.close()


async def test_without_connection_init_the_socket_is_closed_4408(live: Any) -> None:
    app, _campaign, _hub = live
    socket = Socket(app)
    assert (await socket.recv())["type"] == "websocket.accept"
    closed = await socket.recv(wait=2.0)
    assert closed["type"] == "websocket.close" and closed["code"] == 4408
    await socket.close()


async def test_a_subscribe_before_connection_init_is_closed_4401(live: Any) -> None:
    app, _campaign, _hub = live
    socket = Socket(app)
    assert (await socket.recv())["type"] == "websocket.accept"
    await socket.send({"id": "1", "type": "subscribe", "payload": {"query": STATS, "variables": {"id": "c"}}})
    closed = await socket.recv()
    assert closed["type"] == "websocket.close" and closed["code"] == 4401
    await socket.close()


async def test_a_binary_or_non_json_message_closes_4400(live: Any) -> None:
    app, _campaign, _hub = live
    for event in ({"type": "websocket.receive", "bytes": b"{}"}, {"type": "websocket.receive", "text": "{nope"}):
        socket = Socket(app)
        assert (await socket.recv())["type"] == "websocket.accept"
        await socket.to_app.put(event)
        closed = await socket.recv()
        assert closed["type"] == "websocket.close" and closed["code"] == 4400
        await socket.close()


def test_a_mailbox_notifies_its_reader_of_items_and_of_the_end() -> None:
    calls: list[str] = []
    mailbox = Mailbox(2, keep_latest=True)
    mailbox.notify = lambda: calls.append("wake")
    mailbox.put(1)
    mailbox.complete()
    assert calls == ["wake", "wake"]
    assert mailbox.pop() == 1
    assert mailbox._items is None  # nothing kept once drained


async def test_variables_that_do_not_fit_go_to_strawberry_every_time(live: Any) -> None:
    app, _campaign, _hub = live
    socket = await subscribed(app)
    await socket.message()
    for op in ("2", "3"):  # checked per (document, variables), and a failure is never cached as fine
        await socket.send({"id": op, "type": "subscribe", "payload": {"query": STATS, "variables": {}}})
        message = await socket.message()
        assert message["id"] == op and message["type"] == "error", message
        assert "$id" in message["payload"][0]["message"]
    await socket.close()
