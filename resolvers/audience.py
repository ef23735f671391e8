"""addLeads, removeLeads, pauseLead, resumeLead."""

from __future__ import annotations

import strawberry

from resolvers.context import Info
from schema.payloads import AddLeadsPayload, LeadPayload, RemoveLeadsPayload


async def add_leads(info: Info, campaign_id: strawberry.ID, contact_ids: list[strawberry.ID]) -> AddLeadsPayload:
    raise NotImplementedError


async def remove_leads(info: Info, campaign_id: strawberry.ID, lead_ids: list[strawberry.ID]) -> RemoveLeadsPayload:
    raise NotImplementedError


async def pause_lead(info: Info, id: strawberry.ID) -> LeadPayload:
    raise NotImplementedError


async def resume_lead(info: Info, id: strawberry.ID) -> LeadPayload:
    raise NotImplementedError
