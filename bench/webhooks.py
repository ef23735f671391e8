"""Webhook deliveries per second to a local receiver, against a bare httpx POST loop to the same receiver.

    python -m bench.webhooks [--quick] [--deliveries N] [--senders K] [--json FILE]
    python -m bench --only webhooks

Needs no services: a SQLite file in a temporary directory (the embedded settings), a receiver of its own
(a Starlette app answering 204, on uvicorn in a thread, on a free loopback port) and
WEBHOOK_ALLOW_PRIVATE on (the receiver is loopback). It creates a workspace and a webhook pointing at the
receiver, writes N PENDING deliveries through the outbox's own insert (domain/webhooks.py, claimed as on
write), then times how fast K concurrent senders drain them through `webhook_delivery.attempt`, the
function the `webhooks.deliver` actor runs: the row read, the URL's resolution and SSRF check, the Standard
Webhooks signature, the HTTP POST (a client per attempt, as in production) and the CAS write of the
outcome. Two ways: with the per-receiver cap in force (4: the first 4 claimed as written, the rest a backlog
that each ending attempt hands on), and with nothing waiting (the cap lifted above N, so every delivery is
claimed as written, as under a receiver that keeps up, and no attempt has anything to hand on). The
baseline, measured in the same run and alternated round by round with it, is K concurrent
bare httpx POSTs of the same bodies over one shared keep-alive client (the floor), and beside it the same
with a new client per POST (what a client per attempt costs alone). The senders are asyncio tasks on one
event loop, where the embedded runtime has worker threads: the database and the GIL are shared either way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.procs import free_port


class Receiver:
    """A Starlette app answering 204 to every POST, on uvicorn in a thread of its own; counts arrivals."""

    def __init__(self) -> None:
        self.port = free_port()
        self.count = 0

        async def hook(request: Request) -> Response:
            await request.body()
            self.count += 1
            return Response(status_code=204)

        app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="bench-webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


async def make_deliveries(webhook_id: int, workspace_id: int, n: int) -> list[int]:
    """N PENDING deliveries, written as the outbox writes them (no lead: each is claimed at once)."""
    from domain.tx import transaction
    from domain.webhooks import _insert
    from models.webhook import WebhookEvent

    now = datetime.now(UTC)
    ids = []
    async with transaction():
        for i in range(n):
            body = json.dumps({"type": "lead.finished", "timestamp": now.isoformat(), "data": {"bench": i}})
            delivery = await _insert(
                webhook_id,
                workspace_id,
                WebhookEvent.LEAD_FINISHED,
                "msg_" + uuid.uuid4().hex,
                None,
                body,
                now,
                announce_it=False,
            )
            ids.append(delivery.id)
    return ids


async def drain(ids: list[int], senders: int) -> tuple[float, dict[str, int]]:
    """Seconds K concurrent senders take to attempt every delivery once, and the outcomes."""
    from domain.webhook_delivery import attempt

    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in ids:
        queue.put_nowait(i)
    outcomes: dict[str, int] = {}

    async def sender() -> None:
        while not queue.empty():
            outcome = await attempt(queue.get_nowait(), datetime.now(UTC))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    return time.perf_counter() - started, outcomes


async def bare(url: str, bodies: list[str], senders: int, *, shared: bool) -> float:
    """Seconds K concurrent bare httpx POSTs of `bodies` take: one keep-alive client, or one per POST."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    headers = {"content-type": "application/json"}

    async def sender(client: httpx.AsyncClient | None) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            if client is not None:
                response = await client.post(url, content=body.encode(), headers=headers)
            else:
                async with httpx.AsyncClient(timeout=10, trust_env=False) as own:
                    response = await own.post(url, content=body.encode(), headers=headers)
            if response.status_code != 204:
                raise RuntimeError(f"bare POST: HTTP {response.status_code}")

    started = time.perf_counter()
    if shared:
        limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)
        async with httpx.AsyncClient(timeout=10, trust_env=False, limits=limits) as client:
            await asyncio.gather(*(sender(client) for _ in range(senders)))
    else:
        await asyncio.gather(*(sender(None) for _ in range(senders)))
    return time.perf_counter() - started


async def measure(args: argparse.Namespace, database_url: str, receiver: Receiver) -> dict[str, Any]:
    from domain import webhooks
    from domain.auth import create_workspace
    from models import WebhookDelivery
    from models.db import close_db, init_db
    from models.webhook import WebhookDeliveryStatus

    webhooks.configure(allow_private=True)  # WEBHOOK_ALLOW_PRIVATE=true: the receiver is on loopback
    await init_db(database_url)
    try:
        workspace, _ = await create_workspace("bench webhooks")
        webhook, _ = await webhooks.create_webhook(workspace.id, receiver.url, ["LEAD_FINISHED"], None)
        warm = await make_deliveries(webhook.id, workspace.id, args.senders * 4)
        await drain(warm, args.senders)  # warm up: imports, the first queries, the first connections
        await bare(receiver.url, ["{}"] * args.senders * 4, args.senders, shared=True)
        ours, idle, keepalive, fresh = [], [], [], []
        outcomes: dict[str, int] = {}
        for _ in range(args.rounds):  # alternated, so that a busy neighbour slows all alike
            for cap, rates in ((webhooks.PER_RECEIVER, ours), (args.deliveries, idle)):
                webhooks.configure(allow_private=True, per_receiver=cap)
                ids = await make_deliveries(webhook.id, workspace.id, args.deliveries)
                arrived = receiver.count
                seconds, got = await drain(ids, args.senders)
                if receiver.count - arrived != len(ids) or got != {"succeeded": len(ids)}:
                    raise RuntimeError(f"{len(ids)} deliveries: {got}, {receiver.count - arrived} arrivals")
                for k, v in got.items():
                    outcomes[k] = outcomes.get(k, 0) + v
                rates.append(len(ids) / seconds)
            webhooks.configure(allow_private=True)
            bodies = [d.payload for d in await WebhookDelivery.filter(id__in=ids)]
            keepalive.append(len(bodies) / await bare(receiver.url, bodies, args.senders, shared=True))
            fresh.append(len(bodies) / await bare(receiver.url, bodies, args.senders, shared=False))
        left = await WebhookDelivery.filter(status=WebhookDeliveryStatus.PENDING).count()
        if left:
            raise RuntimeError(f"{left} deliveries still pending")
    finally:
        await close_db()
    ours_rate, idle_rate, bare_rate, fresh_rate = (statistics.median(x) for x in (ours, idle, keepalive, fresh))
    return {
        "deliveries": args.deliveries,
        "rounds": args.rounds,
        "senders": args.senders,
        "database": "sqlite",
        "deliveries_per_s": round(ours_rate, 1),
        "nothing_waiting_per_s": round(idle_rate, 1),
        "bare_per_s": round(bare_rate, 1),
        "bare_new_client_per_s": round(fresh_rate, 1),
        "ratio": round(ours_rate / bare_rate, 3),
        "ratio_new_client": round(ours_rate / fresh_rate, 3),
        "outcomes": outcomes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 deliveries a round, 2 rounds")
    parser.add_argument("--deliveries", type=int, default=None, help="per round; default 2,000 (quick: 300)")
    parser.add_argument("--senders", type=int, default=4, help="concurrent senders (default 4, like 4 threads)")
    parser.add_argument("--rounds", type=int, default=None, help="default 3 (quick: 2)")
    parser.add_argument("--json", help="also write the result here, as JSON (python -m bench reads it)")
    args = parser.parse_args(argv)
    args.deliveries = args.deliveries or (300 if args.quick else 2_000)
    args.rounds = args.rounds or (2 if args.quick else 3)
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp, Receiver() as receiver:
        database_url = f"sqlite://{os.path.join(tmp, 'bench.sqlite3')}"
        result = asyncio.run(measure(args, database_url, receiver))
    result["mode"] = "quick" if args.quick else "full"
    result["loadavg"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    r = result
    print(
        f"webhooks: {r['deliveries_per_s']} deliveries/s with {r['senders']} senders (a backlog at the cap),"
        f" {r['nothing_waiting_per_s']}/s with nothing waiting; bare httpx"
        f" {r['bare_per_s']}/s (keep-alive), {r['bare_new_client_per_s']}/s (new client per POST); ours at"
        f" {r['ratio']:.1%} of bare ({r['ratio_new_client']:.1%} of the new-client loop); load {r['loadavg']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
