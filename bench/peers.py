"""The baselines each figure is compared with, measured in the same run.

- `bare_starlette`: a Starlette JSON endpoint (the HTTP stack's ceiling).
- `bare_strawberry`: Strawberry answering `{ __typename }` (the GraphQL stack's ceiling).
- `broadcast`: a Starlette websocket endpoint that pushes a stats-sized payload to every client.
  (These three run in their own uvicorn worker: `uvicorn bench.peers:bare_starlette`.)
- `engine_bound`: a raw asyncpg loop doing the writes of one engine step, 4 clients.
- PostGraphile (Node) is started by bench.workloads from bench/.work/node_modules.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import GraphQL

# ------------------------------------------------------------------------------------------ bare HTTP


async def _hello(request: Request) -> Response:
    return JSONResponse({"data": {"hello": "world"}})


bare_starlette = Starlette(routes=[Route("/json", _hello, methods=["GET", "POST"])])


@strawberry.type
class _Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


bare_strawberry = Starlette(
    routes=[Route("/graphql", GraphQL(strawberry.Schema(query=_Query), graphql_ide=None), methods=["GET", "POST"])]
)

# ------------------------------------------------------------------------------------------ broadcast


def stats_payload(version: int) -> dict[str, Any]:
    """About the size and shape of a CampaignStats `next` message (26 substatuses, 8 steps)."""
    statuses = ["NOT_STARTED", "IN_PROGRESS", "PAUSED", "ERROR", "FINISHED", "REPLIED"]
    return {
        "id": "1",
        "type": "next",
        "payload": {
            "data": {
                "campaignStats": {
                    "campaignId": "Q2FtcGFpZ246MQ",
                    "allChannels": {
                        "totalContacts": 10000,
                        "started": 8000,
                        "contacted": 5000,
                        "replied": 1000,
                        "positive": 400,
                    },
                    "linkedin": {
                        "engaged": 8000,
                        "invited": 7000,
                        "accepted": 3000,
                        "contacted": 2500,
                        "replied": 600,
                        "positive": 240,
                    },
                    "email": {"sent": 3000, "clicked": 400, "replied": 400, "positive": 160, "bounced": 300},
                    "tasks": {"pending": 200, "completed": 100},
                    "statuses": [{"status": s, "count": 1000 + i} for i, s in enumerate(statuses)],
                    "substatuses": [
                        {"status": "IN_PROGRESS", "substatus": f"SUBSTATUS_{i:02d}", "count": 100 + i}
                        for i in range(26)
                    ],
                    "steps": [{"stepId": f"U2VxdWVuY2VTdGVwOj{i}", "leadCount": 500 + i} for i in range(8)],
                    "version": version,
                    "updatedAt": datetime.now(UTC).isoformat(),
                }
            }
        },
    }


_clients: set[WebSocket] = set()


async def _ws(websocket: WebSocket) -> None:
    await websocket.accept()
    _clients.add(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        _clients.discard(websocket)


async def _fire(request: Request) -> Response:
    """Serialize once (as a hub would) and send to every client."""
    version = int(request.query_params.get("v", "0"))
    message = orjson.dumps(stats_payload(version)).decode()

    async def send(ws: WebSocket) -> None:
        try:
            await ws.send_text(message)
        except Exception:
            _clients.discard(ws)

    await asyncio.gather(*(send(ws) for ws in list(_clients)))
    return JSONResponse({"sent": len(_clients)})


async def _count(request: Request) -> Response:
    return JSONResponse({"clients": len(_clients)})


broadcast = Starlette(
    routes=[
        WebSocketRoute("/ws", _ws),
        Route("/fire", _fire, methods=["POST"]),
        Route("/count", _count),
    ]
)

# ------------------------------------------------------------------------------------------ engine bound

#: The moved lead waits a day for its next step (so nothing else picks it up as due).
NEXT_STEP_DELAY = timedelta(days=1)


async def engine_bound(dsn: str, campaign_id: int, *, clients: int = 4, duration: float = 5.0) -> dict[str, Any]:
    """Steps/s of the writes of one engine step, nothing else: in one transaction a CAS UPDATE of the lead
    (moving it to another step), an INSERT of its activity (with a dedupe key), and the counter upserts
    (step:old -1, step:new +1, changes +1 on a random shard of 8). Counters stay consistent with the leads.
    """
    setup = await asyncpg.connect(dsn)
    try:
        rows = await setup.fetch(
            "SELECT id, contact_id, workspace_id, state_version, current_step_id FROM lead"
            " WHERE campaign_id = $1 AND removed_at IS NULL AND current_step_id IS NOT NULL ORDER BY id",
            campaign_id,
        )
        steps = [
            r["id"]
            for r in await setup.fetch(
                "SELECT id FROM sequence_step WHERE campaign_id = $1 AND type NOT IN ('CONDITION', 'END')"
                " ORDER BY position",
                campaign_id,
            )
        ]
    finally:
        await setup.close()
    if not rows or len(steps) < 2:
        raise RuntimeError("no leads with a current step to move")
    leads = [dict(r) for r in rows]
    random.Random(1).shuffle(leads)
    parts = [leads[i::clients] for i in range(clients)]
    done = [0] * clients
    conflicts = [0]
    stop_at = time.perf_counter() + duration
    run_id = int(time.time())

    async def client(n: int) -> None:
        conn = await asyncpg.connect(dsn)
        mine = parts[n]
        i = 0
        try:
            while time.perf_counter() < stop_at:
                lead = mine[i % len(mine)]
                i += 1
                old = lead["current_step_id"]
                new = steps[(steps.index(old) + 1) % len(steps)] if old in steps else steps[0]
                now = datetime.now(UTC)
                async with conn.transaction():
                    version = await conn.fetchval(
                        "UPDATE lead SET current_step_id = $1, state_version = state_version + 1,"
                        " last_action_at = $2, next_action_at = $3 WHERE id = $4 AND state_version = $5"
                        " RETURNING state_version",
                        new,
                        now,
                        now + NEXT_STEP_DELAY,
                        lead["id"],
                        lead["state_version"],
                    )
                    if version is None:
                        conflicts[0] += 1
                        continue
                    await conn.execute(
                        "INSERT INTO activity (workspace_id, campaign_id, lead_id, contact_id, step_id, kind,"
                        " channel, occurred_at, dedupe_key) VALUES ($1, $2, $3, $4, $5, 'PROFILE_VISITED',"
                        " 'LINKEDIN', $6, $7)",
                        lead["workspace_id"],
                        campaign_id,
                        lead["id"],
                        lead["contact_id"],
                        old,
                        now,
                        f"bench:{run_id}:{lead['id']}:{version}",
                    )
                    shard = random.randrange(8)
                    changes = sorted({f"step:{old}": -1, f"step:{new}": 1, "changes": 1}.items())
                    await conn.execute(
                        "INSERT INTO campaign_counter (campaign_id, shard, key, value, updated_at)"
                        " SELECT $1, $2, k, v, $3 FROM unnest($4::text[], $5::bigint[]) AS t(k, v)"
                        " ON CONFLICT (campaign_id, shard, key) DO UPDATE SET"
                        " value = campaign_counter.value + excluded.value, updated_at = excluded.updated_at",
                        campaign_id,
                        shard,
                        now,
                        [k for k, _ in changes],
                        [v for _, v in changes],
                    )
                lead["state_version"] = version
                lead["current_step_id"] = new
                done[n] += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "steps_per_s": round(sum(done) / elapsed, 1),
        "steps": sum(done),
        "clients": clients,
        "cas_conflicts": conflicts[0],
        "seconds": round(elapsed, 2),
    }
