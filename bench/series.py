"""Campaign.series and Campaign.funnel at a million activities, against the audience page in the same run.

    .venv/bin/python -m bench.series                  # 1,000,000 activities, 100,000 leads, one campaign
    .venv/bin/python -m bench.series --quick          # 100,000 activities, 10,000 leads (a check it works)

Seeds its own PostgreSQL database (bench/seed.py with one campaign, so every activity is that campaign's,
spread over the last 90 days), rebuilds what record_activity would have kept (domain/rebuild.py: the series
slots, spread over the shards as live writers leave an open slot, then folded as the scheduler's tick
folds closed ones; the funnel's counters), VACUUM ANALYZEs it (the state autovacuum keeps a live table
in: index-only scans possible), starts one API process, and times requests one after another (latency,
not throughput), each made unique so that no response cache answers it: the audience page (the bench's
AUDIENCE, the baseline), series (DAY: the default 30 days; HOUR: the default 48 hours; DAY over the 90 days in
Europe/Madrid; HOUR over 41 days, 984 buckets, in Asia/Kolkata) and funnel. Then it drops the database.

From the harness (bench/__main__.py), `run(results, ...)` does the same and stores results["series"];
`rows(results)` gives its lines of the results table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from bench import queries, report
from bench.procs import PYTHON, Proc, free_port, install_cleanup, stop_all
from bench.seed import _asyncpg_dsn, drop_database, seed, with_database
from domain.ids import to_global_id

POINT = (
    "start profileVisits invitationsSent invitationsAccepted linkedinMessagesSent emailsSent emailsClicked"
    " emailsBounced replies positiveReplies unsubscribes tasksCompleted errors"
)
SERIES = (
    "query Series($id: ID!, $bucket: SeriesBucket, $from: DateTime, $to: DateTime, $tz: String) {"
    " campaign(id: $id) { series(bucket: $bucket, from: $from, to: $to, timezone: $tz) { " + POINT + " } } }"
)
FUNNEL = (
    "query Funnel($id: ID!) { campaign(id: $id) { funnel {"
    " step { id position type } performed replied positive clicked bounced replyRate } } }"
)
#: (result key, query, variables besides the campaign id, what a good answer holds)
WORKLOADS: list[tuple[str, str, dict[str, Any], Callable[[Any], bool]]] = [
    (
        "audience",
        queries.AUDIENCE,
        {"status": queries.AUDIENCE_STATUS[0], "substatus": queries.AUDIENCE_STATUS[1]},
        lambda d: bool(d["campaign"]["audience"]["nodes"]),
    ),
    ("series_day_30", SERIES, {}, lambda d: len(d["campaign"]["series"]) == 30),
    ("series_hour_48", SERIES, {"bucket": "HOUR"}, lambda d: len(d["campaign"]["series"]) == 48),
    ("series_day_90_madrid", SERIES, {"tz": "Europe/Madrid", "days": 90}, lambda d: len(d["campaign"]["series"]) >= 90),
    ("series_hour_984_kolkata", SERIES, {"bucket": "HOUR", "tz": "Asia/Kolkata", "hours": 984}, lambda d: True),
    ("funnel", FUNNEL, {}, lambda d: len(d["campaign"]["funnel"]) == 6),
]


def _log(msg: str) -> None:
    print(f"[bench.series {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _variables(campaign: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The workload's variables; "days"/"hours" become [now - that, now), on whole hours."""
    out = {k: v for k, v in extra.items() if k not in ("days", "hours")}
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if "days" in extra:
        out |= {"from": (now - timedelta(days=extra["days"])).isoformat(), "to": now.isoformat()}
    if "hours" in extra:
        out |= {"from": (now - timedelta(hours=extra["hours"])).isoformat(), "to": now.isoformat()}
    return {"id": campaign, **out}


def measure(url: str, key: str, campaign: str, requests: int, warmup: int = 3) -> dict[str, Any]:
    """Each workload's latency over `requests` sequential requests (after `warmup`), in milliseconds."""
    out: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=60, headers=headers) as client:
        for name, query, extra, good in WORKLOADS:
            variables = _variables(campaign, extra)
            times: list[float] = []
            problem = None
            for n in range(warmup + requests):
                body = {"query": query, "variables": {**variables, "_bench": f"{name}-{n}-{time.time_ns()}"}}
                t0 = time.perf_counter()
                response = client.post(url, json=body)
                elapsed = (time.perf_counter() - t0) * 1000
                payload = response.json() if response.status_code == 200 else {"errors": [response.text[:200]]}
                if payload.get("errors") or not payload.get("data") or not good(payload["data"]):
                    problem = str(payload.get("errors") or payload)[:200]
                    break
                if n >= warmup:
                    times.append(elapsed)
            if problem:
                out[name] = {"status": "error", "message": problem}
            else:
                times.sort()
                out[name] = {
                    "status": "ok",
                    "requests": len(times),
                    "p50_ms": round(statistics.median(times), 2),
                    "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
                    "mean_ms": round(statistics.fmean(times), 2),
                }
            _log(f"{name}: {out[name]}")
    base = out.get("audience", {})
    for name, r in out.items():
        if name != "audience" and r.get("status") == "ok" and base.get("status") == "ok":
            r["vs_audience_p50"] = round(r["p50_ms"] / base["p50_ms"], 2)
    return out


def run(
    results: dict[str, Any],
    *,
    base_url: str,
    activities: int,
    leads: int,
    namespace: str,
    redis_url: str | None,
    seeded: list[str],
    requests: int = 30,
    log: Callable[[str], None] = _log,
) -> None:
    """Seed a one-campaign database next to `base_url`'s, measure, store results["series"]."""
    url = with_database(base_url, f"{base_url.rsplit('/', 1)[-1]}_series")
    seeded.append(url)
    try:
        log(f"seeding one campaign: {leads} leads, {activities} activities")
        info = asyncio.run(seed(url, leads=leads, campaigns=1, activities=activities, log=lambda m: None))
        t = time.perf_counter()
        drift = asyncio.run(_rebuild(url, info.campaign_id))
        log(f"rebuild (slots, folded; counters) {time.perf_counter() - t:.1f}s: {len(drift)} keys repaired")
        asyncio.run(_vacuum(url))
        api = _start_api(url, namespace, redis_url)
        try:
            figures = measure(api[1] + "/graphql", info.api_key, to_global_id("Campaign", info.campaign_id), requests)
        finally:
            api[0].stop()
        results["series"] = {"status": "ok", "activities": info.activities, "leads": info.leads, **figures}
    except Exception as exc:
        results["series"] = {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:300]}
    log(f"series: {results['series'].get('status')}")


async def _rebuild(url: str, campaign_id: int) -> dict[str, int]:
    """What record_activity keeps and the COPY bypassed: the slots (as the live writers shard them), the
    funnel's counters and reply steps (domain/rebuild.py)."""
    from domain.rebuild import rebuild
    from domain.slots import SHARDS, compact
    from models.db import close_db, init_db

    await init_db(url, run_migrations=False)
    try:
        drift = await rebuild(campaign_id, shards=SHARDS)
        await compact(datetime.now(UTC), since=timedelta(days=365))
        return drift
    finally:
        await close_db()


async def _vacuum(url: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await conn.execute("VACUUM ANALYZE activity")
        await conn.execute("VACUUM ANALYZE lead")
        await conn.execute("VACUUM ANALYZE activity_slot")
        await conn.execute("VACUUM ANALYZE campaign_counter")
    finally:
        await conn.close()


def _start_api(database_url: str, namespace: str, redis_url: str | None) -> tuple[Proc, str]:
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "DEMO": "false",
        "SCHEDULER": "false",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "NAMESPACE": namespace,
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    proc = Proc("api-series", [PYTHON, "server.py"], env=env)
    base = f"http://127.0.0.1:{port}"
    proc.wait_http(base + "/healthz", timeout=90)
    return proc, base


def _row(workload: str, value: Any = None, **fields: Any) -> dict[str, Any]:
    """One line in bench/report.py's Row shape (every key present), so the harness can append it as is."""
    base = {
        "workload": workload,
        "figure": "p50 latency",
        "value": value,
        "unit": "ms",
        "baseline": "",
        "baseline_value": None,
        "ratio": None,
        "goal": "",
        "verdict": "",
        "note": "",
        "score": None,
    }
    return base | fields


def rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Lines for the results table: each series/funnel p50 against the audience page's p50 of the same run."""
    r = results.get("series")
    if not isinstance(r, dict):
        return []
    if r.get("status") != "ok":
        return [_row("series/funnel", verdict=r.get("status", "error"), note=str(r.get("message", ""))[:120])]
    base = r.get("audience", {})
    out = []
    for name, figure in r.items():
        if not isinstance(figure, dict) or name == "audience":
            continue
        ok = figure.get("status") == "ok"
        out.append(
            _row(
                f"{name} ({r['activities']:,} activities, one campaign)",
                figure.get("p50_ms"),
                baseline="audience page p50",
                baseline_value=base.get("p50_ms"),
                ratio=figure.get("vs_audience_p50"),
                verdict="measured" if ok else figure.get("status", "error"),
                note=f"p99 {figure.get('p99_ms')} ms, {figure.get('requests')} sequential requests"
                if ok
                else str(figure.get("message", ""))[:120],
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.series", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 activities and 10,000 leads")
    parser.add_argument("--activities", type=int)
    parser.add_argument("--leads", type=int)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/outbound_bench_{os.getpid()}"
        ),
    )
    parser.add_argument("--redis-url", default=None, help="omitted: the API runs embedded (no Redis needed)")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    install_cleanup()
    activities = args.activities or (100_000 if args.quick else 1_000_000)
    leads = args.leads or (10_000 if args.quick else 100_000)
    results: dict[str, Any] = {}
    seeded: list[str] = []
    try:
        run(
            results,
            base_url=args.database_url,
            activities=activities,
            leads=leads,
            namespace=f"benchseries{os.getpid()}",
            redis_url=args.redis_url,
            seeded=seeded,
            requests=args.requests,
        )
    finally:
        stop_all()
        if not args.keep_db:
            for url in seeded:
                asyncio.run(drop_database(url))
    print(json.dumps(results, indent=2))
    print(report.markdown_table(rows(results)))
    return 0 if results.get("series", {}).get("status") == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
