"""importContacts, updateContact."""

from __future__ import annotations

import strawberry

from resolvers.context import Info
from schema.inputs import ContactInput, ContactUpdateInput
from schema.payloads import ContactPayload, ImportContactsPayload


async def import_contacts(info: Info, contacts: list[ContactInput]) -> ImportContactsPayload:
    raise NotImplementedError


async def update_contact(info: Info, id: strawberry.ID, input: ContactUpdateInput) -> ContactPayload:
    raise NotImplementedError
