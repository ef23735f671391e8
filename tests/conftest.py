"""Test fixtures. The whole suite runs on one backend per pytest run:

    pytest --backend embedded    SQLite file, in-process broker and bus (the default)
    pytest --backend real        PostgreSQL + Redis (a fresh database per run, a unique Redis namespace)

`make test` runs both. Real services are never faked: if PostgreSQL or Redis cannot be reached, the real
run fails (OUTBOUND_REQUIRE_SERVICES=1, as in CI) or is skipped with a loud reason (a newcomer's laptop).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

#: Every process of a test run shares one SECRET_KEY, as a deployment's processes must (domain/mailkeys.py).
SECRET_KEY = "outbound-test-secret-key-0123456789"
PG_ADMIN_URL = os.environ.get("OUTBOUND_TEST_PG", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("OUTBOUND_TEST_REDIS", "redis://127.0.0.1:6379/0")
TABLES = [
    "action_claim",
    "suppression",
    "webhook_delivery",
    "webhook",
    "activity_slot",
    "activity",
    "task",
    "lead",
    "campaign_counter",
    "sequence_step",
    "campaign",
    "contact",
    "identity_usage",
    "inbound_message",
    "identity",
    "api_key",
    "workspace",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=["embedded", "real"],
        default=os.environ.get("OUTBOUND_TEST_BACKEND", "embedded"),
        help="embedded: SQLite + in-process broker/bus. real: PostgreSQL + Redis.",
    )


NAMESPACE_KEY = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    # One Redis namespace per run, known from the start so the header can name it (to inspect it by hand).
    config.stash[NAMESPACE_KEY] = f"outbound-test-{uuid.uuid4().hex[:8]}"


def pytest_report_header(config: pytest.Config) -> str:
    backend = config.getoption("--backend")
    namespace = f", redis namespace {config.stash[NAMESPACE_KEY]}" if backend == "real" else ""
    return f"outbound backend: {backend}{namespace}"


@dataclass
class Backend:
    name: str
    database_url: str
    redis_url: str | None
    namespace: str
    tmp: Path

    @property
    def real(self) -> bool:
        return self.name == "real"

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (uvicorn, dramatiq worker) that must share this test's backend."""
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "NAMESPACE": self.namespace,
            "DEMO": "false",
            "SECRET_KEY": SECRET_KEY,
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        }
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        else:
            env.pop("REDIS_URL", None)
        return env


async def _services_reachable() -> str | None:
    import asyncpg
    import redis.asyncio as aioredis

    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        await conn.close()
    except Exception as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}"
    try:
        client = aioredis.from_url(REDIS_URL, socket_connect_timeout=5)
        await client.ping()
        await client.aclose()
    except Exception as exc:
        return f"Redis at {REDIS_URL} is not reachable: {exc}"
    return None


@pytest.fixture(scope="session")
async def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Backend]:
    name = request.config.getoption("--backend")
    tmp = tmp_path_factory.mktemp("outbound")
    namespace = request.config.stash[NAMESPACE_KEY]
    if name == "embedded":
        yield Backend(name, f"sqlite://{tmp / 'test.sqlite3'}", None, namespace, tmp)
        return
    problem = await _services_reachable()
    if problem:
        if os.environ.get("OUTBOUND_REQUIRE_SERVICES") == "1":
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    import asyncpg

    db_name = f"outbound_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    await admin.close()
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    try:
        yield Backend(name, f"{base}/{db_name}", REDIS_URL, namespace, tmp)
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()
        await drop_redis_namespace(namespace)


async def drop_redis_namespace(namespace: str) -> int:
    """Delete every key of a test namespace (Dramatiq's queues, acks, heartbeats): a run leaves Redis as it
    found it. Every process a test starts shares its run's namespace (Backend.env), so this covers them.
    Returns how many keys went."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        # Namespaces are "outbound-test-<hex>": nothing in them is a glob character.
        keys = [key async for key in client.scan_iter(match=f"{namespace}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.unlink(*keys[start : start + 1000])
        return len(keys)
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
async def settings(backend: Backend) -> Any:
    from config import Settings

    os.environ["DATABASE_URL"] = backend.database_url
    os.environ["NAMESPACE"] = backend.namespace
    os.environ["SECRET_KEY"] = SECRET_KEY
    if backend.redis_url:
        os.environ["REDIS_URL"] = backend.redis_url
    settings = Settings(
        database_url=backend.database_url,
        redis_url=backend.redis_url,
        namespace=backend.namespace,
        demo=False,
        secret_key=SECRET_KEY,
        _env_file=None,
    )
    from domain import mailkeys

    mailkeys.install(mailkeys.from_settings(settings))
    return settings


@pytest.fixture(scope="session")
async def database(settings: Any) -> AsyncIterator[None]:
    from models.db import close_db, init_db

    await init_db(settings.database_url)
    yield
    await close_db()


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test starts from empty tables (only for tests that use the database)."""
    if "database" not in request.fixturenames:
        yield
        return
    yield
    from tortoise import connections

    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    else:
        for table in TABLES:
            await conn.execute_script(f"DELETE FROM {table}")


@pytest.fixture(scope="session")
def app(settings: Any) -> Any:
    from server import create_app

    return create_app(settings)


@dataclass
class GraphQLClient:
    """Posts GraphQL to the app in-process, as a client would over HTTP."""

    http: httpx.AsyncClient
    key: str | None

    async def post(self, query: str, variables: dict[str, Any] | None = None, key: str | None = ...) -> httpx.Response:  # type: ignore[assignment]
        key = self.key if key is ... else key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def __call__(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """The `data` of a successful response; fails the test on any top-level error."""
        response = await self.post(query, variables, **kw)
        body = response.json()
        assert response.status_code == 200, body
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def as_key(self, key: str) -> GraphQLClient:
        return GraphQLClient(self.http, key)


@pytest.fixture
async def http(app: Any, database: None) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process. httpx runs no lifespan, so each test gets what the lifespan gives requests for keys
    (server.py's AppState): a fresh auth cache and the watch that evicts revoked keys from it, as KeyRevoked's
    handler (live/runtime.py), so the in-process tests authenticate through a cache as a served app does."""
    from domain.auth import KeyCache, KeyRevoked
    from domain.tx import set_handler
    from live.keys import KeyWatch

    watch = KeyWatch(KeyCache())

    async def with_state(scope: dict[str, Any], receive: Any, send: Any) -> None:
        state = {**(scope.get("state") or {}), "keys": watch, "key_cache": watch.cache}
        await app({**scope, "state": state}, receive, send)

    previous = set_handler(KeyRevoked, watch.publish)
    transport = httpx.ASGITransport(app=with_state)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        set_handler(KeyRevoked, previous)


@pytest.fixture
async def workspace(database: None) -> Any:
    """A workspace and its API key: (workspace, key)."""
    from domain.auth import create_workspace

    return await create_workspace("Acme")


@pytest.fixture
async def other_workspace(database: None) -> Any:
    from domain.auth import create_workspace

    return await create_workspace("Globex")


@pytest.fixture
async def gql(http: httpx.AsyncClient, workspace: Any) -> GraphQLClient:
    return GraphQLClient(http, workspace[1])


@pytest.fixture
def frozen() -> Any:
    """The engine's clock frozen at engine_helpers.T0, with empty sandboxes and no SMTP configured."""
    from engine import channels, clock
    from tests.engine_helpers import T0

    frozen = clock.FrozenClock(T0)
    clock.set_clock(frozen)
    channels.linkedin_sandbox.clear()
    channels.email_sandbox.clear()
    channels.configure(None)
    yield frozen
    clock.reset_clock()


@pytest.fixture
def pump(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs the engine step by step in-process (tests/engine_helpers.Pump)."""
    from tests.engine_helpers import Pump

    return Pump(monkeypatch)


# The webhook tests' receiver and delivery pump (tests/webhook_helpers.py).
from tests.webhook_helpers import deliveries, receiver  # noqa: E402, F401
