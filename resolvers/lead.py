"""The engine's mutations: retryLead, recordLeadEvent, completeTask. Thin: decode, call the domain, return."""

from __future__ import annotations

from typing import TypeVar

import strawberry

from domain.errors import DomainError, NotFound
from domain.ids import decode_id
from engine.inbound import record_lead_event as record_event
from engine.manual_tasks import complete_task as complete
from engine.retry import retry_lead as retry
from resolvers.context import Info
from resolvers.errors import user_errors
from schema.inputs import LeadEventInput
from schema.payloads import LeadPayload, TaskPayload

T = TypeVar("T")


def _given(value: T | None) -> T | None:
    """Strawberry's UNSET and an explicit null both mean 'not given'."""
    return value if value is not strawberry.UNSET else None


async def retry_lead(info: Info, id: strawberry.ID) -> LeadPayload:
    lead_id = decode_id(id, "Lead")
    try:
        if lead_id is None:
            raise NotFound("No such lead.", ["id"])
        # The ORM row stands for its Strawberry type (schema/types.py), which the payload's field names.
        return LeadPayload(lead=await retry(info.context.workspace_id, lead_id))  # type: ignore[arg-type]
    except DomainError as exc:
        return LeadPayload(errors=user_errors(exc))


async def record_lead_event(info: Info, input: LeadEventInput) -> LeadPayload:
    lead_id = decode_id(input.lead_id, "Lead")
    try:
        if lead_id is None:
            raise NotFound("No such lead.", ["input", "leadId"])
        lead = await record_event(
            info.context.workspace_id,
            lead_id,
            input.kind,
            positive=_given(input.positive),
            channel=_given(input.channel),
            message=_given(input.message),
            occurred_at=_given(input.occurred_at),
        )
        # The ORM row stands for its Strawberry type (schema/types.py), which the payload's field names.
        return LeadPayload(lead=lead)  # type: ignore[arg-type]
    except DomainError as exc:
        return LeadPayload(errors=user_errors(exc))


async def complete_task(info: Info, id: strawberry.ID) -> TaskPayload:
    task_id = decode_id(id, "Task")
    try:
        if task_id is None:
            raise NotFound("No such task.", ["id"])
        # The ORM row stands for its Strawberry type (schema/types.py), which the payload's field names.
        return TaskPayload(task=await complete(info.context.workspace_id, task_id))  # type: ignore[arg-type]
    except DomainError as exc:
        return TaskPayload(errors=user_errors(exc))
