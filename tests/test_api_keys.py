"""API keys (issue 12.5, contract r2): named keys, listed by Workspace.apiKeys, revoked at once everywhere.

In-process over HTTP for the rules; real uvicorn servers and websockets for "at once": the revoking process
and (real backend: two processes sharing Redis) the other one refuse the key and close its sockets (4403).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.exceptions import ConnectionClosed

from domain.ids import to_global_id
from tests.conftest import Backend, GraphQLClient
from tests.test_live_subscriptions import STATS, Client, Server, clients, open_client, server  # noqa: F401

KEY_FIELDS = "id name prefix createdAt lastUsedAt revokedAt"
CREATE = (
    f"mutation($n: String!) {{ createApiKey(name: $n) {{ key apiKey {{ {KEY_FIELDS} }} errors {{ code field }} }} }}"
)
REVOKE = f"mutation($id: ID!) {{ revokeApiKey(id: $id) {{ apiKey {{ {KEY_FIELDS} }} errors {{ code field }} }} }}"
KEYS = f"{{ viewer {{ apiKeys {{ {KEY_FIELDS} }} }} }}"


async def create(gql: GraphQLClient, name: str) -> dict[str, Any]:
    return (await gql(CREATE, {"n": name}))["createApiKey"]


async def status(gql: GraphQLClient, key: str) -> int:
    return (await gql.post("{ viewer { name } }", key=key)).status_code


async def test_a_new_key_is_shown_once_works_and_is_listed(gql: GraphQLClient) -> None:
    made = await create(gql, "  CI deploys  ")
    assert made["errors"] == []
    key, row = made["key"], made["apiKey"]
    assert row["name"] == "CI deploys" and key.startswith(row["prefix"]) and row["prefix"].startswith("ob_")
    assert row["revokedAt"] is None and row["lastUsedAt"] is None
    assert (await gql.as_key(key)("{ viewer { name } }"))["viewer"]["name"] == "Acme"
    listed = (await gql(KEYS))["viewer"]["apiKeys"]
    assert [k["name"] for k in listed] == ["first key", "CI deploys"]  # oldest first
    assert all("key" not in k for k in listed)
    assert (await gql("query($id: ID!) { node(id: $id) { ... on ApiKey { name } } }", {"id": row["id"]}))["node"] == {
        "name": "CI deploys"
    }


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "nul\x00byte", "new\nline", "tab\there", "esc\x1b[31m"])
async def test_a_bad_name_is_invalid_input_and_creates_nothing(gql: GraphQLClient, name: str) -> None:
    made = await create(gql, name)
    assert made["key"] is None and made["apiKey"] is None
    assert made["errors"] == [{"code": "INVALID_INPUT", "field": ["name"]}]
    assert len((await gql(KEYS))["viewer"]["apiKeys"]) == 1


async def test_a_name_of_100_characters_is_fine(gql: GraphQLClient) -> None:
    assert (await create(gql, "é" * 100))["apiKey"]["name"] == "é" * 100


async def test_a_revoked_key_is_refused_at_once_and_stays_listed(gql: GraphQLClient) -> None:
    made = await create(gql, "Zapier")
    assert await status(gql, made["key"]) == 200  # its lookup is now cached in this process
    revoked = (await gql(REVOKE, {"id": made["apiKey"]["id"]}))["revokeApiKey"]
    assert revoked["errors"] == [] and revoked["apiKey"]["revokedAt"] is not None
    assert await status(gql, made["key"]) == 401
    listed = {k["name"]: k for k in (await gql(KEYS))["viewer"]["apiKeys"]}
    assert listed["Zapier"]["revokedAt"] == revoked["apiKey"]["revokedAt"]
    assert listed["first key"]["revokedAt"] is None and await status(gql, gql.key or "") == 200


async def test_revoking_twice_is_a_no_op_that_keeps_the_first_revocation(gql: GraphQLClient) -> None:
    made = await create(gql, "twice")
    first = (await gql(REVOKE, {"id": made["apiKey"]["id"]}))["revokeApiKey"]
    await asyncio.sleep(0.01)
    again = (await gql(REVOKE, {"id": made["apiKey"]["id"]}))["revokeApiKey"]
    assert again["errors"] == [] and again["apiKey"]["revokedAt"] == first["apiKey"]["revokedAt"]


async def test_a_key_may_revoke_itself_it_gets_the_answer_then_401(gql: GraphQLClient) -> None:
    made = await create(gql, "self")
    own = gql.as_key(made["key"])
    revoked = (await own(REVOKE, {"id": made["apiKey"]["id"]}))["revokeApiKey"]
    assert revoked["errors"] == [] and revoked["apiKey"]["revokedAt"] is not None
    assert await status(gql, made["key"]) == 401


async def test_unknown_foreign_or_malformed_ids_are_not_found_and_change_nothing(
    gql: GraphQLClient, other_workspace: Any
) -> None:
    foreign = await create(gql.as_key(other_workspace[1]), "theirs")
    for key_id in [foreign["apiKey"]["id"], to_global_id("ApiKey", 987654), "nope", to_global_id("Campaign", 1)]:
        refused = (await gql(REVOKE, {"id": key_id}))["revokeApiKey"]
        assert refused == {"apiKey": None, "errors": [{"code": "NOT_FOUND", "field": ["id"]}]}, key_id
    assert await status(gql, foreign["key"]) == 200
    theirs = (await gql.as_key(other_workspace[1])(KEYS))["viewer"]["apiKeys"]
    assert all(k["revokedAt"] is None for k in theirs)
    mine = (await gql(KEYS))["viewer"]["apiKeys"]
    assert [k["name"] for k in mine] == ["first key"]  # never another workspace's keys
    node = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": foreign["apiKey"]["id"]})
    assert node["node"] is None


async def test_last_used_at_is_written_at_most_once_a_minute(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domain import auth

    made = await create(gql, "used")
    user = gql.as_key(made["key"])

    def used_at(keys: list[dict[str, Any]]) -> str | None:
        return next(k["lastUsedAt"] for k in keys if k["name"] == "used")

    first = used_at((await user(KEYS))["viewer"]["apiKeys"])
    assert first is not None
    for _ in range(3):
        assert used_at((await user(KEYS))["viewer"]["apiKeys"]) == first  # not rewritten within the minute
    monkeypatch.setattr(auth, "LAST_USED_EVERY", 0.0)  # as if the minute had passed
    await asyncio.sleep(0.01)
    assert used_at((await user(KEYS))["viewer"]["apiKeys"]) > first


async def test_a_revocation_lost_while_the_bus_was_away_takes_effect_when_it_reconnects(workspace: Any) -> None:
    """Pub/sub is at-most-once: a revocation published while this process's bus was away never arrives here.
    The cache the process authenticates through (its lifespan's KeyCache) is dropped when the bus comes back."""
    from datetime import UTC, datetime

    from domain.auth import KeyCache, create_api_key
    from live.bus import RECONNECTED, LocalBus
    from live.keys import KeyWatch
    from models import ApiKey

    row, raw = await create_api_key(workspace[0].id, "elsewhere")
    bus = LocalBus()
    watch = KeyWatch(KeyCache())
    await watch.start(bus)
    await bus.start()
    try:
        assert (await watch.cache.authenticate(raw)) is not None
        # Revoked through another process, whose message was lost: this process still has it cached.
        await ApiKey.filter(id=row.id).update(revoked_at=datetime.now(UTC))
        assert (await watch.cache.authenticate(raw)) is not None
        await bus.publish("", RECONNECTED)
        await asyncio.sleep(0.05)
        assert (await watch.cache.authenticate(raw)) is None
        assert (await watch.cache.authenticate(workspace[1])) is not None  # others are simply read again
    finally:
        watch.stop()
        await bus.stop()


def test_the_demo_key_file_is_readable_by_its_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from domain import demo

    monkeypatch.chdir(tmp_path)
    old_umask = os.umask(0)  # whatever the umask, the key file is 0600
    try:
        demo._write_key("ob_first")
        assert stat.S_IMODE(os.stat(demo.KEY_FILE).st_mode) == 0o600
        os.chmod(demo.KEY_FILE, 0o644)  # a file left by an older version is narrowed when it is rewritten
        demo._write_key("ob_second")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(demo.KEY_FILE).st_mode) == 0o600
    assert demo.KEY_FILE.read_text() == "ob_second\n"


# -------------------------------------------------------------------------- real servers, websockets


async def server_create(srv: Server, key: str, name: str) -> dict[str, Any]:
    return (await srv.gql(key, CREATE, {"n": name}))["createApiKey"]


async def server_status(srv: Server, key: str) -> int:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            srv.base + "/graphql", json={"query": "{ viewer { name } }"}, headers={"Authorization": f"Bearer {key}"}
        )
    return response.status_code


async def closed_with(client: Client, wait: float = 5.0) -> int | None:
    """The close code the server sent, waiting up to `wait` seconds for it."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(wait):
            while True:
                await client.conn.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def watching(opened: list[Client], url: str, key: str, campaign_id: str) -> Client:
    client = await open_client(opened, url, key)
    await own_reading(client)
    message = {"id": "s", "type": "subscribe", "payload": {"query": STATS, "variables": {"id": campaign_id}}}
    await client.conn.send(orjson.dumps(message).decode())
    first = orjson.loads(await asyncio.wait_for(client.conn.recv(), 10))
    assert first["type"] == "next", first
    return client


async def test_revoking_closes_the_keys_websockets_4403_and_spares_the_others(
    server: Server,  # noqa: F811
    workspace: Any,
    clients: list[Client],  # noqa: F811
) -> None:
    from models import Campaign

    ws, key = workspace
    campaign = await Campaign.create(workspace=ws, name="Watched")
    campaign_id = to_global_id("Campaign", campaign.id)
    made = await server_create(server, key, "dashboard")
    doomed = await watching(clients, server.ws_url, made["key"], campaign_id)
    spared = await watching(clients, server.ws_url, key, campaign_id)
    assert await server_status(server, made["key"]) == 200
    await server.gql(key, REVOKE, {"id": made["apiKey"]["id"]})
    assert await closed_with(doomed) == 4403
    assert await server_status(server, made["key"]) == 401
    await spared.conn.send(orjson.dumps({"type": "ping"}).decode())
    assert orjson.loads(await asyncio.wait_for(spared.conn.recv(), 5))["type"] == "pong"  # still open
    # A new connection with the revoked key is refused as any wrong key is.
    again = await connect_raw(server.ws_url, made["key"])
    assert await closed_with(again) == 4403


async def connect_raw(url: str, key: str) -> Client:
    from websockets.asyncio.client import connect

    conn = await connect(url, subprotocols=["graphql-transport-ws"], ping_interval=None)  # type: ignore[list-item]
    await conn.send(orjson.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}).decode())
    client = Client(conn)
    await own_reading(client)
    return client


async def own_reading(client: Client) -> None:
    """Stop the client's background reader: this test reads the socket itself (and sees its close code)."""
    client.reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await client.reader


async def test_a_key_revoked_through_one_api_process_is_refused_by_the_other_at_once(
    backend: Backend,
    server: Server,  # noqa: F811
    workspace: Any,
    clients: list[Client],  # noqa: F811
) -> None:
    if not backend.real:
        pytest.skip("needs the real backend: two API processes share revocations through Redis pub/sub")
    from models import Campaign

    ws, key = workspace
    other = Server(backend)
    try:
        await other.ready()
        campaign = await Campaign.create(workspace=ws, name="Two processes")
        campaign_id = to_global_id("Campaign", campaign.id)
        made = await server_create(server, key, "shared")
        there = await watching(clients, other.ws_url, made["key"], campaign_id)
        assert await server_status(other, made["key"]) == 200  # the other process has it cached now
        await server.gql(key, REVOKE, {"id": made["apiKey"]["id"]})
        # "At once": the first request after the answer, with no waiting in between, is refused there.
        assert await server_status(other, made["key"]) == 401
        assert await closed_with(there) == 4403
        assert await server_status(other, key) == 200
    finally:
        other.stop()
