"""importContacts, updateContact."""

from __future__ import annotations

import strawberry

from domain import contacts as domain_contacts
from domain.errors import DomainError, DomainErrors
from domain.ids import decode_id
from resolvers.campaign import plain
from resolvers.context import Info
from resolvers.errors import user_errors
from schema.inputs import ContactInput, ContactUpdateInput
from schema.payloads import ContactPayload, ImportContactsPayload


async def import_contacts(info: Info, contacts: list[ContactInput]) -> ImportContactsPayload:
    try:
        created, errors = await domain_contacts.import_contacts(info.context.workspace_id, plain(contacts))
    except (DomainError, DomainErrors) as exc:
        return ImportContactsPayload(contacts=[], errors=user_errors(exc))
    # The ORM row stands for its Strawberry type (schema/types.py), which the payload's field names.
    return ImportContactsPayload(contacts=created, errors=[u for e in errors for u in user_errors(e)])  # type: ignore[arg-type]


async def update_contact(info: Info, id: strawberry.ID, input: ContactUpdateInput) -> ContactPayload:
    try:
        contact = await domain_contacts.update_contact(
            info.context.workspace_id, decode_id(id, "Contact"), plain(input)
        )
    except (DomainError, DomainErrors) as exc:
        return ContactPayload(contact=None, errors=user_errors(exc))
    # The ORM row stands for its Strawberry type (schema/types.py), which the payload's field names.
    return ContactPayload(contact=contact)  # type: ignore[arg-type]
