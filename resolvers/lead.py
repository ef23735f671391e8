"""The engine's mutations: retryLead, recordLeadEvent, completeTask."""

from __future__ import annotations

import strawberry

from resolvers.context import Info
from schema.inputs import LeadEventInput
from schema.payloads import LeadPayload, TaskPayload


async def retry_lead(info: Info, id: strawberry.ID) -> LeadPayload:
    raise NotImplementedError


async def record_lead_event(info: Info, input: LeadEventInput) -> LeadPayload:
    raise NotImplementedError


async def complete_task(info: Info, id: strawberry.ID) -> TaskPayload:
    raise NotImplementedError
