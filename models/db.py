"""Connecting Tortoise, and migrating the schema on start (Tortoise's built-in migrations)."""

from __future__ import annotations

import logging
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.context import TortoiseContext, get_current_context

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
