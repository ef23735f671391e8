"""Contacts: imported in bulk (each refused input on its own error) and changed one at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from domain import validation
from domain.audience import check_cap
from domain.errors import DomainError, DomainErrors, NotFound
from domain.tx import transaction
from models import Contact
from models.sql import fetch, placeholders

BATCH = 500
#: Field -> (input name, max length, required).
FIELDS: dict[str, tuple[str, int, bool]] = {
    "first_name": ("firstName", validation.NAME, True),
    "last_name": ("lastName", validation.NAME, True),
    "email": ("email", validation.EMAIL, False),
    "linkedin_url": ("linkedinUrl", validation.URL, False),
    "company": ("company", validation.NAME, False),
    "title": ("title", validation.NAME, False),
}


def _clean(data: Mapping[str, Any], path: list[str], errors: list[DomainError], *, partial: bool) -> dict[str, Any]:
    """Validated column values; `partial`: only the keys given (an update)."""
    values: dict[str, Any] = {}
    for key, (name, max_length, required) in FIELDS.items():
        if partial and key not in data:
            continue
        if key == "email":
            values[key] = validation.email(data.get(key), [*path, name], errors)
        else:
            values[key] = validation.text(
                data.get(key), [*path, name], errors, max_length=max_length, required=required
            )
    return values


async def import_contacts(
    workspace_id: int, items: Sequence[Mapping[str, Any]]
) -> tuple[list[Contact], list[DomainError]]:
    """Create the valid contacts; return them (in input order) and one error per problem of the others."""
    check_cap(items, "contacts")
    errors: list[DomainError] = []
    valid: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        item_errors: list[DomainError] = []
        cleaned = _clean(item, ["contacts", str(i)], item_errors, partial=False)
        if item_errors:
            errors += item_errors
        else:
            valid.append(cleaned)
    ids: list[int] = []
    async with transaction() as conn:
        now = datetime.now(UTC)
        columns = ["workspace_id", *FIELDS, "created_at"]
        for start in range(0, len(valid), BATCH):
            # One multi-row INSERT per batch (not a round trip per contact).
            values: list[Any] = []
            tuples = []
            for item in valid[start : start + BATCH]:
                marks = placeholders(conn, len(columns), start=len(values) + 1)
                tuples.append(f"({', '.join(marks)})")
                values += [workspace_id, *(item[key] for key in FIELDS), now]
            rows = await fetch(
                conn, f"INSERT INTO contact ({', '.join(columns)}) VALUES {', '.join(tuples)} RETURNING id", values
            )
            # Ids grow in insertion order within a statement; RETURNING's own order is not promised.
            ids += sorted(int(row["id"]) for row in rows)
        created = await Contact.filter(id__in=ids).order_by("id")
    return created, errors


async def update_contact(workspace_id: int, contact_id: int | None, data: Mapping[str, Any]) -> Contact:
    contact = None if contact_id is None else await Contact.get_or_none(id=contact_id, workspace_id=workspace_id)
    if contact is None:
        raise NotFound("No such contact.", ["id"])
    errors: list[DomainError] = []
    values = _clean(data, ["input"], errors, partial=True)
    if errors:
        raise DomainErrors(errors)
    if values:
        await Contact.filter(id=contact.id, workspace_id=workspace_id).update(**values)
    return await Contact.get(id=contact.id)
