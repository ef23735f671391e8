"""The read side behind the Campaign View: sequence, stats, audience, activity, tasks, timelines.

Every list is keyset-paginated (resolvers/pagination.py): one query per page and one COUNT, or a counter
read where the counters already hold the number (audience by status/substatus/step, tasks by status), so
`totalCount` stays flat however large the campaign is. The relations a page's selection asks for are
prefetched onto its rows (resolvers/prefetch.py): one query per relation, whatever the page's size.
Every query is scoped to the request's workspace; an ID of another workspace, of the wrong type or
malformed filters to nothing, exactly like an ID that does not exist.
"""

from __future__ import annotations

import asyncio
from typing import Any

from strawberry import UNSET
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from domain import counters as c
from domain.ids import decode_id
from domain.stats import CampaignStats, build_stats
from models import Activity, Campaign, Lead, SequenceStep, Task, fastread
from models.enums import SUBSTATUS_STATUS, LeadStatus, LeadSubstatus, TaskStatus
from resolvers.context import Info
from resolvers.pagination import (
    Page,
    build_page,
    check_first,
    decode_id_cursor,
    decode_time_cursor,
    empty_page,
    id_cursor,
    time_cursor,
)
from resolvers.prefetch import attach, connection_fields, connection_nodes, needed_columns, prefetch

#: Contact columns that a `search` matches, case-insensitively.
CONTACT_SEARCH_FIELDS = ("first_name", "last_name", "email", "company")


def given(value: Any) -> bool:
    """Whether an optional input field was set to something (UNSET and null both mean 'no filter')."""
    return value is not None and value is not UNSET


def search_q(search: str, prefix: str = "") -> Q | None:
    """Every whitespace-separated term must match one of the contact's name, email or company.

    "ada love" finds Ada Lovelace: each term matches a column, so a full name works too.
    """
    terms = search.split()
    if not terms:
        return None
    clauses = [
        Q(*(Q(**{f"{prefix}{col}__icontains": term}) for col in CONTACT_SEARCH_FIELDS), join_type="OR")
        for term in terms
    ]
    return Q(*clauses, join_type="AND")


# ------------------------------------------------------------------ Overview


async def campaign_sequence(info: Info, campaign: Campaign) -> list[SequenceStep]:
    """The steps in order; with each one's `leadCount` attached when the selection asks for it (one counters
    read, the one `stats` uses, rather than one awaited resolver per step)."""
    loaders = info.context.loaders
    steps = await loaders.sequence.load(campaign.id)
    if steps and "leadCount" in connection_fields(info):
        numbers, _, _ = await loaders.counters.load(campaign.id)
        for step in steps:
            attach(step, "leadCount", numbers.get(c.step_key(step.id), 0))
    return steps


async def campaign_stats(info: Info, campaign: Campaign) -> CampaignStats:
    loaders = info.context.loaders
    steps = await loaders.sequence.load(campaign.id)
    numbers, version, updated_at = await loaders.counters.load(campaign.id)
    return build_stats(campaign.id, numbers, version, updated_at, [s.id for s in steps], campaign.created_at)


async def step_lead_count(info: Info, step: SequenceStep) -> int:
    """From the counters (key `step:{id}`), read once per campaign per request: leads are never counted."""
    numbers, _, _ = await info.context.loaders.counters.load(step.campaign_id)
    return numbers.get(c.step_key(step.id), 0)


async def _prefetched(info: Info, page: Page, fields: dict[str, list[Any]] | None = None) -> Page:
    """The page, with the relations its selection asks for attached to its nodes.

    A `totalCount` that is asked for is counted at the same time, rather than in a round trip of its own
    once the nodes are done. `fields`: the connection's selection, when the caller already read it.
    """
    if fields is None:
        fields = connection_fields(info)
    loads = prefetch(info, page.nodes, connection_nodes(fields))
    if "totalCount" in fields and callable(page.count):
        page.count, _ = await asyncio.gather(page.count(), loads)
    else:
        await loads
    return page


# ------------------------------------------------------------------ Audience


def _audience_counter_key(status: Any, substatus: Any, step_id: int | None) -> str | bool | None:
    """The counter that holds the audience's size under this filter; False if it is known to be 0;
    None if no counter holds it (a combination with the step)."""
    if step_id is not None:
        return c.step_key(step_id) if status is None and substatus is None else None
    if substatus is not None:
        if status is not None and SUBSTATUS_STATUS[LeadSubstatus(substatus)] != LeadStatus(status):
            return False
        return c.substatus_key(substatus)
    if status is not None:
        return c.status_key(status)
    return c.TOTAL


async def campaign_audience(info: Info, campaign: Campaign, filter: Any, first: int | None, after: str | None) -> Page:
    """Leads in the campaign (removed ones excluded), oldest first (by id)."""
    limit = check_first(first, 50)
    after_id = decode_id_cursor(after, "Lead")
    qs = Lead.filter(campaign_id=campaign.id, workspace_id=info.context.workspace_id, removed_at=None)
    status = substatus = step_id = None
    search = None
    if filter is not None:
        if given(filter.status):
            status = filter.status
            qs = qs.filter(status=status)
        if given(filter.substatus):
            substatus = filter.substatus
            qs = qs.filter(substatus=substatus)
        if given(filter.step_id):
            step_id = decode_id(filter.step_id, "SequenceStep")
            if step_id is None:
                return empty_page()
            qs = qs.filter(current_step_id=step_id)
        if given(filter.search):
            search = search_q(filter.search, "contact__")
            if search is not None:
                qs = qs.filter(search)

    fields = connection_fields(info)
    if search is None:
        # The common case (no search): the page's query is written directly (models/fastread.py).
        condition = (
            fastread.where().equals("campaign_id", campaign.id).equals("workspace_id", info.context.workspace_id)
        )
        condition.add('"removed_at" IS NULL')
        for column, value in (("status", status), ("substatus", substatus), ("current_step_id", step_id)):
            if value is not None:
                condition.equals(column, fastread.db_value(Lead, column, value))
        if after_id is not None:
            condition.add('"id" > {}', after_id)
        # Only the columns the page's selection reads, when that is known (resolvers/prefetch.py).
        only = needed_columns(info._raw_info.schema, Lead, connection_nodes(fields))
        rows = await fastread.select(Lead, condition, order_by=("id",), limit=limit + 1, only=only)
    else:
        page_qs = qs if after_id is None else qs.filter(id__gt=after_id)
        rows = await page_qs.order_by("id").limit(limit + 1)

    key = None if search is not None else _audience_counter_key(status, substatus, step_id)

    async def count() -> int:
        if key is False:
            return 0
        if key is None:
            return await qs.count()
        numbers, _, _ = await info.context.loaders.counters.load(campaign.id)
        return numbers.get(key, 0)

    page = build_page(rows, limit, lambda lead: id_cursor("Lead", lead.id), after, count)
    return await _prefetched(info, page, fields)


# ------------------------------------------------------------------ Activity


#: The ID filters of the Activity log: (filter attribute, the ID's type, column).
_ACTIVITY_ID_FILTERS = (
    ("step_id", "SequenceStep", "step_id"),
    ("lead_id", "Lead", "lead_id"),
    ("contact_id", "Contact", "contact_id"),
)


def _activity_filter(qs: QuerySet[Activity], filter: Any) -> QuerySet[Activity] | None:
    """The filter applied; None when it names an ID that cannot match anything."""
    for attr, type_name, column in _ACTIVITY_ID_FILTERS:
        value = getattr(filter, attr)
        if given(value):
            pk = decode_id(value, type_name)
            if pk is None:
                return None
            qs = qs.filter(**{column: pk})
    if given(filter.kinds):
        if not filter.kinds:
            return None
        qs = qs.filter(kind__in=list(filter.kinds))
    if given(filter.from_):
        qs = qs.filter(occurred_at__gte=filter.from_)
    if given(filter.to):
        qs = qs.filter(occurred_at__lt=filter.to)
    return qs


async def _activity_rows(
    campaign_id: int, workspace_id: int, filter: Any, position: tuple[Any, int] | None, limit: int
) -> list[Activity]:
    """One page of the log, newest first: the query written directly (models/fastread.py), with the filter
    `_activity_filter` applies (an ID that cannot match was already answered with an empty page)."""
    condition = fastread.where().equals("campaign_id", campaign_id).equals("workspace_id", workspace_id)
    if filter is not None:
        for attr, type_name, column in _ACTIVITY_ID_FILTERS:
            value = getattr(filter, attr)
            if given(value):
                condition.equals(column, decode_id(value, type_name))
        if given(filter.kinds):
            condition.among("kind", [fastread.db_value(Activity, "kind", k) for k in filter.kinds])
        if given(filter.from_):
            condition.add('"occurred_at" >= {}', fastread.db_value(Activity, "occurred_at", filter.from_))
        if given(filter.to):
            condition.add('"occurred_at" < {}', fastread.db_value(Activity, "occurred_at", filter.to))
    if position is not None:
        at, pk = position
        at = fastread.db_value(Activity, "occurred_at", at)
        # (occurred_at, id) < (at, pk), written so that the index range starts at `at` on both backends.
        condition.add('"occurred_at" <= {} AND ("occurred_at" < {} OR "id" < {})', at, at, pk)
    return await fastread.select(Activity, condition, order_by=("-occurred_at", "-id"), limit=limit)


async def campaign_activity(info: Info, campaign: Campaign, filter: Any, first: int | None, after: str | None) -> Page:
    """The Activity log, newest first by (occurred_at, id)."""
    limit = check_first(first, 50)
    position = decode_time_cursor(after, "Activity")
    qs: QuerySet[Activity] | None = Activity.filter(campaign_id=campaign.id, workspace_id=info.context.workspace_id)
    if filter is not None:
        qs = _activity_filter(qs, filter)
        if qs is None:
            return empty_page()
    rows = await _activity_rows(campaign.id, info.context.workspace_id, filter, position, limit + 1)
    page = build_page(rows, limit, lambda a: time_cursor("Activity", a.occurred_at, a.id), after, qs.count)
    return await _prefetched(info, page)


# ------------------------------------------------------------------ Tasks


async def campaign_tasks(info: Info, campaign: Campaign, status: Any, first: int | None, after: str | None) -> Page:
    """The campaign's tasks (of leads still in it), oldest first (by id)."""
    limit = check_first(first, 50)
    after_id = decode_id_cursor(after, "Task")
    qs = Task.filter(campaign_id=campaign.id, workspace_id=info.context.workspace_id, lead__removed_at=None)
    if status is not None:
        qs = qs.filter(status=status)
    page_qs = qs if after_id is None else qs.filter(id__gt=after_id)
    rows = await page_qs.order_by("id").limit(limit + 1)

    async def count() -> int:
        # The counters count exactly these: tasks of leads not removed, by status.
        numbers, _, _ = await info.context.loaders.counters.load(campaign.id)
        wanted = [TaskStatus(status)] if status is not None else list(TaskStatus)
        return sum(numbers.get(c.task_key(s), 0) for s in wanted)

    return await _prefetched(info, build_page(rows, limit, lambda t: id_cursor("Task", t.id), after, count))
