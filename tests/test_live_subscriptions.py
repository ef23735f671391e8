"""Live subscriptions end to end: a real uvicorn in a subprocess, real websockets speaking graphql-transport-ws.

Changes go through the server's own GraphQL mutations (on the embedded backend the writer must be the server
process: its bus is in-process). On the real backend some tests also write from this process, to PostgreSQL,
publishing on Redis as a worker would: two API processes, and a change made while the bus was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from domain.ids import to_global_id
from tests.conftest import Backend

ROOT = Path(__file__).resolve().parent.parent

STATS = """subscription Stats($id: ID!) { campaignStats(campaignId: $id) {
  campaignId version updatedAt
  allChannels { totalContacts started contacted replied positive }
  email { sent clicked replied positive bounced unsubscribed }
  statuses { status count }
  substatuses { status substatus count }
  steps { stepId leadCount }
} }"""
STATS_QUERY = (
    STATS.replace("subscription Stats", "query Q")
    .replace("campaignStats(campaignId: $id) {", "campaign(id: $id) { stats {")
    .replace("} }", "} } }", 1)
)
ACTIVITY = """subscription A($id: ID!) { campaignActivity(campaignId: $id) {
  id kind channel lead { id status } contact { firstName }
} }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`uvicorn server:create_app` on a free port (or `port`, to restart one), with the test backend's environment."""

    def __init__(self, backend: Backend, port: int | None = None, **env: str) -> None:
        self.port = port or _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql"
        log = open(backend.tmp / f"uvicorn-{self.port}.log", "ab")  # closed in stop(); a restart appends
        self._log = log
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "server:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ws",
                "websockets-sansio",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**backend.env(), "SCHEDULER": "false", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self) -> None:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, f"server exited, see {self._log.name}"
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.base + "/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    async def gql(self, key: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                self.base + "/graphql",
                json={"query": query, "variables": variables or {}},
                headers={"Authorization": f"Bearer {key}"},
            )
        body = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        return body["data"]


@pytest.fixture(scope="module")
async def server(backend: Backend, database: None) -> AsyncIterator[Server]:
    srv = Server(backend)
    try:
        await srv.ready()
        yield srv
    finally:
        srv.stop()


class Client:
    """One graphql-transport-ws connection; messages are kept per operation id."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.inbox: dict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, key: str | None) -> Client:
        conn = await connect(url, subprotocols=["graphql-transport-ws"], ping_interval=None)  # type: ignore[list-item]
        payload = {"Authorization": f"Bearer {key}"} if key else {}
        await conn.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
        ack = orjson.loads(await asyncio.wait_for(conn.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        return cls(conn)

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.conn:
                message = orjson.loads(raw)
                await self.inbox[message.get("id", "")].put(message)

    async def subscribe(self, op: str, query: str, campaign_id: str) -> None:
        message = {"id": op, "type": "subscribe", "payload": {"query": query, "variables": {"id": campaign_id}}}
        await self.conn.send(orjson.dumps(message).decode())

    async def next(self, op: str, wait: float = 10) -> dict[str, Any]:
        return await asyncio.wait_for(self.inbox[op].get(), wait)

    async def data(self, op: str, wait: float = 10) -> dict[str, Any]:
        message = await self.next(op, wait)
        assert message["type"] == "next" and not message["payload"].get("errors"), message
        return message["payload"]["data"]

    async def stats_until(self, op: str, done: Any, wait: float = 15) -> list[dict[str, Any]]:
        """Snapshots until `done(snapshot)`; asserts versions strictly increase."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait
        while not got or not done(got[-1]):
            got.append((await self.data(op, max(0.01, deadline - time.monotonic())))["campaignStats"])
            if len(got) > 1:
                assert got[-1]["version"] > got[-2]["version"], [s["version"] for s in got]
        return got

    async def close(self) -> None:
        await self.conn.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    await asyncio.gather(*(c.close() for c in opened), return_exceptions=True)


async def open_client(clients: list[Client], url: str, key: str | None) -> Client:
    client = await Client.open(url, key)
    clients.append(client)
    return client


# ------------------------------------------------------------------------------------------ data


async def make_campaign(server: Server, key: str, contacts: int) -> tuple[str, list[str]]:
    """A DRAFT campaign and `contacts` contacts not yet in it: (campaign id, contact ids)."""
    data = await server.gql(
        key, 'mutation { createCampaign(input: {name: "Live"}) { campaign { id } errors { code } } }'
    )
    campaign_id = data["createCampaign"]["campaign"]["id"]
    people = [{"firstName": f"P{i}", "lastName": "L", "email": f"p{i}@example.com"} for i in range(contacts)]
    data = await server.gql(
        key, "mutation($c: [ContactInput!]!) { importContacts(contacts: $c) { contacts { id } } }", {"c": people}
    )
    return campaign_id, [c["id"] for c in data["importContacts"]["contacts"]]


async def add_leads(server: Server, key: str, campaign_id: str, contact_ids: list[str]) -> list[str]:
    data = await server.gql(
        key,
        "mutation($c: ID!, $ids: [ID!]!) {"
        " addLeads(campaignId: $c, contactIds: $ids) { leads { id } errors { code } } }",
        {"c": campaign_id, "ids": contact_ids},
    )
    assert not data["addLeads"]["errors"], data
    return [lead["id"] for lead in data["addLeads"]["leads"]]


async def reply(server: Server, key: str, lead_id: str) -> None:
    data = await server.gql(
        key,
        "mutation($l: ID!) { recordLeadEvent(input: {leadId: $l, kind: REPLY_RECEIVED, positive: true,"
        " channel: EMAIL}) { errors { code message } } }",
        {"l": lead_id},
    )
    assert not data["recordLeadEvent"]["errors"], data


async def stats_query(server: Server, key: str, campaign_id: str) -> dict[str, Any]:
    return (await server.gql(key, STATS_QUERY, {"id": campaign_id}))["campaign"]["stats"]


# ----------------------------------------------------------------------------------------- tests


async def test_wrong_key_is_closed_4403(server: Server, workspace: Any) -> None:
    async with connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as conn:  # type: ignore[list-item]
        await conn.send(orjson.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}}).decode())
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(conn.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_no_connection_init_is_closed_4408(server: Server) -> None:
    async with connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as conn:  # type: ignore[list-item]
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(conn.recv(), 6)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408


async def test_foreign_unknown_or_malformed_campaign_is_an_error_message(
    server: Server, workspace: Any, other_workspace: Any, clients: list[Client]
) -> None:
    foreign, _ = await make_campaign(server, other_workspace[1], 0)
    client = await open_client(clients, server.ws_url, workspace[1])
    cases = {"foreign": foreign, "unknown": to_global_id("Campaign", 987654), "malformed": "not-an-id"}
    for op, campaign_id in cases.items():
        await client.subscribe(op, STATS, campaign_id)
        await client.subscribe(op + "-activity", ACTIVITY, campaign_id)
    for op in [*cases, *(f"{c}-activity" for c in cases)]:
        message = await client.next(op)
        assert message["type"] == "error", message
        assert message["payload"][0]["message"] == "Campaign not found."


async def test_stats_start_with_a_snapshot_then_move_and_end_equal_to_the_stats_query(
    server: Server, workspace: Any, clients: list[Client]
) -> None:
    key = workspace[1]
    campaign_id, contacts = await make_campaign(server, key, 6)
    client = await open_client(clients, server.ws_url, key)
    await client.subscribe("s", STATS, campaign_id)
    first = (await client.data("s"))["campaignStats"]
    assert first["campaignId"] == campaign_id and first["allChannels"]["totalContacts"] == 0

    leads: list[str] = []
    for i in range(3):  # three separate changes: the numbers move, versions increase
        leads += await add_leads(server, key, campaign_id, contacts[2 * i : 2 * i + 2])
        await client.stats_until("s", lambda s, n=len(leads): s["allChannels"]["totalContacts"] == n)
    await reply(server, key, leads[0])
    final = (await client.stats_until("s", lambda s: s["allChannels"]["replied"] == 1))[-1]
    assert final["version"] > first["version"]
    assert final == await stats_query(server, key, campaign_id)


async def test_activity_streams_every_new_entry_in_order(server: Server, workspace: Any, clients: list[Client]) -> None:
    key = workspace[1]
    campaign_id, contacts = await make_campaign(server, key, 4)
    leads = await add_leads(server, key, campaign_id, contacts)
    await reply(server, key, leads[0])  # before the subscription: not streamed
    client = await open_client(clients, server.ws_url, key)
    await client.subscribe("a", ACTIVITY, campaign_id)
    await asyncio.sleep(0.3)  # the subscription is in place ("from now on")
    for lead in leads[1:]:
        await reply(server, key, lead)
    entries = [(await client.data("a"))["campaignActivity"] for _ in leads[1:]]
    assert [e["lead"]["id"] for e in entries] == leads[1:]
    assert all(e["kind"] == "REPLY_RECEIVED" and e["lead"]["status"] == "REPLIED" for e in entries)
    ids = [e["id"] for e in entries]
    assert len(set(ids)) == 3
    with pytest.raises(TimeoutError):  # nothing else (the earlier reply was not replayed)
        await client.next("a", wait=0.5)


async def test_deleting_the_campaign_completes_its_subscriptions(
    server: Server, workspace: Any, clients: list[Client]
) -> None:
    key = workspace[1]
    campaign_id, _ = await make_campaign(server, key, 0)
    client = await open_client(clients, server.ws_url, key)
    await client.subscribe("s", STATS, campaign_id)
    await client.subscribe("a", ACTIVITY, campaign_id)
    await client.data("s")
    await asyncio.sleep(0.2)
    data = await server.gql(key, "mutation($id: ID!) { deleteCampaign(id: $id) { deletedId } }", {"id": campaign_id})
    assert data["deleteCampaign"]["deletedId"] == campaign_id
    assert (await client.next("s", 5))["type"] == "complete"
    assert (await client.next("a", 5))["type"] == "complete"


async def test_200_subscribers_all_get_the_final_snapshot_and_a_slow_one_delays_nobody(
    server: Server, workspace: Any, clients: list[Client]
) -> None:
    key = workspace[1]
    campaign_id, contacts = await make_campaign(server, key, 10)
    subscribers = await asyncio.gather(*(open_client(clients, server.ws_url, key) for _ in range(200)))
    for c in subscribers:
        await c.subscribe("s", STATS, campaign_id)
    await asyncio.gather(*(c.data("s") for c in subscribers))
    # A slow client: its socket is subscribed but nobody reads it while the changes happen.
    slow = await connect(server.ws_url, subprotocols=["graphql-transport-ws"], max_queue=1)  # type: ignore[list-item]
    try:
        await slow.send(
            orjson.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}).decode()
        )
        await slow.send(
            orjson.dumps(
                {"id": "s", "type": "subscribe", "payload": {"query": STATS, "variables": {"id": campaign_id}}}
            ).decode()
        )
        started = time.monotonic()
        for contact in contacts:
            await add_leads(server, key, campaign_id, [contact])
        finals = await asyncio.gather(
            *(c.stats_until("s", lambda s: s["allChannels"]["totalContacts"] == 10) for c in subscribers)
        )
        assert time.monotonic() - started < 10
        expected = await stats_query(server, key, campaign_id)
        assert all(f[-1] == expected for f in finals)
        # Coalesced: ten changes made fewer pushes than changes for at least some subscribers is allowed,
        # but never a regression; the slow one, read at last, ends on the same final snapshot.
        versions = []
        while True:
            message = orjson.loads(await asyncio.wait_for(slow.recv(), 5))
            if message["type"] == "next":
                versions.append(message["payload"]["data"]["campaignStats"]["version"])
                if versions[-1] == expected["version"]:
                    break
        assert versions == sorted(set(versions))
    finally:
        await slow.close()


async def test_a_lost_event_heals_when_someone_subscribes_after_the_snapshot_aged(
    backend: Backend, database: None, workspace: Any, clients: list[Client]
) -> None:
    from domain import counters
    from domain.tx import transaction
    from models import Campaign

    ws, key = workspace
    srv = Server(backend, OUTBOUND_LIVE_SNAPSHOT_MAX_AGE="1")
    try:
        await srv.ready()
        campaign = await Campaign.create(workspace=ws, name="Heal")
        campaign_id = to_global_id("Campaign", campaign.id)
        watcher = await open_client(clients, srv.ws_url, key)
        await watcher.subscribe("s", STATS, campaign_id)  # keeps the campaign's snapshot cached
        first = (await watcher.data("s"))["campaignStats"]
        assert first["allChannels"]["totalContacts"] == 0

        # A change whose event never reaches the server: written from this process, which publishes on no
        # bus the server hears (on both backends), as when a publish fails.
        async with transaction():
            await counters.apply(campaign.id, {counters.TOTAL: 4})
        with pytest.raises(TimeoutError):
            await watcher.next("s", wait=1.2)  # nothing announced it, and the cache is now older than 1 s

        newcomer = await open_client(clients, srv.ws_url, key)
        await newcomer.subscribe("s", STATS, campaign_id)
        fresh = (await newcomer.data("s"))["campaignStats"]
        assert fresh["allChannels"]["totalContacts"] == 4 and fresh["version"] > first["version"]
        assert fresh == await stats_query(srv, key, campaign_id)
        # The read is shared: the one already watching gets the fresh numbers as well.
        assert (await watcher.data("s"))["campaignStats"] == fresh
    finally:
        srv.stop()


# ------------------------------------------------------------------------- real backend only


@pytest.fixture
async def redis_writer(backend: Backend) -> AsyncIterator[None]:
    """This process publishes on the servers' Redis bus (as a worker does) while a test writes directly."""
    if not backend.real:
        pytest.skip("needs the real backend: on embedded, only the server process itself can publish")
    from domain.events import CampaignEvent
    from domain.tx import set_handler
    from live.bus import RedisBus
    from live.runtime import publish_on

    previous = set_handler(CampaignEvent, None)
    bus = RedisBus(backend.redis_url or "", backend.namespace)
    publish_on(bus)
    try:
        yield
    finally:
        set_handler(CampaignEvent, previous)
        await bus.stop()


async def _add_leads_directly(workspace: Any, campaign_pk: int, n: int) -> None:
    from domain.leads import count_leads
    from domain.tx import transaction
    from models import Contact, Lead

    async with transaction():
        leads = []
        for i in range(n):
            contact = await Contact.create(workspace=workspace, first_name=f"D{i}", last_name="L")
            leads.append(await Lead.create(workspace=workspace, campaign_id=campaign_pk, contact=contact))
        await count_leads(workspace.id, campaign_pk, leads)


async def test_two_api_processes_both_get_every_change(
    backend: Backend, server: Server, workspace: Any, clients: list[Client], redis_writer: None
) -> None:
    from models import Campaign

    ws, key = workspace
    second = Server(backend)
    try:
        await second.ready()
        campaign = await Campaign.create(workspace=ws, name="Two")
        campaign_id = to_global_id("Campaign", campaign.id)
        a = await open_client(clients, server.ws_url, key)
        b = await open_client(clients, second.ws_url, key)
        for c in (a, b):
            await c.subscribe("s", STATS, campaign_id)
            await c.data("s")
        for n in range(1, 4):
            await _add_leads_directly(ws, campaign.id, 1)  # a worker's write: PostgreSQL + Redis event
            for c in (a, b):
                await c.stats_until("s", lambda s, n=n: s["allChannels"]["totalContacts"] == n)
    finally:
        second.stop()


async def test_after_the_bus_reconnects_every_subscriber_gets_a_fresh_snapshot(
    backend: Backend, server: Server, workspace: Any, clients: list[Client], redis_writer: None
) -> None:
    import redis.asyncio as aioredis

    from domain import counters
    from domain.tx import transaction
    from models import Campaign

    ws, key = workspace
    campaign = await Campaign.create(workspace=ws, name="Gap")
    campaign_id = to_global_id("Campaign", campaign.id)
    client = await open_client(clients, server.ws_url, key)
    await client.subscribe("s", STATS, campaign_id)
    first = (await client.data("s"))["campaignStats"]

    # A change whose event is lost (as if published while the bus was down): counters only, no event.
    async with transaction():
        await counters.apply(campaign.id, {counters.TOTAL: 5})
    with pytest.raises(TimeoutError):
        await client.next("s", wait=0.5)

    # Drop the server's one pub/sub connection (this namespace's only: other tests' buses are untouched).
    redis = aioredis.Redis.from_url(backend.redis_url or "")
    try:
        killed = 0
        for entry in await redis.client_list(_type="pubsub"):
            if entry.get("name") == f"{backend.namespace}:live-bus":
                killed += await redis.execute_command("CLIENT", "KILL", "ID", entry["id"]) or 1
        assert killed
    finally:
        await redis.aclose()
    fresh = (await client.data("s", wait=10))["campaignStats"]
    assert fresh["allChannels"]["totalContacts"] == 5 and fresh["version"] > first["version"]

    # And the stream carries on after the reconnect.
    await _add_leads_directly(ws, campaign.id, 1)
    await client.stats_until("s", lambda s: s["allChannels"]["totalContacts"] == 6)


async def test_the_shared_render_path_sends_what_strawberry_would(
    server: Server, workspace: Any, clients: list[Client]
) -> None:
    """A root field behind a fragment is not served by schema/transport.py: Strawberry runs it, as reference."""
    key = workspace[1]
    campaign_id, contacts = await make_campaign(server, key, 2)
    client = await open_client(clients, server.ws_url, key)

    def via_fragment(query: str) -> str:
        head, _, body = query.partition("{")
        return f"{head}{{ ...F }} fragment F on Subscription {{{body}"

    reference_stats, reference_activity = via_fragment(STATS), via_fragment(ACTIVITY)
    for op, query in {"fast": STATS, "ref": reference_stats, "fast-a": ACTIVITY, "ref-a": reference_activity}.items():
        await client.subscribe(op, query, campaign_id)
    assert await client.data("fast") == await client.data("ref")
    await asyncio.sleep(0.3)
    leads = await add_leads(server, key, campaign_id, contacts)
    await reply(server, key, leads[1])
    fast = await client.stats_until("fast", lambda s: s["allChannels"]["replied"] == 1)
    ref = await client.stats_until("ref", lambda s: s["allChannels"]["replied"] == 1)
    assert fast[-1] == ref[-1]
    assert await client.data("fast-a") == await client.data("ref-a")


async def test_server_shutdown_closes_sockets_cleanly(backend: Backend, workspace: Any, clients: list[Client]) -> None:
    """SIGTERM: every socket gets a close frame 1012 (service restart: clients reconnect), the process exits."""
    own = Server(backend)
    try:
        await own.ready()
        campaign_id, _ = await make_campaign(own, workspace[1], 0)
        client = await open_client(clients, own.ws_url, workspace[1])
        await client.subscribe("s", STATS, campaign_id)
        await client.data("s")
        own.proc.terminate()
        await asyncio.wait_for(client.reader, 10)
        assert client.conn.close_code == 1012
        # uvicorn re-raises the signal once its graceful shutdown (lifespan included) is done.
        assert await asyncio.to_thread(own.proc.wait, 10) in (0, -signal.SIGTERM)
    finally:
        own.stop()


async def test_watch_script_prints_the_numbers_and_ends_with_the_campaign(server: Server, workspace: Any) -> None:
    key = workspace[1]
    campaign_id, contacts = await make_campaign(server, key, 2)
    watcher = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "live.watch",
        campaign_id,
        "--key",
        key,
        "--url",
        server.ws_url,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert watcher.stdout is not None
        first = await asyncio.wait_for(watcher.stdout.readline(), 10)
        assert b"leads 0" in first
        leads = await add_leads(server, key, campaign_id, contacts)
        await reply(server, key, leads[0])
        seen = ""
        while "replied 1" not in seen or "REPLY_RECEIVED" not in seen:
            seen += (await asyncio.wait_for(watcher.stdout.readline(), 10)).decode()
        assert "leads 2" in seen
        await server.gql(key, "mutation($id: ID!) { deleteCampaign(id: $id) { deletedId } }", {"id": campaign_id})
        rest = (await asyncio.wait_for(watcher.stdout.read(), 10)).decode()
        assert await watcher.wait() == 0
        assert "streams completed" in rest
    finally:
        if watcher.returncode is None:
            watcher.kill()
            await watcher.wait()
