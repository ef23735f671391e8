"""Push latency and memory per subscriber: many websocket clients of one campaign, in this process.

Both sides are measured the same way: the clock starts just before the trigger (a POST /fire to the bare
broadcast server; for Outbound, a counter bump + a "stats" event on the Redis bus, which is what a
committed change publishes) and stops when each client has its message. p50/p99 over clients x rounds.
Memory per subscriber = growth of the server's RSS with N clients connected (and subscribed) / N.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.loadgen import percentile
from bench.procs import Proc

STATS_SUBSCRIPTION = """subscription Stats($id: ID!) { campaignStats(campaignId: $id) {
  campaignId version updatedAt
  allChannels { totalContacts started contacted replied positive }
  linkedin { engaged invited accepted contacted replied positive }
  email { sent clicked replied positive bounced }
  tasks { pending completed }
  statuses { status count }
  substatuses { status substatus count }
  steps { stepId leadCount }
} }"""


class Clients:
    """N connected clients; each message's receipt time is recorded under the round it belongs to."""

    def __init__(self) -> None:
        self.conns: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.received: dict[int, list[float]] = {}
        self.round = -1
        self.waiter: asyncio.Event = asyncio.Event()
        self.expected = 0

    def start_round(self, r: int, expected: int) -> None:
        self.round = r
        self.received[r] = []
        self.expected = expected
        self.waiter = asyncio.Event()

    def got(self) -> None:
        now = time.perf_counter()
        bucket = self.received.get(self.round)
        if bucket is not None:
            bucket.append(now)
            if len(bucket) >= self.expected:
                self.waiter.set()

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)

        async def close_one(c: ClientConnection) -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(c.close(), 2)

        for start in range(0, len(self.conns), 500):
            await asyncio.gather(*(close_one(c) for c in self.conns[start : start + 500]))


async def _connect_many(n: int, factory: Callable[[int], Awaitable[ClientConnection]], batch: int = 100) -> list:
    conns: list[ClientConnection] = []
    for start in range(0, n, batch):
        conns += await asyncio.gather(*(factory(i) for i in range(start, min(n, start + batch))))
    return conns


async def _measure_rounds(
    clients: Clients, n: int, rounds: int, trigger: Callable[[int], Awaitable[None]], wait_s: float
) -> dict[str, Any]:
    latencies: list[float] = []
    missed = 0
    for r in range(rounds):
        await asyncio.sleep(0.3)  # let the previous round settle (coalescing would merge rounds)
        clients.start_round(r, n)
        t0 = time.perf_counter()
        await trigger(r)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(clients.waiter.wait(), wait_s)
        got = clients.received[r]
        missed += max(0, n - len(got))
        latencies += [t - t0 for t in got]
    latencies.sort()
    return {
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "deliveries": len(latencies),
        "missed": missed,
        "rounds": rounds,
    }


async def bare_broadcast(
    proc: Proc, base: str, n: int, rounds: int, *, compression: str | None = "deflate"
) -> dict[str, Any]:
    """N plain websocket clients of the bare Starlette broadcast server.

    Clients offer permessage-deflate as browsers do (compression="deflate"); None measures without it.
    """
    clients = Clients()
    ws_url = base.replace("http://", "ws://") + "/ws"
    # Warm-up: the first connections load code and buffers that N clients share; not per-subscriber memory.
    warm = [await connect(ws_url, compression=compression) for _ in range(5)]
    async with httpx.AsyncClient(timeout=30) as http:
        await http.post(base + "/fire?v=-1")
    for conn in warm:
        await conn.close()
    await asyncio.sleep(0.3)
    rss0 = proc.rss_bytes()

    async def reader(conn: ClientConnection) -> None:
        async for _ in conn:
            clients.got()

    async def factory(i: int) -> ClientConnection:
        conn = await connect(ws_url, open_timeout=60, ping_interval=None, max_queue=64, compression=compression)
        clients.readers.append(asyncio.create_task(reader(conn)))
        return conn

    try:
        clients.conns = await _connect_many(n, factory)
        async with httpx.AsyncClient(timeout=30) as http:
            for _ in range(100):
                if (await http.get(base + "/count")).json()["clients"] >= n:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            rss1 = proc.rss_bytes()

            async def trigger(r: int) -> None:
                await http.post(base + f"/fire?v={r}")

            result = await _measure_rounds(clients, n, rounds, trigger, wait_s=15)
    finally:
        await clients.close()
    result.update(subscribers=n, kb_per_subscriber=round((rss1 - rss0) / n / 1024, 1), compression=compression)
    return result


async def outbound_subscribe(url: str, api_key: str, campaign_gid: str, wait_s: float = 10.0) -> tuple[Any, Any]:
    """One graphql-transport-ws client subscribed to campaignStats: (connection, first payload)."""
    conn = await connect(url, subprotocols=["graphql-transport-ws"], open_timeout=60, ping_interval=None, max_queue=64)
    try:
        await conn.send(
            orjson.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {api_key}"}}).decode()
        )
        ack = orjson.loads(await asyncio.wait_for(conn.recv(), wait_s))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        await conn.send(
            orjson.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": STATS_SUBSCRIPTION, "variables": {"id": campaign_gid}},
                }
            ).decode()
        )
        first = orjson.loads(await asyncio.wait_for(conn.recv(), wait_s))
        if first.get("type") != "next" or first.get("payload", {}).get("errors"):
            raise RuntimeError(f"subscription failed: {str(first)[:300]}")
        return conn, first
    except BaseException:
        with contextlib.suppress(Exception):
            await conn.close()
        raise


async def probe_outbound(url: str, api_key: str, campaign_gid: str) -> str | None:
    """None when campaignStats works (connect, subscribe, first snapshot); otherwise why not."""
    try:
        conn, _ = await outbound_subscribe(url, api_key, campaign_gid, wait_s=5)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    await conn.close()
    return None


async def outbound_live(
    proc: Proc,
    url: str,
    api_key: str,
    campaign_gid: str,
    n: int,
    rounds: int,
    trigger: Callable[[int], Awaitable[None]],
) -> dict[str, Any]:
    clients = Clients()
    warm = [(await outbound_subscribe(url, api_key, campaign_gid))[0] for _ in range(5)]
    await trigger(-1)
    await asyncio.sleep(0.5)
    for conn in warm:
        await conn.close()
    await asyncio.sleep(0.3)
    rss0 = proc.rss_bytes()

    async def reader(conn: ClientConnection) -> None:
        async for raw in conn:
            if b'"next"' in (raw if isinstance(raw, bytes) else raw.encode()):
                clients.got()

    async def factory(i: int) -> ClientConnection:
        conn, _ = await outbound_subscribe(url, api_key, campaign_gid, wait_s=60)
        clients.readers.append(asyncio.create_task(reader(conn)))
        return conn

    try:
        clients.conns = await _connect_many(n, factory, batch=50)
        await asyncio.sleep(0.5)
        rss1 = proc.rss_bytes()
        result = await _measure_rounds(clients, n, rounds, trigger, wait_s=15)
    finally:
        await clients.close()
    result.update(subscribers=n, kb_per_subscriber=round((rss1 - rss0) / n / 1024, 1))
    return result
