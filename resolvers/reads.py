"""The read side behind the Campaign View: sequence, stats, audience, activity, tasks, timelines.

Every list is keyset-paginated (resolvers/pagination.py): one query per page and one COUNT, or a counter
read where the counters already hold the number (audience by status/substatus/step, tasks by status), so
`totalCount` stays flat however large the campaign is. Each list's filter is built once, as one
`fastread.Where` (models/fastread.py): its page adds the cursor to a copy, its COUNT uses it as it is, so
the rows and `totalCount` cannot disagree. The relations a page's selection asks for are
prefetched onto its rows (resolvers/prefetch.py): one query per relation, whatever the page's size.
Every query is scoped to the request's workspace; an ID of another workspace, of the wrong type or
malformed filters to nothing, exactly like an ID that does not exist.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, TypeGuard, TypeVar

from strawberry import UNSET

from compat import raw_info
from domain import counters as c
from domain import validation
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


T = TypeVar("T")


def given(value: T | None) -> TypeGuard[T]:
    """Whether an optional input field was set to something (UNSET and null both mean 'no filter')."""
    return value is not None and value is not UNSET


def _like(term: str) -> str:
    """A LIKE pattern matching `term` anywhere, its own `%`, `_` and `\\` taken literally (ESCAPE '\\')."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def icontains(columns: tuple[str, ...], term: str) -> tuple[str, list[str]]:
    """A condition (with its `{}` markers) that one of `columns` contains `term`, case-insensitively: the SQL
    Tortoise writes for `__icontains`, on both backends."""
    clause = " OR ".join(f"UPPER(CAST(\"{col}\" AS VARCHAR)) LIKE UPPER({{}}) ESCAPE '\\'" for col in columns)
    return f"({clause})", [_like(term)] * len(columns)


def check_search(search: str) -> str:
    """A `search` argument: at most validation.SEARCH characters, no control characters (BAD_USER_INPUT)."""
    return validation.argument_text(search, "search", validation.SEARCH) or ""


def add_search(
    condition: fastread.Where, search: str, *, through: str | None = None, workspace_id: int | None = None
) -> None:
    """Every whitespace-separated term must match one of the contact's name, email or company: "ada love"
    finds Ada Lovelace, as each term matches a column. `through`: the column holding the contact's id (a
    lead's `contact_id`), for a table other than `contact`; the contacts are then looked up in `workspace_id`."""
    terms = check_search(search).split()
    if not terms:
        return
    parts = [icontains(CONTACT_SEARCH_FIELDS, term) for term in terms]
    clause = " AND ".join(sql for sql, _ in parts)
    values = [v for _, vs in parts for v in vs]
    if through is None:
        condition.add(clause, *values)
    else:
        condition.add(
            f'"{through}" IN (SELECT "id" FROM "contact" WHERE "workspace_id" = {{}} AND {clause})',
            workspace_id,
            *values,
        )


# ------------------------------------------------------------------ Overview


async def campaign_sequence(info: Info, campaign: Campaign) -> list[SequenceStep]:
    """The steps in order; with each one's `leadCount` attached when the selection asks for it (one counters
    read, the one `stats` uses, rather than one awaited resolver per step)."""
    loaders = info.context.loaders
    assert loaders is not None, "an authenticated context has its loaders"
    steps = await loaders.sequence.load(campaign.id)
    if steps and "leadCount" in connection_fields(info):
        numbers, _, _ = await loaders.counters.load(campaign.id)
        for step in steps:
            attach(step, "leadCount", numbers.get(c.step_key(step.id), 0))
    return steps


async def campaign_stats(info: Info, campaign: Campaign) -> CampaignStats:
    loaders = info.context.loaders
    assert loaders is not None, "an authenticated context has its loaders"
    steps = await loaders.sequence.load(campaign.id)
    numbers, version, updated_at = await loaders.counters.load(campaign.id)
    return build_stats(campaign.id, numbers, version, updated_at, [s.id for s in steps], campaign.created_at)


async def step_lead_count(info: Info, step: SequenceStep) -> int:
    """From the counters (key `step:{id}`), read once per campaign per request: leads are never counted."""
    loaders = info.context.loaders
    assert loaders is not None, "an authenticated context has its loaders"
    numbers, _, _ = await loaders.counters.load(step.campaign_id)
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


def audience_filter(
    campaign: Campaign, workspace_id: int, filter: Any
) -> tuple[fastread.Where, str | bool | None] | None:
    """The audience's filter (removed leads excluded), and the counter that holds its size (see
    `_audience_counter_key`; None: count the rows). None: the filter names an ID that cannot match."""
    condition = fastread.where().equals("campaign_id", campaign.id).equals("workspace_id", workspace_id)
    condition.add('"removed_at" IS NULL')
    status = substatus = step_id = None
    searched = False
    if filter is not None:
        if given(filter.status):
            status = filter.status
        if given(filter.substatus):
            substatus = filter.substatus
        if given(filter.step_id):
            step_id = decode_id(filter.step_id, "SequenceStep")
            if step_id is None:
                return None
        if given(filter.search) and filter.search.split():
            add_search(condition, filter.search, through="contact_id", workspace_id=workspace_id)
            searched = True
    for column, value in (("status", status), ("substatus", substatus), ("current_step_id", step_id)):
        if value is not None:
            condition.equals(column, fastread.db_value(Lead, column, value))
    return condition, None if searched else _audience_counter_key(status, substatus, step_id)


async def campaign_audience(info: Info, campaign: Campaign, filter: Any, first: int | None, after: str | None) -> Page:
    """Leads in the campaign (removed ones excluded), oldest first (by id)."""
    limit = check_first(first, 50)
    after_id = decode_id_cursor(after, "Lead")
    built = audience_filter(campaign, info.context.workspace_id, filter)
    if built is None:
        return empty_page()
    condition, key = built
    page_condition = condition.copy()
    if after_id is not None:
        page_condition.add('"id" > {}', after_id)
    fields = connection_fields(info)
    # Only the columns the page's selection reads, when that is known (resolvers/prefetch.py).
    only = needed_columns(raw_info(info).schema, Lead, connection_nodes(fields))
    rows = await fastread.select(Lead, page_condition, order_by=("id",), limit=limit + 1, only=only)

    async def count() -> int:
        if key is False:
            return 0
        if key is None:
            return await fastread.count(Lead, condition)
        loaders = info.context.loaders
        assert loaders is not None, "an authenticated context has its loaders"
        numbers, _, _ = await loaders.counters.load(campaign.id)
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


def activity_filter(campaign_id: int, workspace_id: int, filter: Any) -> fastread.Where | None:
    """The Activity log's filter; None when it names an ID that cannot match anything (or no kind)."""
    condition = fastread.where().equals("campaign_id", campaign_id).equals("workspace_id", workspace_id)
    if filter is None:
        return condition
    for attr, type_name, column in _ACTIVITY_ID_FILTERS:
        value = getattr(filter, attr)
        if given(value):
            pk = decode_id(value, type_name)
            if pk is None:
                return None
            condition.equals(column, pk)
    if given(filter.kinds):
        if not filter.kinds:
            return None
        condition.among("kind", [fastread.db_value(Activity, "kind", k) for k in filter.kinds])
    if given(filter.from_):
        at = validation.argument_moment(filter.from_, "from")
        condition.add('"occurred_at" >= {}', fastread.db_value(Activity, "occurred_at", at))
    if given(filter.to):
        at = validation.argument_moment(filter.to, "to")
        condition.add('"occurred_at" < {}', fastread.db_value(Activity, "occurred_at", at))
    return condition


def activity_after(condition: fastread.Where, at: datetime, pk: int) -> None:
    """Only the entries after (older than) the entry (at, pk) in the Activity log's order."""
    at = fastread.db_value(Activity, "occurred_at", at)
    # (occurred_at, id) < (at, pk), written so that the index range starts at `at` on both backends.
    condition.add('"occurred_at" <= {} AND ("occurred_at" < {} OR "id" < {})', at, at, pk)


async def campaign_activity(info: Info, campaign: Campaign, filter: Any, first: int | None, after: str | None) -> Page:
    """The Activity log, newest first by (occurred_at, id)."""
    limit = check_first(first, 50)
    position = decode_time_cursor(after, "Activity")
    condition = activity_filter(campaign.id, info.context.workspace_id, filter)
    if condition is None:
        return empty_page()
    page_condition = condition.copy()
    if position is not None:
        activity_after(page_condition, *position)
    rows = await fastread.select(Activity, page_condition, order_by=("-occurred_at", "-id"), limit=limit + 1)

    async def count() -> int:
        return await fastread.count(Activity, condition)

    page = build_page(rows, limit, lambda a: time_cursor("Activity", a.occurred_at, a.id), after, count)
    return await _prefetched(info, page)


# ------------------------------------------------------------------ Tasks


async def campaign_tasks(info: Info, campaign: Campaign, status: Any, first: int | None, after: str | None) -> Page:
    """The campaign's tasks (of leads still in it), oldest first (by id)."""
    limit = check_first(first, 50)
    after_id = decode_id_cursor(after, "Task")
    condition = fastread.where().equals("campaign_id", campaign.id).equals("workspace_id", info.context.workspace_id)
    condition.add(
        '"lead_id" IN (SELECT "id" FROM "lead" WHERE "campaign_id" = {} AND "removed_at" IS NULL)', campaign.id
    )
    if status is not None:
        condition.equals("status", fastread.db_value(Task, "status", status))
    if after_id is not None:
        condition.add('"id" > {}', after_id)
    rows = await fastread.select(Task, condition, order_by=("id",), limit=limit + 1)

    async def count() -> int:
        # The counters count exactly these (the filter above without the cursor): tasks of leads not
        # removed, by status (tests/test_reads_totals.py checks that they agree).
        loaders = info.context.loaders
        assert loaders is not None, "an authenticated context has its loaders"
        numbers, _, _ = await loaders.counters.load(campaign.id)
        wanted = [TaskStatus(status)] if status is not None else list(TaskStatus)
        return sum(numbers.get(c.task_key(s), 0) for s in wanted)

    return await _prefetched(info, build_page(rows, limit, lambda t: id_cursor("Task", t.id), after, count))
