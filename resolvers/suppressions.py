"""suppressions, addSuppressions, removeSuppression."""

from __future__ import annotations

import strawberry

from domain import suppressions as domain_suppressions
from domain.errors import DomainError
from domain.ids import decode_id, to_global_id
from models import Suppression, fastread
from resolvers.context import Info
from resolvers.errors import user_errors
from resolvers.pagination import Page, build_page, check_first, decode_id_cursor, id_cursor
from resolvers.reads import check_search, given, icontains
from schema.suppressions import RemoveSuppressionPayload, SuppressionsPayload


async def suppressions(info: Info, search: str | None = None, first: int | None = 50, after: str | None = None) -> Page:
    """Newest first (by id); search matches the value, case-insensitively."""
    limit = check_first(first, 50)
    before_id = decode_id_cursor(after, "Suppression")
    condition = fastread.where().equals("workspace_id", info.context.workspace_id)
    if given(search) and check_search(search).strip():
        sql, values = icontains(("value",), search.strip())
        condition.add(sql, *values)
    page_condition = condition.copy()
    if before_id is not None:
        page_condition.add('"id" < {}', before_id)
    rows = await fastread.select(Suppression, page_condition, order_by=("-id",), limit=limit + 1)

    async def count() -> int:
        return await fastread.count(Suppression, condition)

    return build_page(rows, limit, lambda row: id_cursor("Suppression", row.id), after, count)


async def add_suppressions(info: Info, values: list[str]) -> SuppressionsPayload:
    try:
        added, errors = await domain_suppressions.add_suppressions(info.context.workspace_id, values)
    except DomainError as exc:
        return SuppressionsPayload(suppressions=[], errors=user_errors(exc))
    # The ORM row stands for its Strawberry type (schema/suppressions.py), which the payload's field names.
    return SuppressionsPayload(suppressions=added, errors=[u for e in errors for u in user_errors(e)])  # type: ignore[arg-type]


async def remove_suppression(info: Info, id: strawberry.ID) -> RemoveSuppressionPayload:
    try:
        removed = await domain_suppressions.remove_suppression(info.context.workspace_id, decode_id(id, "Suppression"))
    except DomainError as exc:
        return RemoveSuppressionPayload(errors=user_errors(exc))
    return RemoveSuppressionPayload(removed_id=strawberry.ID(to_global_id("Suppression", removed)))
