"""CSV export throughput and the server's peak memory, against PostgreSQL's own COPY of the same rows.

    python -m bench.export [--quick] [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--json FILE]
    python -m bench --only export

Seeds its own database (outbound_bench_export_<pid>, one campaign, dropped at the end) with bench/seed.py,
starts the API (server.py, one uvicorn worker), then for the audience and the Activity log, alternately:
downloads `GET /export/<list>.csv` over HTTP (rows per second, and how far the server's resident memory
rose above what it held before: VmHWM reset through /proc/PID/clear_refs, then read), and runs
`COPY (SELECT <the same columns, joins, filter and order>) TO STDOUT (FORMAT csv)` through asyncpg's
`copy_from_query`: the floor, no Python on the server side at all. The figure is the export's rows per
second as a share of COPY's, measured a few seconds apart on the same machine; each round's row counts
must agree, or the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.procs import PYTHON, Proc, free_port, install_cleanup
from bench.seed import _asyncpg_dsn, drop_database, seed, with_database
from domain.ids import to_global_id
from models.lead import LEAD_FLAGS

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres"

#: The CSV's columns (export.py), as one SELECT: contact and step joined, in the connection's order.
AUDIENCE_SQL = f"""
SELECT l.id, l.status, l.substatus, l.positive, l.contact_id, c.first_name || ' ' || c.last_name, c.email,
       c.company, c.title, c.linkedin_url, s.position, s.type, l.added_at, l.started_at, l.next_action_at,
       l.finished_at, l.replied_at, l.error_message, l.error_hint, {", ".join("l." + f for f in LEAD_FLAGS)}
FROM lead l JOIN contact c ON c.id = l.contact_id LEFT JOIN sequence_step s ON s.id = l.current_step_id
WHERE l.campaign_id = $1 AND l.workspace_id = $2 AND l.removed_at IS NULL ORDER BY l.id"""
ACTIVITY_SQL = """
SELECT a.id, a.occurred_at, a.kind, a.channel, a.detail, a.lead_id, a.contact_id,
       c.first_name || ' ' || c.last_name, c.email, s.position, s.type
FROM activity a JOIN contact c ON c.id = a.contact_id LEFT JOIN sequence_step s ON s.id = a.step_id
WHERE a.campaign_id = $1 AND a.workspace_id = $2 ORDER BY a.occurred_at DESC, a.id DESC"""


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the peak since the last reset) of a process, in kB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(rest.split()[0])
    return out


def reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


async def via_http(api: Proc, url: str, key: str) -> dict[str, Any]:
    """One download: rows (lines but the header; the seeded text has no newlines), seconds, peak growth."""
    before = memory_kb(api.pid)
    exact = reset_peak(api.pid)
    lines = 0
    size = 0
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=600) as http:
        async with http.stream("GET", url, headers={"Authorization": f"Bearer {key}"}) as response:
            if response.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {response.status_code} {(await response.aread())[:200]!r}")
            async for chunk in response.aiter_bytes():
                lines += chunk.count(b"\n")
                size += len(chunk)
    seconds = time.perf_counter() - started
    after = memory_kb(api.pid)
    return {
        "rows": lines - 1,
        "seconds": seconds,
        "bytes": size,
        "rss_before_mb": round(before["VmRSS"] / 1024, 1),
        "peak_growth_mb": round((after["VmHWM"] - before["VmRSS"]) / 1024, 1),
        "peak_exact": exact,
    }


async def via_copy(dsn: str, sql: str, campaign_id: int, workspace_id: int) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    lines = 0
    size = 0

    async def sink(data: bytes) -> None:
        nonlocal lines, size
        lines += data.count(b"\n")
        size += len(data)

    try:
        started = time.perf_counter()
        await conn.copy_from_query(sql, campaign_id, workspace_id, output=sink, format="csv", header=True)
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
    return {"rows": lines - 1, "seconds": seconds, "bytes": size}


async def measure(info: Any, rounds: int, api: Proc, base: str) -> dict[str, Any]:
    dsn = _asyncpg_dsn(info.database_url)
    cid = to_global_id("Campaign", info.campaign_id)
    out: dict[str, Any] = {}
    for name, sql in (("audience", AUDIENCE_SQL), ("activity", ACTIVITY_SQL)):
        url = f"{base}/export/{name}.csv?campaignId={cid}"
        await via_http(api, url, info.api_key)  # warm up: imports, the key, the first queries
        ours, copies = [], []
        for _ in range(rounds):  # alternated, so that a busy neighbour slows both alike
            ours.append(await via_http(api, url, info.api_key))
            copies.append(await via_copy(dsn, sql, info.campaign_id, info.workspace_id))
            if ours[-1]["rows"] != copies[-1]["rows"]:
                raise RuntimeError(f"{name}: the export listed {ours[-1]['rows']} rows, COPY {copies[-1]['rows']}")
        rows = ours[0]["rows"]
        ours_rps = statistics.median(rows / r["seconds"] for r in ours)
        copy_rps = statistics.median(rows / r["seconds"] for r in copies)
        out[name] = {
            "rows": rows,
            "export_rows_per_s": round(ours_rps),
            "copy_rows_per_s": round(copy_rps),
            "ratio": round(ours_rps / copy_rps, 3),
            "export_mb": round(ours[0]["bytes"] / 2**20, 1),
            "copy_mb": round(copies[0]["bytes"] / 2**20, 1),
            "server_rss_before_mb": ours[-1]["rss_before_mb"],
            "server_peak_growth_mb": max(r["peak_growth_mb"] for r in ours),
            "peak_exact": all(r["peak_exact"] for r in ours),
        }
    return out


async def prepare(args: argparse.Namespace) -> Any:
    url = with_database(args.database_url, f"outbound_bench_export_{os.getpid()}")
    return await seed(url, leads=args.leads, campaigns=1, activities=args.activities, log=print)


def start_api(database_url: str) -> tuple[Proc, str]:
    port = free_port()
    env = {"DATABASE_URL": database_url, "DEMO": "false", "SCHEDULER": "false", "HOST": "127.0.0.1"}
    env |= {"PORT": str(port), "LOG_LEVEL": "WARNING", "NAMESPACE": f"bench-export-{os.getpid()}"}
    os.environ.pop("REDIS_URL", None)  # embedded broker and bus: the export needs neither
    api = Proc("api-export", [PYTHON, "server.py"], env=env)
    base = f"http://127.0.0.1:{port}"
    api.wait_http(base + "/healthz", timeout=90)
    return api, base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 leads and 100,000 activities, 2 rounds")
    parser.add_argument("--leads", type=int, default=None, help="default 100,000 (quick: 20,000)")
    parser.add_argument("--activities", type=int, default=None, help="default 500,000 (quick: 100,000)")
    parser.add_argument("--rounds", type=int, default=None, help="default 3 (quick: 2)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--json", help="also write the result here, as JSON (python -m bench reads it)")
    args = parser.parse_args(argv)
    args.leads = args.leads or (20_000 if args.quick else 100_000)
    args.activities = args.activities or (100_000 if args.quick else 500_000)
    args.rounds = args.rounds or (2 if args.quick else 3)
    install_cleanup()
    info = asyncio.run(prepare(args))
    try:
        api, base = start_api(info.database_url)
        try:
            result = asyncio.run(measure(info, args.rounds, api, base))
        finally:
            api.stop()
    finally:
        asyncio.run(drop_database(info.database_url))
    result["mode"] = "quick" if args.quick else "full"
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    for name in ("audience", "activity"):
        r = result[name]
        print(
            f"{name}: {r['rows']} rows, export {r['export_rows_per_s']} rows/s, COPY {r['copy_rows_per_s']} rows/s"
            f" (export at {r['ratio']:.1%} of COPY), server peak +{r['server_peak_growth_mb']} MB"
            f" over {r['server_rss_before_mb']} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
