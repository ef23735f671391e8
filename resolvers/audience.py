"""addLeads, removeLeads, pauseLead, resumeLead."""

from __future__ import annotations

import strawberry

from domain import audience
from domain.errors import DomainError, DomainErrors
from domain.ids import decode_id, to_global_id
from resolvers.context import Info
from resolvers.errors import user_errors
from schema.payloads import AddLeadsPayload, LeadPayload, RemoveLeadsPayload


async def add_leads(info: Info, campaign_id: strawberry.ID, contact_ids: list[strawberry.ID]) -> AddLeadsPayload:
    try:
        added, errors = await audience.add_leads(
            info.context.workspace_id,
            decode_id(campaign_id, "Campaign"),
            [decode_id(c, "Contact") for c in contact_ids],
        )
    except (DomainError, DomainErrors) as exc:
        return AddLeadsPayload(leads=[], errors=user_errors(exc))
    # The ORM row stands for its Strawberry type (schema/types.py), which the payload's field names.
    return AddLeadsPayload(leads=added, errors=[u for e in errors for u in user_errors(e)])  # type: ignore[arg-type]


async def remove_leads(info: Info, campaign_id: strawberry.ID, lead_ids: list[strawberry.ID]) -> RemoveLeadsPayload:
    try:
        removed, errors = await audience.remove_leads(
            info.context.workspace_id, decode_id(campaign_id, "Campaign"), [decode_id(i, "Lead") for i in lead_ids]
        )
    except (DomainError, DomainErrors) as exc:
        return RemoveLeadsPayload(removed_ids=[], errors=user_errors(exc))
    return RemoveLeadsPayload(
        removed_ids=[strawberry.ID(to_global_id("Lead", i)) for i in removed],
        errors=[u for e in errors for u in user_errors(e)],
    )


async def pause_lead(info: Info, id: strawberry.ID) -> LeadPayload:
    try:
        # The ORM row stands for its Strawberry type (schema/types.py), which the payload's field names.
        return LeadPayload(lead=await audience.pause_lead(info.context.workspace_id, decode_id(id, "Lead")))  # type: ignore[arg-type]
    except (DomainError, DomainErrors) as exc:
        return LeadPayload(lead=None, errors=user_errors(exc))


async def resume_lead(info: Info, id: strawberry.ID) -> LeadPayload:
    try:
        # The ORM row stands for its Strawberry type (schema/types.py), which the payload's field names.
        return LeadPayload(lead=await audience.resume_lead(info.context.workspace_id, decode_id(id, "Lead")))  # type: ignore[arg-type]
    except (DomainError, DomainErrors) as exc:
        return LeadPayload(lead=None, errors=user_errors(exc))
