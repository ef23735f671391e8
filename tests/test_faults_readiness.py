"""/readyz follows the database and Redis going away and coming back (a private PostgreSQL and Redis,
tests/fault_services.py): 503 naming what failed within the probe's timeout, 200 again once they answer,
without restarting the API."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops import READY_TIMEOUT
from tests.conftest import Backend
from tests.fault_services import PrivatePostgres, PrivateRedis, pg_bin
from tests.processes import Api

pytestmark = pytest.mark.timeout(180)


async def _readyz(api: Api) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(api.base + "/readyz")
    return response.status_code, response.json(), time.monotonic() - started


async def _until_ready(api: Api, seconds: float) -> float:
    started = time.monotonic()
    while (await _readyz(api))[0] != 200:
        assert time.monotonic() - started < seconds, f"not ready again within {seconds}s: {await _readyz(api)}"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def test_readyz_follows_the_database_and_redis_down_and_back(backend: Backend, tmp_path: Path) -> None:
    if not backend.real:
        pytest.skip("needs PostgreSQL and Redis (their own, started here): --backend real")
    if pg_bin() is None:
        pytest.skip("no PostgreSQL server binaries (initdb)")
    pg, redis = PrivatePostgres(), PrivateRedis(tmp_path)
    api = None
    try:
        pg.start()
        redis.start()
        await pg.create_database()
        api = Api(Backend("real", pg.url, redis.url, "readiness", tmp_path))
        await api.ready()
        status, body, _ = await _readyz(api)
        assert (status, body["checks"]) == (200, {"database": "ok", "redis": "ok"})

        await asyncio.to_thread(pg.stop)
        status, body, took = await _readyz(api)
        assert status == 503 and body["checks"] == {"database": "failed", "redis": "ok"}, body
        assert took < READY_TIMEOUT + 1.5

        await asyncio.to_thread(redis.stop)
        status, body, took = await _readyz(api)
        assert status == 503 and body["checks"] == {"database": "failed", "redis": "failed"}, body
        assert took < READY_TIMEOUT + 1.5  # probed side by side, not one after the other
        async with httpx.AsyncClient() as http:
            assert (await http.get(api.base + "/healthz")).status_code == 200  # alive all along

        await asyncio.to_thread(pg.start)
        await asyncio.to_thread(redis.start)
        back = await _until_ready(api, 15)
        print(f"\nreadyz: 200 again {back:.1f}s after PostgreSQL and Redis were back")
    finally:
        if api is not None:
            api.kill()
        redis.stop()
        pg.remove()
