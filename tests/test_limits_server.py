"""Size, time and rate limits, against `server.py serve` (real uvicorn, real sockets) on the test's backend.

README.md, "Limits". On the real backend two API processes share one Redis: a key's budget spent on one is
spent on both.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server_limits import CancelOnDisconnect
from tests.conftest import Backend
from tests.test_live_subscriptions import Server

ROOT = Path(__file__).resolve().parent.parent
WS = ["graphql-transport-ws"]
SMALL = "{ viewer { name } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve(Server):
    """`python server.py serve` on a free port: uvicorn with the limits' options (server_limits.uvicorn_options).
    Waiting for it and stopping it are the uvicorn test server's."""

    def __init__(self, backend: Backend, **env: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql"
        self.log_path = backend.tmp / f"serve-{self.port}.log"
        self._log = open(self.log_path, "wb")  # closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "server.py", "serve"],
            cwd=ROOT,
            env={**backend.env(), "SCHEDULER": "false", "HOST": "127.0.0.1", "PORT": str(self.port), **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def post(self, key: str, query: str = SMALL, **variables: Any) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(
                self.base + "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {key}"},
            )


@contextlib.asynccontextmanager
async def serving(backend: Backend, count: int = 1, **env: str) -> AsyncIterator[list[Serve]]:
    servers = [Serve(backend, **env) for _ in range(count)]
    try:
        for server in servers:
            await server.ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _raw(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _read_all(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    chunks = []
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


async def test_a_body_over_the_limit_is_413_while_it_streams(backend: Backend, workspace: Any) -> None:
    _, key = workspace
    async with serving(backend, MAX_BODY_BYTES="65536") as [server]:
        # Announced too big: refused from the headers alone.
        response = await server.post(key, "{ viewer { name } }  " + " " * 70_000)
        assert response.status_code == 413
        error = response.json()["errors"][0]
        assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "limit": "MAX_BODY_BYTES", "maximum": 65536}

        # Chunked, no length: refused once the bytes read pass the limit, long before the 10 MB would be sent.
        def stream() -> tuple[bytes, int]:
            sock = _raw(server.port)
            head = (
                f"POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            sock.sendall(head.encode())
            chunk = b"%x\r\n%s\r\n" % (16384, b" " * 16384)
            sent = 0
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                while sent < 10_000_000:
                    sock.sendall(chunk)
                    sent += 16384
                    sock.settimeout(0.01)
                    with contextlib.suppress(TimeoutError, BlockingIOError):
                        if sock.recv(1, socket.MSG_PEEK):
                            break
            answer = _read_all(sock, 5)
            sock.close()
            return answer, sent

        answer, sent = await asyncio.to_thread(stream)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b'"PAYLOAD_TOO_LARGE"' in answer
        assert sent < 1_000_000, f"sent {sent:,} bytes before the 413"


async def test_slow_and_idle_connections_are_closed(backend: Backend, database: None) -> None:
    async with serving(backend, HEADER_TIMEOUT="1") as [server]:

        def slow_headers() -> tuple[bytes, float]:
            sock = _raw(server.port)
            started = time.monotonic()
            sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
            answer = b""
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for _ in range(40):  # a header byte every 0.2 s: 8 s if nobody stops it
                    sock.sendall(b"X")
                    sock.settimeout(0.2)
                    with contextlib.suppress(TimeoutError):
                        answer = sock.recv(65536)
                        break
            answer += _read_all(sock, 2)
            sock.close()
            return answer, time.monotonic() - started

        answer, took = await asyncio.to_thread(slow_headers)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"REQUEST_TIMEOUT"' in answer
        assert took < 4, f"closed after {took:.1f}s"

        def idle() -> float:
            sock = _raw(server.port)
            started = time.monotonic()
            assert _read_all(sock, 5) == b""  # closed without a word: it never asked anything
            sock.close()
            return time.monotonic() - started

        assert await asyncio.to_thread(idle) < 4

        # A normal request is untouched, and so is its keep-alive connection's next request.
        async with httpx.AsyncClient() as http:
            for _ in range(2):
                assert (await http.get(server.base + "/healthz")).status_code == 200


async def test_a_key_over_its_rate_gets_429_on_every_api_process(backend: Backend, workspace: Any) -> None:
    _, key = workspace
    _, other_key = await _other_key()
    count = 2 if backend.real else 1  # embedded: one process, its memory is the storage
    async with serving(backend, count, RATE_LIMIT="5/minute", RATE_LIMIT_BURST="5") as servers:
        first, last = servers[0], servers[-1]
        for _ in range(5):
            assert (await first.post(key)).status_code == 200
        refused = await last.post(key)
        assert refused.status_code == 429
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 60
        [error] = refused.json()["errors"]
        assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
        assert "RATE_LIMIT" in error["message"]
        # Another key has its own budget.
        assert (await last.post(other_key)).status_code == 200


async def _other_key() -> tuple[Any, str]:
    from domain.auth import create_workspace

    return await create_workspace("Other")


async def _socket(url: str, key: str) -> Any:
    conn = await connect(url, subprotocols=WS, ping_interval=None)  # type: ignore[list-item]
    await conn.send(orjson.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}).decode())
    return conn


async def test_websocket_operations_and_sockets_count_against_the_key(backend: Backend, workspace: Any) -> None:
    _, key = workspace
    env = {"RATE_LIMIT": "4/minute", "RATE_LIMIT_BURST": "4", "WS_CONNECTIONS_PER_KEY": "2"}
    async with serving(backend, **env) as [server]:
        assert (await server.post(key)).status_code == 200  # one of the four, over HTTP
        conn = await _socket(server.ws_url, key)
        assert orjson.loads(await conn.recv())["type"] == "connection_ack"
        answers: dict[str, list[dict[str, Any]]] = {}
        for i in range(4):
            await conn.send(orjson.dumps({"id": str(i), "type": "subscribe", "payload": {"query": SMALL}}).decode())
        deadline = time.monotonic() + 10
        while len([a for a in answers.values() if a[-1]["type"] in ("complete", "error")]) < 4:
            assert time.monotonic() < deadline, answers
            message = orjson.loads(await asyncio.wait_for(conn.recv(), 10))
            answers.setdefault(message["id"], []).append(message)
        served = [i for i, got in answers.items() if got[-1]["type"] == "complete"]
        [refused] = [got[-1] for got in answers.values() if got[-1]["type"] == "error"]
        assert len(served) == 3  # 1 HTTP request + 3 operations = the budget of 4
        assert refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert refused["payload"][0]["extensions"]["retryAfter"] >= 1
        await conn.send(orjson.dumps({"type": "ping"}).decode())
        assert orjson.loads(await conn.recv())["type"] == "pong"  # the socket stays open

        # A key's third socket is closed with 4429 and says why.
        second = await _socket(server.ws_url, key)
        assert orjson.loads(await second.recv())["type"] == "connection_ack"
        third = await _socket(server.ws_url, key)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(third.recv(), 10)
        assert third.close_code == 4429
        assert "WS_CONNECTIONS_PER_KEY=2" in (third.close_reason or "")
        # Closing one frees its place.
        await second.close()
        await asyncio.sleep(0.2)
        fourth = await _socket(server.ws_url, key)
        assert orjson.loads(await fourth.recv())["type"] == "connection_ack"
        for c in (conn, fourth):
            await c.close()


async def test_a_request_whose_client_left_is_cancelled() -> None:
    """A slow app behind CancelOnDisconnect, served by a real uvicorn: closing the socket mid-request cancels it
    (the public schema has no slow field on purpose; tests/test_limits_server.py's DB-lock test shows it there)."""
    events: list[str] = []
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        events.append("started")
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            cancelled.set()
            raise
        events.append("finished")

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(CancelOnDisconnect(slow), host="127.0.0.1", port=port, lifespan="off"))
    serving_task = asyncio.ensure_future(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        for method, body in (("GET", b""), ("POST", b"{}")):
            events.clear()
            started.clear()
            cancelled.clear()
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"{method} / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()
            await asyncio.wait_for(started.wait(), 5)
            writer.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cancelled.wait(), 5)
            assert events == ["started", "cancelled"], (method, events)
    finally:
        server.should_exit = True
        await serving_task


async def test_a_mutation_whose_client_left_does_not_happen(backend: Backend, workspace: Any) -> None:
    """Work stops when the client goes away, seen from the database: a pause waiting for a row lock, whose
    client disconnects, is cancelled, so when the lock goes the campaign is still active."""
    if not backend.real:
        pytest.skip("a row lock another connection holds while the API waits for it: PostgreSQL")
    from tortoise.transactions import in_transaction

    from models import Campaign
    from models.campaign import CampaignStatus
    from tests import factories

    ws, key = workspace
    campaign, _ = await factories.campaign(ws, status=CampaignStatus.ACTIVE)
    query = "mutation($id: ID!) { pauseCampaign(id: $id) { campaign { status } } }"

    async with serving(backend) as [server]:
        async with in_transaction() as conn:
            await conn.execute_query("SELECT id FROM campaign WHERE id = $1 FOR UPDATE", [campaign.id])
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            body = orjson.dumps({"query": query, "variables": {"id": factories.gid(campaign)}})
            writer.write(
                (
                    f"POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode()
                + body
            )
            await writer.drain()
            await _waiting_on_lock(backend, True)
            writer.close()
            await _waiting_on_lock(backend, False)  # the server's query was cancelled while the lock is still held
        await asyncio.sleep(0.5)
        assert (await Campaign.get(id=campaign.id)).status == CampaignStatus.ACTIVE
        assert "client went away: cancelled POST /graphql" in server.log()


async def _waiting_on_lock(backend: Backend, expected: bool) -> None:
    """Whether a query waits on a lock, seen from a connection of its own (pg_stat_activity is a snapshot
    inside a transaction)."""
    import asyncpg

    conn = await asyncpg.connect(backend.database_url)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if (waiting > 0) == expected:
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"expected a query waiting on a lock: {expected}")


assert os.name == "posix"  # raw sockets and MSG_PEEK


async def test_a_subscription_meets_the_query_limits_and_the_connection_cap_holds(
    backend: Backend, workspace: Any
) -> None:
    _, key = workspace
    deep = """subscription { campaignActivity(campaignId: "x") { lead { campaign { audience { nodes {
      campaign { audience { nodes { id } } } } } } } } }"""
    async with serving(backend, MAX_CONNECTIONS="3") as [server]:
        conn = await _socket(server.ws_url, key)
        assert orjson.loads(await conn.recv())["type"] == "connection_ack"
        await conn.send(orjson.dumps({"id": "d", "type": "subscribe", "payload": {"query": deep}}).decode())
        answer = orjson.loads(await asyncio.wait_for(conn.recv(), 10))
        assert answer["type"] == "error", answer
        assert answer["payload"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        await conn.close()

        # Three open connections fill the cap: the next request is refused (uvicorn's 503), not queued.
        idle = [_raw(server.port) for _ in range(3)]
        try:
            async with httpx.AsyncClient() as http:
                assert (await http.get(server.base + "/healthz")).status_code == 503
        finally:
            for sock in idle:
                sock.close()
        await asyncio.sleep(0.2)
        async with httpx.AsyncClient() as http:
            assert (await http.get(server.base + "/healthz")).status_code == 200


async def test_the_api_stays_up_when_the_limiters_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    from config import Settings
    from server_limits import RateLimiter

    port = _free_port()  # nobody listens there
    settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0", rate_limit="1/minute", _env_file=None)
    limiter = RateLimiter.start(settings)
    with caplog.at_level("WARNING", logger="outbound.limits"):
        assert [await limiter.hit("k") for _ in range(3)] == [None, None, None]
    assert [r.getMessage() for r in caplog.records if "unchecked" in r.getMessage()][:1], caplog.text
    assert len([r for r in caplog.records if "unchecked" in r.getMessage()]) == 1  # once a minute, not per request
