"""The one way read paths turn SQL rows into models: the read pages' and the engine's queries without the QuerySet.

A QuerySet builds its SQL through pypika on every call, and Tortoise 1.x then copies every row three times
(`dict(row)`, a list of its items, a dict of a slice) before building the instance. On a 50-row page with
three relations that was about a fifth of the request. Here the SELECT list is built once per model, the
WHERE clause is a few strings, and each row goes straight to `Model._init_from_db`, the constructor Tortoise
uses itself, so field conversion (enums, datetimes, JSON) and the instances are exactly the QuerySet's
(`_instances` is that constructor, reading the columns by position; a test compares the two).

Parameters are written `{}` and numbered for the connection's dialect (`$1` on PostgreSQL, `?` on SQLite).
Values pass through the model field's own `to_db_value` where it matters (`db_value`), as the QuerySet does.
A list page builds its `Where` once and hands it to both `select` (with the cursor added to a `copy`) and
`count`, so its rows and its `totalCount` cannot disagree. A query of its own (a join) selects each model's
`columns` and builds each model's part of a row with `build`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from tortoise.models import Model

from compat import FRESH_PER_INSTANCE, loaded_state, model_meta
from models.db import db, is_postgres

M = TypeVar("M", bound=Model)


@dataclass(frozen=True, slots=True)
class _Shape:
    """A model's SELECT statement, and how a row of it becomes an instance (as `Model._init_from_db` does)."""

    select: str
    #: The columns read, by their database names, in the order `_instances` reads them.
    names: tuple[str, ...]
    #: The attributes of the leading columns, which the driver already converts (`db_native_fields`).
    native: tuple[str, ...]
    #: (column position, attribute, converter, whether None is passed through as None) of the other columns:
    #: a field's type (`db_default_fields`) or its `to_python_value` (`db_complex_fields`).
    converted: tuple[tuple[int, str, Any, bool], ...]
    #: The bookkeeping attributes `_init_from_db` sets, but `_await_when_save` (a new dict per instance).
    base: dict[str, Any]


def _none_to_none(convert: Any) -> bool:
    try:
        return convert(None) is None
    except Exception:  # a converter that refuses None is called with it, as _init_from_db would
        return False


@cache
def _shape(model: type[Model], only: frozenset[str] | None = None) -> _Shape:
    """`only`: the attributes to read (the pk always is); the instance is then partial, as `.only()` makes it."""
    meta = model_meta(model)
    groups = tuple(
        [(key, attr, f) for key, attr, f in group if only is None or attr in only or attr == meta.pk_attr]
        for group in (meta.db_native_fields, meta.db_default_fields, meta.db_complex_fields)
    )
    # A column whose attribute is a data descriptor on the class would have to go through it.
    attrs = [attr for group in groups for _, attr, _ in group]
    if any(hasattr(getattr(model, attr, None), "__set__") for attr in attrs):
        raise TypeError(f"{model.__name__}: a column attribute is a descriptor; fastread cannot build it")
    native_fields, default_fields, complex_fields = groups
    # The columns `_init_from_db` reads, by their database names, in this order.
    names = [key for group in groups for key, _, _ in group]
    native = tuple(attr for _, attr, _ in native_fields)
    converters = [(attr, _typed(f.field_type)) for _, attr, f in default_fields]
    converters += [(attr, f.to_python_value) for _, attr, f in complex_fields]
    converted = tuple(
        (len(native) + i, attr, convert, _none_to_none(convert)) for i, (attr, convert) in enumerate(converters)
    )
    columns = ", ".join(f'"{name}"' for name in names)
    return _Shape(
        select=f'SELECT {columns} FROM "{meta.db_table}"',
        names=tuple(names),
        native=native,
        converted=converted,
        base=loaded_state(model, only is not None),
    )


def columns_of(model: type[Model]) -> frozenset[str]:
    """The attributes of `model` that are columns (what `only` may name)."""
    meta = model_meta(model)
    return frozenset(
        attr
        for group in (meta.db_native_fields, meta.db_default_fields, meta.db_complex_fields)
        for _, attr, _ in group
    )


def _typed(kind: Any) -> Any:
    """`_init_from_db`'s conversion of a default field: None stays None, anything else goes through its type."""
    return lambda value: None if value is None else kind(value)


def _instances(model: type[M], shape: _Shape, rows: Sequence[Any]) -> list[M]:
    """`Model._init_from_db` for every row, reading columns by position: no keyword call per row, the leading
    (native) columns copied into the instance's dict in one step, and no `Model.__setattr__` (none of these
    attributes is a descriptor: `_shape` checks)."""
    native, converted, base = shape.native, shape.converted, shape.base
    fresh = FRESH_PER_INSTANCE
    new = model.__new__
    out = []
    for row in rows:
        obj = new(model)
        values = obj.__dict__
        values.update(base)
        values[fresh] = {}
        values.update(zip(native, row, strict=False))  # the row goes on with the converted columns
        for i, attr, convert, none_is_none in converted:
            value = row[i]
            values[attr] = None if value is None and none_is_none else convert(value)
        out.append(obj)
    return out


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

    def copy(self) -> Where:
        """The same conditions, to add more to (a page's cursor) without changing this one (its count's)."""
        other = Where(self._postgres)
        other.clauses, other.values = list(self.clauses), list(self.values)
        return other

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1 = 1"


def where() -> Where:
    """An empty condition for the current connection's dialect."""
    return Where(is_postgres(db()))


def db_value(model: type[Model], field: str, value: Any) -> Any:
    """`value` as the QuerySet would send it for `model.field` (an enum's value, a datetime as stored...)."""
    return model_meta(model).fields_map[field].to_db_value(value, model)


async def select(
    model: type[M],
    condition: Where,
    *,
    order_by: Sequence[str] = (),
    limit: int | None = None,
    only: frozenset[str] | None = None,
) -> list[M]:
    """Instances of `model` matching `condition`; `order_by` columns, each optionally prefixed with '-'.

    `only`: read just these attributes (and the pk), for a caller that knows it needs nothing else: reading
    any other attribute of such an instance raises AttributeError.
    """
    shape = _shape(model, only)
    sql = f"{shape.select} WHERE {condition.sql()}"
    if order_by:
        sql += " ORDER BY " + ", ".join(f'"{c[1:]}" DESC' if c.startswith("-") else f'"{c}"' for c in order_by)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    _, rows = await db().execute_query(sql, condition.values)
    return _instances(model, shape, rows)


async def count(model: type[Model], condition: Where) -> int:
    """How many rows of `model` match `condition`: the `totalCount` of the rows `select` pages through."""
    _, rows = await db().execute_query(
        f'SELECT count(*) FROM "{model_meta(model).db_table}" WHERE {condition.sql()}', condition.values
    )
    return int(rows[0][0])


def columns(model: type[Model], alias: str, only: frozenset[str] | None = None) -> str:
    """The SELECT list of `model`'s columns under a table alias, in the order `build` reads them. `only`: just
    these attributes (and the pk), as `select` takes it; give `width` and `build` the same."""
    return ", ".join(f'{alias}."{name}"' for name in _shape(model, only).names)


def width(model: type[Model], only: frozenset[str] | None = None) -> int:
    """How many values of a row `columns(model, ...)` selects."""
    return len(_shape(model, only).names)


def build(model: type[M], values: Sequence[Any], only: frozenset[str] | None = None) -> M | None:
    """One instance from the values `columns(model, ...)` selected; None when its pk is None (an outer join
    that found nothing)."""
    shape = _shape(model, only)
    if values[shape.names.index(model_meta(model).db_pk_column)] is None:
        return None
    return _instances(model, shape, [values])[0]
