"""What an operator's tools ask the API: /readyz (can it serve?) and /metrics (Prometheus text format).

/healthz (server.py) only says the process lives. /readyz asks the database and, when REDIS_URL is set,
Redis, each within READY_TIMEOUT seconds: 200 with what answered, else 503 with what failed (a load balancer
takes the process out of rotation; a restart would not help). /metrics is served only when METRICS=true;
with METRICS_TOKEN set it also wants `Authorization: Bearer <token>` (README.md, "Health and metrics").

Multiprocess: with PROMETHEUS_MULTIPROC_DIR set (an empty directory, one per host, wiped before the
processes start), every process of the host (API workers, `dramatiq tasks` children, the scheduler) writes
its counters there and /metrics adds them up (prometheus_client's MultiProcessCollector). The queue depth
is read from the broker at scrape time, not kept by any process.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config import Settings

log = logging.getLogger("outbound.ops")

#: Seconds each dependency gets to answer a readiness probe or a queue-depth read.
READY_TIMEOUT = 2.0
QUEUE = "sequences"

NOT_SERVED = {"errors": [{"message": "Metrics are off: set METRICS=true.", "extensions": {"code": "NOT_FOUND"}}]}
UNAUTHORIZED = {
    "errors": [{"message": "Send `Authorization: Bearer <METRICS_TOKEN>`.", "extensions": {"code": "UNAUTHENTICATED"}}]
}


# ------------------------------------------------------------------------------------------ readiness


async def _database() -> None:
    from tortoise import connections

    await connections.get("default").execute_query("SELECT 1")


async def _redis(url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=READY_TIMEOUT, socket_timeout=READY_TIMEOUT)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _check(name: str, probe: Any) -> tuple[str, str | None]:
    try:
        await asyncio.wait_for(probe, READY_TIMEOUT)
    except TimeoutError:
        return name, f"no answer within {READY_TIMEOUT:g}s"
    except Exception as exc:  # what failed is the answer: the probe must not raise
        return name, f"{type(exc).__name__}: {exc}"[:300]
    return name, None


async def ready(request: Request) -> Response:
    settings: Settings = request.state.settings
    probes = [_check("database", _database())]
    if settings.redis_url:
        probes.append(_check("redis", _redis(settings.redis_url)))
    results = await asyncio.gather(*probes)
    failed = {name: problem for name, problem in results if problem is not None}
    checks = {name: "failed" if problem else "ok" for name, problem in results}
    if failed:
        return JSONResponse({"ready": False, "checks": checks, "failed": failed}, status_code=503)
    return JSONResponse({"ready": True, "checks": checks})


# --------------------------------------------------------------------------------------------- metrics


async def queue_depth(settings: Settings, broker: Any) -> dict[str, int] | None:
    """Messages of the `sequences` queue: waiting, and delayed (retries). None if the broker did not answer."""
    if settings.redis_url is None:
        queues = broker.queues
        return {"waiting": queues[QUEUE].qsize(), "delayed": queues[f"{QUEUE}.DQ"].qsize()}
    import redis.asyncio as aioredis

    # Dramatiq's Redis layout: the waiting ids in a list, a delayed queue's messages in a hash.
    prefix = f"{settings.namespace}:dramatiq:"
    client = aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=READY_TIMEOUT, socket_timeout=READY_TIMEOUT
    )
    try:
        async with client.pipeline(transaction=False) as pipe:
            pipe.llen(prefix + QUEUE)
            pipe.hlen(f"{prefix}{QUEUE}.DQ.msgs")
            waiting, delayed = await asyncio.wait_for(pipe.execute(), READY_TIMEOUT)
        return {"waiting": int(waiting), "delayed": int(delayed)}
    except Exception:
        log.warning("queue depth: Redis did not answer", exc_info=True)
        return None
    finally:
        await client.aclose()


class _Scrape:
    """One scrape: the process's (or, multiprocess, the host's) metrics plus the queue depth just read."""

    def __init__(self, depth: dict[str, int] | None) -> None:
        self.depth = depth

    def collect(self) -> Iterator[Metric]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            yield from registry.collect()
        else:
            yield from REGISTRY.collect()
        if self.depth is not None:
            family = GaugeMetricFamily(
                "outbound_queue_messages",
                "Messages in the broker's queue, read at scrape time.",
                labels=["queue", "state"],
            )
            for state, count in self.depth.items():
                family.add_metric([QUEUE, state], count)
            yield family


async def metrics(request: Request) -> Response:
    settings: Settings = request.state.settings
    if not settings.metrics:
        return JSONResponse(NOT_SERVED, status_code=404)
    if settings.metrics_token:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
            return JSONResponse(UNAUTHORIZED, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    depth = await queue_depth(settings, request.state.engine.broker)
    return Response(generate_latest(_Scrape(depth)), media_type=CONTENT_TYPE_LATEST)


def process_exiting() -> None:
    """Multiprocess mode: this process's live gauges (open subscriptions) stop counting once it exits."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())


ROUTES = [Route("/readyz", ready), Route("/metrics", metrics)]
