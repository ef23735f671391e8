"""Where an executed read's time goes: py-spy on the API process under wrk, its samples summed by layer.

    .venv/bin/python -m bench.profile                                   # 10k leads, the three read pages
    .venv/bin/python -m bench.profile --leads 100000 --activities 1000000 --only audience --seconds 10

It seeds a scratch database (`outbound_bench_profile_<pid>`, dropped afterwards), starts one API process as
`make bench` does, and for each workload runs wrk while
py-spy samples the server. It prints the server's CPU per request, the share of samples by layer (by the
function the sample was in: its own time, not its callees'), the top functions, and the same request's
cost when each relation of the page is left out of the selection. Needs py-spy (the `bench` extra) and
root or ptrace rights.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import loadgen, queries
from bench.__main__ import start_api
from bench.procs import install_cleanup, stop_all
from bench.queries import body
from bench.seed import drop_database, seed, with_database
from domain.ids import to_global_id

#: Layers, by the file of a sample's innermost frame (py-spy names a site-packages file from its package, and
#: ours from the project root): first match wins.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "database driver and rows (asyncpg, Tortoise, models/fastread.py)",
        ("asyncpg/", "tortoise/", "pypika", "models/"),
    ),
    ("GraphQL execution (schema/: fast path, direct resolvers, scalars; graphql-core)", ("schema/", "graphql/")),
    ("our resolvers and domain (resolvers/, domain/)", ("resolvers/", "domain/")),
    ("Strawberry (HTTP view, request pipeline, field wrappers, dataloaders)", ("strawberry/",)),
    ("HTTP (uvicorn, Starlette, auth)", ("uvicorn/", "starlette/", "httptools", "server.py")),
    ("event loop and tasks (asyncio)", ("asyncio/", "selectors", "uvloop")),
    ("JSON, base64, enum, datetime, dataclasses (stdlib)", ("json/", "base64", "enum.py", "datetime", "<string>")),
]


def layer_of(frame: str) -> str:
    """The layer of a frame `function (path:line)`."""
    match = re.search(r"\(([^()]*):\d+\)$", frame)
    path = match.group(1) if match else frame
    path = path.split("site-packages/")[-1]
    for name, needles in LAYERS:
        if any(path.startswith(n) or f"/{n}" in path for n in needles):
            return name
    return "other"


def summarize(raw: Path, top: int = 15) -> dict[str, Any]:
    """py-spy's raw (collapsed) output: the share of samples per layer and the top functions by own time."""
    layers: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        leaf = stack.split(";")[-1]
        layers[layer_of(leaf)] += n
        functions[re.sub(r"\(.*?(site-packages/|/work/[^/]+/|python3\.\d+/)", "(", leaf)] += n
    share = {k: round(100 * v / total, 1) for k, v in layers.most_common()} if total else {}
    hot = [(f, round(100 * v / total, 1)) for f, v in functions.most_common(top)] if total else []
    return {"samples": total, "layers": share, "top": hot}


def measure(api: Any, url: str, payload: dict[str, Any], auth: str, seconds: float, raw: Path | None) -> dict[str, Any]:
    """wrk with unique requests for `seconds`; py-spy records the API meanwhile when `raw` is given."""
    loadgen.run_wrk(url, payload, duration=1, auth=auth)
    spy = None
    if raw is not None:
        spy = subprocess.Popen(
            ["py-spy", "record", "-p", str(api.pid), "-d", str(int(seconds)), "-r", "250", "-f", "raw", "-o", str(raw)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    cpu0 = api.cpu_seconds()
    result = loadgen.run_wrk(url, payload, duration=seconds, auth=auth)
    cpu = api.cpu_seconds() - cpu0
    if spy is not None:
        spy.wait(timeout=seconds + 30)
    if result["bad_responses"] or result["socket_errors"]:
        raise RuntimeError(f"bad responses: {result}")
    return {"rps": result["rps"], "cpu_ms_per_request": round(1000 * cpu / max(result["requests"], 1), 2)}


def variants(query: str, relations: list[str]) -> dict[str, str]:
    """The page's query, then the same without each relation (what each relation costs)."""
    out = {"as is": query}
    for relation in relations:
        out[f"without {relation.split('{')[0].strip()}"] = query.replace(relation, "")
    return out


WORKLOADS = {
    "overview": (queries.OVERVIEW, []),
    "audience": (
        queries.AUDIENCE,
        ["contact { id firstName lastName email company title }", "currentStep { id position type }"],
    ),
    "activity": (
        queries.ACTIVITY,
        ["lead { id status }", "contact { id firstName lastName }", "step { id position type }"],
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--activities", type=int, default=120_000)
    parser.add_argument("--only", default="overview,audience,activity")
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--base-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    if shutil.which("py-spy") is None and not (Path(sys.executable).parent / "py-spy").exists():
        print("py-spy is missing: pip install '.[bench]'", file=sys.stderr)
        return 2
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    install_cleanup()
    url = with_database(args.base_url, f"outbound_bench_profile_{os.getpid()}")
    info = asyncio.run(seed(url, leads=args.leads, campaigns=10, activities=args.activities, log=lambda m: None))
    try:
        api, base = start_api("api-profile", url, f"profile{os.getpid()}", args.redis_url)
        auth = f"Bearer {info.api_key}"
        cid = to_global_id("Campaign", info.campaign_id)
        status, substatus = queries.AUDIENCE_STATUS
        print(f"{args.leads:,} leads, {args.activities:,} activities; one API process; wrk 32 connections")
        with tempfile.TemporaryDirectory() as tmp:
            for name in [w.strip() for w in args.only.split(",") if w.strip()]:
                query, relations = WORKLOADS[name]
                for label, doc in variants(query, relations).items():
                    payload = (
                        body(doc, id=cid, status=status, substatus=substatus)
                        if name == "audience"
                        else body(doc, id=cid)
                    )
                    raw = Path(tmp) / f"{name}.txt" if label == "as is" else None
                    figures = measure(api, base + "/graphql", payload, auth, args.seconds, raw)
                    cost = f"server CPU {figures['cpu_ms_per_request']} ms/request"
                    print(f"\n{name} ({label}): {figures['rps']:,.0f} req/s, {cost}")
                    if raw is not None and raw.exists():
                        summary = summarize(raw)
                        print(f"  samples by layer (own time), {summary['samples']} samples:")
                        for layer, share in summary["layers"].items():
                            print(f"    {share:5.1f}%  {layer}")
                        print("  top functions (own time):")
                        for function, share in summary["top"]:
                            print(f"    {share:5.1f}%  {function}")
    finally:
        stop_all()
        asyncio.run(drop_database(url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
