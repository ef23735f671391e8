"""Field resolvers of the object types. Relations go through the request's dataloaders.

Relation resolvers are plain functions returning the loader's future (graphql-core awaits it): no coroutine
per row and field, which is most of what a 50-row page with three relations costs.
"""

from __future__ import annotations

from collections.abc import Awaitable
from types import SimpleNamespace
from typing import Any

from domain.ids import to_global_id
from models import Activity, Campaign, Identity, Lead, SequenceStep, Task
from models.enums import LeadStatus
from resolvers.context import Info
from schema.enums import TaskStatus
from schema.inputs import ActivityFilter, AudienceFilter

# ------------------------------------------------------------------ Identity


def identity_working_hours(root: Identity) -> Any:
    return SimpleNamespace(timezone=root.timezone, days=root.days, start=root.work_start, end=root.work_end)


def identity_limits(root: Identity) -> Any:
    return root  # the limit columns carry the field names of IdentityLimits


# ------------------------------------------------------------------ SequenceStep


def step_channel(root: SequenceStep) -> Any:
    return root.type.channel


def step_parent_id(root: SequenceStep) -> str | None:
    return to_global_id("SequenceStep", root.parent_id) if root.parent_id else None


def step_delay(root: SequenceStep) -> Any:
    total = root.delay_seconds
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    return SimpleNamespace(days=days, hours=hours, minutes=rest // 60, total_seconds=total)


def step_ai_variables(root: SequenceStep) -> Any:
    return [SimpleNamespace(name=v["name"], prompt=v["prompt"]) for v in root.ai_variables or []]


async def step_lead_count(root: SequenceStep, info: Info) -> int:
    from resolvers import reads

    return await reads.step_lead_count(info, root)


# ------------------------------------------------------------------ Lead


def lead_campaign(root: Lead, info: Info) -> Awaitable[Any]:
    return info.context.loaders.campaign.load(root.campaign_id)


def lead_contact(root: Lead, info: Info) -> Awaitable[Any]:
    return info.context.loaders.contact.load(root.contact_id)


def lead_current_step(root: Lead, info: Info) -> Awaitable[Any] | None:
    if root.current_step_id is None:
        return None
    return info.context.loaders.step.load(root.current_step_id)


def lead_error(root: Lead) -> Any:
    if root.status != LeadStatus.ERROR or root.substatus is None:
        return None
    return SimpleNamespace(
        substatus=root.substatus,
        message=root.error_message or "The step failed.",
        hint=root.error_hint or "Fix the cause, then retry the lead.",
        occurred_at=root.error_at or root.added_at,
    )


async def lead_timeline(root: Lead, info: Info) -> Any:
    from resolvers import reads

    return await reads.lead_timeline(info, root)


# ------------------------------------------------------------------ Activity / Task


def activity_lead(root: Activity, info: Info) -> Awaitable[Any]:
    return info.context.loaders.lead.load(root.lead_id)


def activity_contact(root: Activity, info: Info) -> Awaitable[Any]:
    return info.context.loaders.contact.load(root.contact_id)


def activity_step(root: Activity, info: Info) -> Awaitable[Any] | None:
    return None if root.step_id is None else info.context.loaders.step.load(root.step_id)


def task_lead(root: Task, info: Info) -> Awaitable[Any]:
    return info.context.loaders.lead.load(root.lead_id)


def task_step(root: Task, info: Info) -> Awaitable[Any] | None:
    return None if root.step_id is None else info.context.loaders.step.load(root.step_id)


# ------------------------------------------------------------------ Campaign


async def campaign_identity(root: Campaign, info: Info) -> Any:
    return None if root.identity_id is None else await info.context.loaders.identity.load(root.identity_id)


async def campaign_duplicated_from(root: Campaign, info: Info) -> Any:
    if root.duplicated_from_id is None:
        return None
    return await info.context.loaders.campaign.load(root.duplicated_from_id)


async def campaign_sequence(root: Campaign, info: Info) -> Any:
    from resolvers import reads

    return await reads.campaign_sequence(info, root)


async def campaign_stats(root: Campaign, info: Info) -> Any:
    from resolvers import reads

    return await reads.campaign_stats(info, root)


async def campaign_audience(
    root: Campaign,
    info: Info,
    filter: AudienceFilter | None = None,
    first: int | None = 50,
    after: str | None = None,
) -> Any:
    from resolvers import reads

    return await reads.campaign_audience(info, root, filter, first, after)


async def campaign_activity(
    root: Campaign,
    info: Info,
    filter: ActivityFilter | None = None,
    first: int | None = 50,
    after: str | None = None,
) -> Any:
    from resolvers import reads

    return await reads.campaign_activity(info, root, filter, first, after)


async def campaign_tasks(
    root: Campaign,
    info: Info,
    status: TaskStatus | None = None,
    first: int | None = 50,
    after: str | None = None,
) -> Any:
    from resolvers import reads

    return await reads.campaign_tasks(info, root, status, first, after)
