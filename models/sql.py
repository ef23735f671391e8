"""Tiny helpers for the few statements the ORM cannot express (upserts, conditional updates)."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.db import db, is_postgres  # defined with the connection setup, where models/ can reach them


def placeholders(connection: BaseDBAsyncClient, count: int, start: int = 1) -> list[str]:
    """Positional parameter markers in the connection's dialect: `$1, $2` or `?, ?`."""
    if is_postgres(connection):
        return [f"${i}" for i in range(start, start + count)]
    return ["?"] * count


async def execute(connection: BaseDBAsyncClient, sql: str, values: list[Any] | None = None) -> int:
    """Run a statement and return how many rows it changed."""
    rows_affected, _ = await connection.execute_query(sql, values or [])
    return rows_affected


async def fetch(connection: BaseDBAsyncClient, sql: str, values: list[Any] | None = None) -> list[dict]:
    return await connection.execute_query_dict(sql, values or [])


__all__ = ["db", "execute", "fetch", "is_postgres", "placeholders"]
