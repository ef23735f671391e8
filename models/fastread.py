"""Whole rows of a model from a hand-written WHERE clause: the read pages' queries without the QuerySet.

A QuerySet builds its SQL through pypika on every call, and Tortoise 1.x then copies every row three times
(`dict(row)`, a list of its items, a dict of a slice) before building the instance. On a 50-row page with
three relations that was about a fifth of the request. Here the SELECT list is built once per model, the
WHERE clause is a few strings, and each row goes straight to `Model._init_from_db`, the constructor Tortoise
uses itself, so field conversion (enums, datetimes, JSON) and the instances are exactly the QuerySet's.

Parameters are written `{}` and numbered for the connection's dialect (`$1` on PostgreSQL, `?` on SQLite).
Values pass through the model field's own `to_db_value` where it matters (`db_value`), as the QuerySet does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, TypeVar

from tortoise.models import Model

from domain.sql import db, is_postgres

M = TypeVar("M", bound=Model)


@cache
def _select(model: type[Model]) -> str:
    meta = model._meta
    # The columns `_init_from_db` reads, by their database names.
    names = [key for key, _, _ in (*meta.db_native_fields, *meta.db_default_fields, *meta.db_complex_fields)]
    columns = ", ".join(f'"{name}"' for name in names)
    return f'SELECT {columns} FROM "{meta.db_table}"'


class Where:
    """A conjunction of conditions and their parameters, written for one connection's dialect."""

    __slots__ = ("_postgres", "clauses", "values")

    def __init__(self, postgres: bool) -> None:
        self._postgres = postgres
        self.clauses: list[str] = []
        self.values: list[Any] = []

    def _mark(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self._postgres else "?"

    def add(self, condition: str, *values: Any) -> Where:
        """`condition` with one `{}` per value, e.g. `add('"id" > {}', 10)`."""
        self.clauses.append(condition.format(*(self._mark(v) for v in values)))
        return self

    def equals(self, column: str, value: Any) -> Where:
        return self.add(f'"{column}" = {{}}', value)

    def among(self, column: str, values: Iterable[Any]) -> Where:
        """`column IN (values)`: one array parameter on PostgreSQL, one marker per value on SQLite."""
        values = list(values)
        if self._postgres:
            return self.add(f'"{column}" = ANY({{}})', values)
        if not values:
            self.clauses.append("0 = 1")
            return self
        return self.add(f'"{column}" IN ({", ".join("{}" for _ in values)})', *values)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1 = 1"


def where() -> Where:
    """An empty condition for the current connection's dialect."""
    return Where(is_postgres(db()))


def db_value(model: type[Model], field: str, value: Any) -> Any:
    """`value` as the QuerySet would send it for `model.field` (an enum's value, a datetime as stored...)."""
    return model._meta.fields_map[field].to_db_value(value, model)


async def select(
    model: type[M], condition: Where, *, order_by: Sequence[str] = (), limit: int | None = None
) -> list[M]:
    """Instances of `model` matching `condition`; `order_by` columns, each optionally prefixed with '-'."""
    sql = f"{_select(model)} WHERE {condition.sql()}"
    if order_by:
        sql += " ORDER BY " + ", ".join(f'"{c[1:]}" DESC' if c.startswith("-") else f'"{c}"' for c in order_by)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    _, rows = await db().execute_query(sql, condition.values)
    init = model._init_from_db
    return [init(**row) for row in rows]
