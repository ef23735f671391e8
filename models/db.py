"""Connecting Tortoise, and migrating the schema on start (Tortoise's built-in migrations)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.context import TortoiseContext, get_current_context
from tortoise.exceptions import DBConnectionError

log = logging.getLogger("outbound.db")

MODEL_MODULES = ["models"]


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The one Tortoise config, shared by the API, workers, the CLI and `tortoise makemigrations`."""
    url = database_url
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    connection: str | dict[str, Any] = url
    if url.startswith("postgres://"):
        from tortoise.backends.base.config_generator import expand_db_url

        from models.pg import NoResetConnection

        # No session reset on each release to the pool (why: models/pg.py).
        connection = expand_db_url(url)
        connection["credentials"]["connection_class"] = NoResetConnection
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "models.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate(database_url: str) -> None:
    """Bring the schema up to date. Safe to run from several processes at once on PostgreSQL."""
    from tortoise.migrations.api import migrate as run_migrations

    config = tortoise_config(database_url)
    if database_url.startswith(("postgres", "asyncpg")):
        # Two API processes starting together must not both create the tables.
        await Tortoise.init(config=config)
        conn = Tortoise.get_connection("default")
        await conn.execute_query("SELECT pg_advisory_lock(7301947)")
        try:
            await run_migrations(config=config)
        finally:
            conn = Tortoise.get_connection("default")
            await conn.execute_query("SELECT pg_advisory_unlock(7301947)")
            await _close_migration_connections()
    else:
        await run_migrations(config=config)
        await _close_migration_connections()


async def _close_migration_connections() -> None:
    # Not Tortoise.close_connections(): it logs "Tortoise-ORM shutdown", which on every start read as if the
    # server were stopping. The migration's own connections close; the real ones open in init_db.
    ctx = get_current_context()
    if ctx is not None:
        await ctx.close_connections()


#: sqlite3's OperationalError also means "no such table" or a syntax error: only these say the file is unusable.
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk i/o error", "database is busy")


def database_unavailable(error: BaseException) -> bool:
    """True when `error` (or what caused it) says the database cannot be reached right now: PostgreSQL down or
    refusing connections, a dropped connection, a locked or missing SQLite file. The API answers those with
    503 SERVICE_UNAVAILABLE (server.py, schema/masking.py) rather than as faults of its own."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (DBConnectionError, ConnectionError, TimeoutError)):
            return True
        if isinstance(current, asyncpg.PostgresConnectionError):  # includes "the connection was closed"
            return True
        if isinstance(current, asyncpg.PostgresError) and (current.sqlstate or "").startswith(("08", "57P")):
            return True  # connection exceptions, operator intervention (the server shutting down, starting up)
        if isinstance(current, OSError):  # refused, unreachable, reset: the socket's own errors
            return True
        if isinstance(current, sqlite3.OperationalError) and str(current).lower().startswith(_SQLITE_UNAVAILABLE):
            return True
        current = current.__cause__ or current.__context__
    return False


def database_interrupted(error: BaseException) -> bool:
    """`database_unavailable`, or the driver's own state left broken by a dropped connection (asyncpg's
    "connection has been released back to the pool", "another operation is in progress"): what a caller
    that must not give up on a write (the engine recording a send that went out) waits out and retries."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (asyncpg.InterfaceError, asyncpg.InternalClientError)):
            return True
        current = current.__cause__ or current.__context__
    return database_unavailable(error)


def db(connection: BaseDBAsyncClient | None = None) -> BaseDBAsyncClient:
    """The connection of the current transaction, if any, else the default one."""
    return connection or connections.get("default")


def is_postgres(connection: BaseDBAsyncClient) -> bool:
    return connection.capabilities.dialect == "postgres"


async def init_db(database_url: str, *, run_migrations: bool = True) -> TortoiseContext:
    """Migrate, then connect. The context is the global fallback, so request and worker tasks reach it."""
    if run_migrations:
        await migrate(database_url)
    return await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def close_db() -> None:
    await Tortoise.close_connections()
