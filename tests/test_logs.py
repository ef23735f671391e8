"""Logs an operator can use (issue 12.6): client mistakes at INFO without a traceback, a fault once at ERROR with
its error id, repeats summarised, LOG_FORMAT=json in every process, and a database outage answered with a
GraphQL-shaped 503 and a few summarised lines, not a traceback per request.

The outage runs against a PostgreSQL of this test's own (initdb into a temporary directory, a free port),
stopped in the middle of the test: never the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

import logs
from tests.conftest import Backend, GraphQLClient
from tests.test_live_subscriptions import Server, server  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------- the summaries


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logs.Summarise]]:
    """A handler with logs.py's JSON format and a short summary window, on a logger of its own."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    summarise = logs.Summarise(window=0.5)
    handler.addFilter(summarise)
    logger = logging.getLogger("outbound.test-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield stream, summarise
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_outage_is_one_line_per_cause_per_window_with_a_count(captured: Any) -> None:
    stream, summarise = captured
    log = logging.getLogger("outbound.test-logs")
    for attempt in range(200):
        try:
            raise ConnectionRefusedError(f"connect call failed, attempt {attempt}")
        except OSError:
            log.exception("scheduler tick failed")
        log.warning("live bus lost Redis (%s); retrying", attempt)
    log.info("a request")  # INFO is never summarised
    log.info("a request")
    time.sleep(1.2)  # the flusher writes the summaries once the window ended
    got = lines(stream)
    tick = [line for line in got if line["message"].startswith("scheduler tick failed")]
    assert len(tick) == 2, got
    assert "ConnectionRefusedError" in tick[0]["exception"] and "repeated" not in tick[0]
    assert tick[1]["message"] == "scheduler tick failed (repeated 199 times in the last 0.5 s)"
    assert tick[1]["repeated"] == 199 and "exception" not in tick[1]
    bus = [line for line in got if line["message"].startswith("live bus lost Redis")]
    assert [line.get("repeated") for line in bus] == [None, 199]
    assert bus[1]["message"] == "live bus lost Redis (199); retrying (repeated 199 times in the last 0.5 s)"
    assert sum(line["message"] == "a request" for line in got) == 2
    assert {"time", "level", "logger", "message"} <= set(got[0]) and got[0]["level"] == "ERROR"
    # Quiet again: the window closes and nothing more is written.
    time.sleep(1.2)
    assert len(lines(stream)) == len(got) and not summarise.flush()


def test_a_steady_failure_stays_at_one_line_per_window(captured: Any) -> None:
    stream, _ = captured
    log = logging.getLogger("outbound.test-logs")
    deadline = time.monotonic() + 1.6  # three windows and a bit
    while time.monotonic() < deadline:
        log.error("database unavailable: %s", "ConnectionRefusedError")
        time.sleep(0.005)
    time.sleep(0.8)
    got = lines(stream)
    assert got[0]["message"] == "database unavailable: ConnectionRefusedError"
    assert 3 <= len(got) <= 5, got  # the first, then one summary per window
    assert all("repeated" in line for line in got[1:]), got


# --------------------------------------------------------------------- what a request leaves in the log


async def test_client_mistakes_are_info_lines_without_a_traceback(
    gql: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    mistakes = [
        ('{ campaigns(after: "not-a-cursor") { totalCount } }', "BAD_USER_INPUT"),
        ("{ campaigns(first: 101) { totalCount } }", "BAD_USER_INPUT"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ campaigns {", "GRAPHQL_PARSE_FAILED"),
    ]
    for query, code in mistakes:
        body = (await gql.post(query)).json()
        assert body["errors"][0]["extensions"]["code"] == code, body
    response = await gql.http.post(
        "/graphql",
        json={"query": "query A { viewer { id } }", "operationName": "B"},
        headers={"Authorization": f"Bearer {gql.key}"},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    told = [r.getMessage() for r in caplog.records if r.name == "outbound.errors"]
    assert len(told) == 4 and all(m.startswith("client error") for m in told), told


async def test_a_fault_is_one_error_with_one_traceback_and_its_error_id(
    gql: GraphQLClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models import Identity

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Identity, "filter", broken)
    caplog.set_level(logging.INFO)
    body = (await gql.post("{ identities { id } }")).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR" and "a bug" not in error["message"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, caplog.text
    assert errors[0].exc_info and errors[0].exc_info[0] is RuntimeError
    assert errors[0].error_id == error["extensions"]["errorId"]  # type: ignore[attr-defined]
    assert sum(bool(r.exc_info) for r in caplog.records) == 1  # Strawberry's own logger logs nothing more


async def test_a_null_websocket_frame_closes_4400_without_a_traceback(
    server: Server,  # noqa: F811
    backend: Backend,
) -> None:
    log_file = Path(server._log.name)
    before = log_file.read_text()  # noqa: ASYNC240  (a test reading a small file)
    for frame in ["null", "[]", "1", '"connection_init"']:
        async with connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as conn:  # type: ignore[list-item]
            await conn.send(frame)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(conn.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400, frame
    await asyncio.sleep(0.2)
    assert "Traceback" not in log_file.read_text()[len(before) :]  # noqa: ASYNC240


# ----------------------------------------------------------------------------- LOG_FORMAT=json everywhere


async def read_until(proc: asyncio.subprocess.Process, done: Any, wait: float = 60) -> list[str]:
    """The process's output lines until `done(lines)` (then it is stopped)."""
    assert proc.stdout is not None
    got: list[str] = []
    try:
        async with asyncio.timeout(wait):
            while not done(got):
                line = (await proc.stdout.readline()).decode()
                assert line, "".join(got)  # it ended first
                got.append(line)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 15)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return got


async def start(backend: Backend, *args: str, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args,
        cwd=ROOT,
        env=backend.env() | {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"} | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


def parsed(lines: list[str]) -> list[dict[str, Any]]:
    """Every line as JSON (fails on a line that is not)."""
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}", pytrace=False)
    for entry in out:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
    return out


async def test_serve_workers_children_log_json_like_the_parent(backend: Backend, database: None) -> None:
    proc = await start(
        backend, sys.executable, "server.py", "serve", "--workers", "2", PORT=str(free_port()), SCHEDULER="false"
    )
    got = parsed(await read_until(proc, lambda got: sum("Outbound ready" in line for line in got) == 2, 90))
    ready = [e for e in got if e["message"].startswith("Outbound ready")]
    assert len(ready) == 2 and all(e["level"] == "INFO" and e["logger"] == "outbound.server" for e in ready)
    started = [e for e in got if e["message"].startswith("Started server process")]
    assert len(started) == 2, got  # uvicorn's own lines, from each child, in the same format


async def test_the_scheduler_logs_json(backend: Backend, database: None) -> None:
    proc = await start(backend, sys.executable, "-m", "tasks.scheduler")
    got = parsed(await read_until(proc, lambda got: any("scheduler running" in line for line in got)))
    assert got[-1]["logger"] == "outbound.scheduler" and got[-1]["level"] == "INFO"


async def test_dramatiq_workers_log_json(backend: Backend, database: None) -> None:
    if not backend.real:
        pytest.skip("needs the real backend: `dramatiq tasks` runs on Redis")
    dramatiq = str(Path(sys.executable).parent / "dramatiq")
    proc = await start(backend, dramatiq, "tasks", "--processes", "1", "--threads", "1")
    got = await read_until(proc, lambda got: any("ready for action" in line for line in got))
    ready = next(line for line in got if "ready for action" in line)
    entry = parsed([ready])[0]
    assert entry["level"] == "INFO" and entry["logger"].startswith("dramatiq.WorkerProcess")


# ------------------------------------------------------------------------- a database outage (own PG)


class OwnPostgres:
    """A PostgreSQL cluster of this test only: initdb in a temporary directory, on a free loopback port."""

    def __init__(self, root: Path) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.bin = found[-1].parent
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        # initdb refuses to run as root: then it runs as the `postgres` user, which owns the directory.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / tool), *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "pg.log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
async def own_postgres() -> AsyncIterator[OwnPostgres]:
    # Not under pytest's tmp_path: that is private to this user, and the server may run as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="outbound-own-pg-"))
    try:
        pg = OwnPostgres(root)
        pg.start()
        try:
            yield pg
        finally:
            with contextlib.suppress(Exception):
                pg.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def post(http: httpx.AsyncClient, key: str, query: str = "{ campaigns { totalCount } }") -> httpx.Response:
    return await http.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"})


async def test_a_database_outage_is_a_graphql_503_and_a_few_summarised_lines(
    backend: Backend, own_postgres: OwnPostgres
) -> None:
    port = free_port()
    env = backend.env() | {
        "DATABASE_URL": own_postgres.url,
        "PORT": str(port),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "SCHEDULER": "true",  # its tick fails every second during the outage too
    }
    env.pop("REDIS_URL", None)  # the outage is the database's: broker and bus in-process
    log_path = own_postgres.root / "api.log"
    with open(log_path, "wb") as log_file:  # noqa: ASYNC230
        api = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "server.py", "serve"], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            deadline = time.monotonic() + 30
            while True:  # started (and migrated) before the CLI connects: they would migrate side by side
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                assert time.monotonic() < deadline and api.poll() is None, log_path.read_text()
                await asyncio.sleep(0.2)
            made = subprocess.run(  # noqa: ASYNC221  (the server is another process: nothing waits on this loop)
                [sys.executable, "server.py", "create-workspace", "Outage"],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
            key = made.stdout.strip().splitlines()[-1]
            assert (await post(http, key)).status_code == 200
            made_key = (await post(http, key, 'mutation { createApiKey(name: "unused") { key } }')).json()
            unused = made_key["data"]["createApiKey"]["key"]  # never looked up: not in the auth cache
            start_of_outage = len(log_path.read_bytes())

            own_postgres.stop()
            answers = [await post(http, key) for _ in range(30)]  # cached key: fails while executing
            answers += [await post(http, unused) for _ in range(30)]  # uncached: fails in the auth middleware
            await asyncio.sleep(6)  # the scheduler ticks on; the summaries of the first window are written

            for response in answers:
                assert response.status_code == 503, response.text
                assert response.headers["content-type"].startswith("application/json")
                assert response.headers["retry-after"] == "5"
                assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", response.text
            written = parsed(log_path.read_bytes()[start_of_outage:].decode().splitlines())
            access = [e for e in written if e["logger"] == "uvicorn.access"]  # one per request, by design
            assert len(access) == 60 and all(e["message"].endswith('" 503') for e in access)
            outage = [e for e in written if e["logger"] != "uvicorn.access"]
            summaries = [e for e in outage if e.get("repeated")]
            assert summaries, outage
            assert sum(e["repeated"] for e in summaries) + len(outage) - len(summaries) >= 60
            # 60 failed requests and ~6 failed ticks: a handful of lines, and few tracebacks.
            assert len(outage) <= 15, "\n".join(json.dumps(e) for e in outage)
            assert sum("exception" in e for e in outage) <= 3, outage
            assert not any(e["level"] == "ERROR" and "request" in e["message"] for e in outage)

            own_postgres.start()
            deadline = time.monotonic() + 30
            while (await post(http, key)).status_code != 200:  # the pool reconnects by itself
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                await asyncio.sleep(0.5)
            assert (await post(http, unused)).status_code == 200
    finally:
        api.terminate()
        try:
            api.wait(15)
        except subprocess.TimeoutExpired:
            api.kill()
            api.wait()
    print("\n".join(log_path.read_text().splitlines()[-25:]))  # shown with -s: what an operator would read



# --------------------------------------------------------------------- what counts as "unavailable"


def _raised_from(error: BaseException, cause: BaseException) -> BaseException:
    try:
        raise error from cause
    except BaseException as raised:
        return raised


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True),
        (OSError(113, "No route to host"), True),
        (TimeoutError(), True),
        ("tortoise.exceptions.DBConnectionError", True),
        ("asyncpg.exceptions.ConnectionDoesNotExistError", True),
        ("asyncpg.exceptions.AdminShutdownError", True),  # 57P01: the server is shutting down
        ("asyncpg.exceptions.CannotConnectNowError", True),  # 57P03: starting up
        ("sqlite: database is locked", True),
        ("sqlite: unable to open database file", True),
        ("sqlite: no such table: campaign", False),  # a bug, not an outage
        ("asyncpg.exceptions.UniqueViolationError", False),
        (ValueError("bad"), False),
        (RuntimeError("a bug"), False),
    ],
)
def test_which_errors_mean_the_database_is_unavailable(error: Any, unavailable: bool) -> None:
    import importlib
    import sqlite3

    from tortoise.exceptions import OperationalError

    from models.db import database_unavailable

    if isinstance(error, str) and error.startswith("sqlite: "):
        # As Tortoise raises it: its OperationalError from sqlite3's.
        error = _raised_from(OperationalError("wrapped"), sqlite3.OperationalError(error.removeprefix("sqlite: ")))
    elif isinstance(error, str):
        module, _, name = error.rpartition(".")
        error = getattr(importlib.import_module(module), name)("simulated")
        error = _raised_from(OperationalError("wrapped"), error)  # Tortoise wraps the driver's errors
    assert database_unavailable(error) is unavailable
