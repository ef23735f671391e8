"""Server CPU per request of the Campaign View's documents, executor against executor, in one process.

    python -m bench.executor [--iterations 300] [--leads 10000] [--activities 120000]
    python -m bench --only executor

Seeds its own PostgreSQL database (outbound_bench_executor_<pid>, dropped at the end), then runs each document
(Overview, Audience page, Activity page, lead side panel) through `schema.execute` with each executor
variant, alternating variants request by request so that a busy neighbour slows them all alike. The figure
is `time.process_time()` per request: this process's CPU (parse, validate, execute, the ORM, the driver),
not PostgreSQL's, which is the same for every variant. Each variant's results are compared with the first
variant's, so a variant that answers differently fails the run instead of winning it.
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
from pathlib import Path
from typing import Any

import strawberry

from bench import queries
from bench.seed import drop_database, seed, with_database
from domain.ids import to_global_id

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def variants() -> dict[str, Callable[[], strawberry.Schema]]:
    """The schemas compared: the first (graphql-core alone) is the reference every other one must equal.
    Between it and the served one, each piece of the lean executor alone, so each is judged on its own."""
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

    from schema import direct
    from schema.build import build_schema
    from schema.execution import ExecutionContext, is_awaitable

    class RowsAreValues(StrawberryGraphQLCoreExecutionContext):
        """schema/execution.py's `is_awaitable` without the lean executor."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.is_awaitable = is_awaitable  # type: ignore[assignment]

    def core() -> strawberry.Schema:
        return build_schema(lean=False)

    def direct_only() -> strawberry.Schema:
        schema = core()
        direct.install(schema)
        return schema

    def rows_as_values() -> strawberry.Schema:
        schema = core()
        schema.execution_context_class = RowsAreValues
        return schema

    def lean_without_direct() -> strawberry.Schema:
        schema = core()
        schema.execution_context_class = ExecutionContext
        return schema

    return {
        "graphql-core": core,
        "+ direct resolvers": direct_only,
        "+ rows as values": rows_as_values,
        "lean, Strawberry's resolvers": lean_without_direct,
        "lean (served)": lambda: build_schema(lean=True),
    }


async def _documents(info: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    cid = to_global_id("Campaign", info.campaign_id)
    status, substatus = queries.AUDIENCE_STATUS
    return {
        "overview": (queries.OVERVIEW, {"id": cid}),
        "audience": (queries.AUDIENCE, {"id": cid, "status": status, "substatus": substatus}),
        "activity": (queries.ACTIVITY, {"id": cid}),
        "side panel": (queries.SIDE_PANEL, {"id": to_global_id("Lead", info.panel_lead_ids[0])}),
    }


async def measure(info: Any, iterations: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """CPU ms per request by document and variant, with the last variant's saving against the first."""
    from models.workspace import Workspace
    from resolvers.context import Context, Loaders

    workspace = await Workspace.get(id=info.workspace_id)
    schemas = {name: make() for name, make in variants().items()}
    documents = await _documents(info)
    results: dict[str, Any] = {"iterations": iterations, "variants": list(schemas), "documents": {}}

    async def run(schema: strawberry.Schema, text: str, variables: dict[str, Any]) -> tuple[float, Any]:
        context = Context(workspace=workspace, loaders=Loaders(workspace.id))
        started = time.process_time()
        result = await schema.execute(text, variable_values=variables, context_value=context)
        spent = time.process_time() - started
        if result.errors:
            raise RuntimeError(f"errors: {result.errors}")
        return spent, result.data

    for doc, (text, variables) in documents.items():
        reference = None
        for name, schema in schemas.items():  # warm-up: parser cache, plans, and the same answers
            _, data = await run(schema, text, variables)
            if reference is None:
                reference = data
            elif data != reference:
                raise RuntimeError(f"{name} answers {doc} differently from {next(iter(schemas))}")
        spent: dict[str, list[float]] = {name: [] for name in schemas}
        for _ in range(iterations):
            for name, schema in schemas.items():
                cpu, _ = await run(schema, text, variables)
                spent[name].append(cpu)
        row = {name: round(statistics.median(v) * 1000, 3) for name, v in spent.items()}
        base = row[next(iter(schemas))]
        row_saving = {name: round(1 - ms / base, 3) if base else 0.0 for name, ms in row.items()}
        results["documents"][doc] = {"cpu_ms_p50": row, "saving": row_saving}
        log(f"executor {doc}: " + ", ".join(f"{n} {ms:.2f} ms ({row_saving[n]:+.0%})" for n, ms in row.items()))
    served = list(schemas)[-1]
    savings = [d["saving"][served] for d in results["documents"].values()]
    results["served_saving_mean"] = round(statistics.fmean(savings), 3)
    results["served_saving_min"] = round(min(savings), 3)
    results["served_saving_max"] = round(max(savings), 3)
    return results


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from models.db import close_db, init_db

    url = with_database(args.database_url, f"outbound_bench_executor_{os.getpid()}")
    info = await seed(url, leads=args.leads, campaigns=10, activities=args.activities, log=print)
    try:
        await init_db(url, run_migrations=False)
        try:
            return await measure(info, args.iterations)
        finally:
            await close_db()
    finally:
        await drop_database(url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--activities", type=int, default=120_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--json", help="also write the result here, as JSON (python -m bench reads it)")
    args = parser.parse_args(argv)
    result = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"served saving: mean {result['served_saving_mean']:.0%}, min {result['served_saving_min']:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
