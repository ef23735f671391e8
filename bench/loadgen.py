"""Load generators: wrk (closed loop, max throughput) and a small fixed-rate asyncio client (open loop)."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import subprocess
import time
from typing import Any

import httpx
import orjson

from bench.procs import WORK

CONNECTIONS = 32
THREADS = 2

#: POST a GraphQL body read from a file; count non-200s and GraphQL errors; report in microseconds.
WRK_LUA = r"""
local body_file = os.getenv("WRK_BODY_FILE")
local f = assert(io.open(body_file, "rb"))
local raw = f:read("*a")
f:close()
wrk.method = "POST"
wrk.body = raw
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("WRK_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  bad = 0
end
function response(status, headers, body)
  if status ~= 200 or (body and string.find(body, '"errors"', 1, true)) then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do
    b = b + (t:get("bad") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bad": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50": %d, "p90": %d, "p99": %d, "mean": %.1f, "max": %d}\n',
    summary.requests, summary.duration, b, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    url: str,
    body: dict[str, Any] | None,
    *,
    duration: float,
    auth: str | None = None,
    connections: int = CONNECTIONS,
    threads: int = THREADS,
) -> dict[str, Any]:
    """Closed-loop load with wrk. Returns req/s, latency percentiles (ms), bad responses and wrk's own CPU."""
    WORK.mkdir(parents=True, exist_ok=True)
    # Per-process file names: other runs of the harness (maybe of another version) may share bench/.work.
    script = WORK / f"graphql-{os.getpid()}.lua"
    script.write_text(WRK_LUA)
    body_file = WORK / f"body-{os.getpid()}.json"
    body_file.write_bytes(orjson.dumps(body or {}))
    env = {**os.environ, "WRK_BODY_FILE": str(body_file), "WRK_AUTH": auth or ""}
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60, check=False)
    finally:
        body_file.unlink(missing_ok=True)
        script.unlink(missing_ok=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    seconds = raw["duration_us"] / 1e6
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    socket_errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return {
        "rps": round(raw["requests"] / seconds, 1),
        "requests": raw["requests"],
        "p50_ms": round(raw["p50"] / 1000, 2),
        "p90_ms": round(raw["p90"] / 1000, 2),
        "p99_ms": round(raw["p99"] / 1000, 2),
        "mean_ms": round(raw["mean"] / 1000, 2),
        "bad_responses": raw["bad"],
        "socket_errors": socket_errors,
        # Share of one core that wrk itself used: far below 1.0 means the generator was not the bottleneck.
        "loadgen_cpu": round(cpu / seconds, 2),
        "seconds": round(seconds, 2),
    }


async def fixed_rate(
    url: str,
    bodies: list[dict[str, Any]],
    *,
    rate: float,
    duration: float,
    auth: str | None = None,
    check: Any = None,
) -> dict[str, Any]:
    """Open loop at `rate` req/s: latency counts from the scheduled send time (no coordinated omission)."""
    latencies: list[float] = []
    bad = 0
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = auth
    n = max(1, int(rate * duration))
    payloads = [orjson.dumps(bodies[i % len(bodies)]) for i in range(n)]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10.0) as client:

        async def one(i: int, scheduled: float) -> None:
            nonlocal bad
            try:
                response = await client.post(url, content=payloads[i])
                ok = response.status_code == 200 and (check is None or check(response.json()))
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - scheduled)
            if not ok:
                bad += 1

        # Warm the connection pool first (with a request that is not part of the measured ones).
        warm = orjson.dumps(bodies[0])
        await asyncio.gather(*(client.post(url, content=warm) for _ in range(4)))
        start = time.perf_counter()
        tasks = []
        for i in range(n):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rate": rate,
        "achieved_rps": round(n / elapsed, 1),
        "requests": n,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "bad_responses": bad,
    }


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]
