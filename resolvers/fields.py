"""Field resolvers of the object types.

A relation returns the object that the page resolver prefetched onto the row (`resolvers/prefetch.py`): a plain
value, so graphql-core completes the list without a task per row. A row reached another way falls back to
the loader's future (a plain function, not a coroutine: graphql-core awaits the future itself).
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import strawberry

from domain import auth
from domain.ids import to_global_id
from models import Activity, Campaign, Identity, Lead, SequenceStep, Task
from models.enums import LeadStatus
from resolvers.context import Info, Loaders
from resolvers.prefetch import MISSING, attached
from schema.enums import TaskStatus
from schema.inputs import ActivityFilter, AudienceFilter


def prefetched(name: str) -> Any:
    """A relation resolver: the value resolvers/prefetch.py attached to the row as `name`, else what the
    decorated function returns (the loader's future, for a row reached another way).

    schema/fastpath.py reads the attached value straight off the row (`row_shortcut`), without the `info` the
    fallback needs.
    """

    def mark(fallback: Any) -> Any:
        @functools.wraps(fallback)
        def resolve(root: Any, info: Info) -> Any:
            found = attached(root, name)
            return fallback(root, info) if found is MISSING else found

        def row_shortcut(row: Any) -> Any:
            found = attached(row, name)
            return NotImplemented if found is MISSING else found

        resolve.row_shortcut = row_shortcut  # type: ignore[attr-defined]  # a function attribute: schema/direct.py
        return resolve

    return mark


def _loaders(info: Info) -> Loaders:
    loaders = info.context.loaders
    assert loaders is not None, "an authenticated context has its loaders"
    return loaders


# ------------------------------------------------------------------ Identity


def identity_working_hours(root: Identity) -> Any:
    return SimpleNamespace(timezone=root.timezone, days=root.days, start=root.work_start, end=root.work_end)


def identity_limits(root: Identity) -> Any:
    return root  # the limit columns carry the field names of IdentityLimits


def identity_mailbox(root: Identity) -> Any:
    # The row itself: smtp_host and imap_host carry Mailbox's field names.
    return root if root.smtp_host is not None or root.imap_host is not None else None


def mailbox_last_synced_at(root: Identity) -> Any:
    return root.mailbox_synced_at


def mailbox_sync_error(root: Identity) -> Any:
    return root.mailbox_sync_error


# ------------------------------------------------------------------ SequenceStep


def step_channel(root: SequenceStep) -> Any:
    return root.type.channel


def step_parent_id(root: SequenceStep) -> strawberry.ID | None:
    return strawberry.ID(to_global_id("SequenceStep", root.parent_id)) if root.parent_id else None


def step_delay(root: SequenceStep) -> Any:
    total = root.delay_seconds
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    return SimpleNamespace(days=days, hours=hours, minutes=rest // 60, total_seconds=total)


def step_ai_variables(root: SequenceStep) -> Any:
    return [SimpleNamespace(name=v["name"], prompt=v["prompt"]) for v in root.ai_variables or []]


@prefetched("leadCount")
def step_lead_count(root: SequenceStep, info: Info) -> Any:
    """Attached by `sequence` when it read the counters (no task per step); else read from them here."""
    from resolvers import reads

    return reads.step_lead_count(info, root)


# ------------------------------------------------------------------ Lead


@prefetched("campaign")
def lead_campaign(root: Lead, info: Info) -> Any:
    return _loaders(info).campaign.load(root.campaign_id)


@prefetched("contact")
def lead_contact(root: Lead, info: Info) -> Any:
    return _loaders(info).contact.load(root.contact_id)


@prefetched("currentStep")
def lead_current_step(root: Lead, info: Info) -> Any:
    return None if root.current_step_id is None else _loaders(info).step.load(root.current_step_id)


def lead_error(root: Lead) -> Any:
    if root.status != LeadStatus.ERROR or root.substatus is None:
        return None
    return SimpleNamespace(
        substatus=root.substatus,
        message=root.error_message or "The step failed.",
        hint=root.error_hint or "Fix the cause, then retry the lead.",
        occurred_at=root.error_at or root.added_at,
    )


@prefetched("timeline")
def lead_timeline(root: Lead, info: Info) -> Any:
    return _loaders(info).timeline.load(root.id)


# ------------------------------------------------------------------ Activity / Task


def _step(root: Activity | Task, info: Info) -> Any:
    return None if root.step_id is None else _loaders(info).step.load(root.step_id)


def _lead(root: Activity | Task, info: Info) -> Any:
    return _loaders(info).lead.load(root.lead_id)


activity_lead = prefetched("lead")(_lead)
activity_step = prefetched("step")(_step)
task_lead = prefetched("lead")(_lead)
task_step = prefetched("step")(_step)


@prefetched("contact")
def activity_contact(root: Activity, info: Info) -> Any:
    return _loaders(info).contact.load(root.contact_id)


# ------------------------------------------------------------------ Campaign


async def campaign_identity(root: Campaign, info: Info) -> Any:
    return None if root.identity_id is None else await _loaders(info).identity.load(root.identity_id)


async def campaign_duplicated_from(root: Campaign, info: Info) -> Any:
    if root.duplicated_from_id is None:
        return None
    return await _loaders(info).campaign.load(root.duplicated_from_id)


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


async def workspace_api_keys(root: Any, info: Info) -> list[Any]:
    return await auth.list_api_keys(root.id)
