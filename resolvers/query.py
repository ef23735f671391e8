"""Root Query resolvers. Every one sees only the request's workspace: a foreign or malformed ID is null."""

from __future__ import annotations

from typing import Any

import strawberry

from domain.ids import decode_id, parse_global_id
from models import (
    Activity,
    ApiKey,
    Campaign,
    Contact,
    Identity,
    Lead,
    SequenceStep,
    Suppression,
    Task,
    Webhook,
    WebhookDelivery,
    Workspace,
    fastread,
)
from models.enums import CampaignStatus
from resolvers.context import Info
from resolvers.pagination import Page, build_page, check_first, decode_id_cursor, id_cursor
from resolvers.prefetch import prefetch
from resolvers.reads import add_search, check_search, given, icontains
from schema.inputs import CampaignFilter


async def viewer(info: Info) -> Any:
    return await _workspace(info)


async def _workspace(info: Info) -> Workspace | None:
    """The request's workspace as stored now: the one on the context may come from the key cache (KeyCache)."""
    ctx = info.context
    return await Workspace.get_or_none(id=ctx.workspace_id) or ctx.workspace


async def node(info: Info, id: strawberry.ID) -> Any:
    parsed = parse_global_id(id)
    if parsed is None:
        return None
    type_name, pk = parsed
    ctx = info.context
    ws = ctx.workspace_id
    assert ctx.loaders is not None, "an authenticated context has its loaders"
    if type_name == "Workspace":
        return await _workspace(info) if pk == ws else None
    if type_name == "Campaign":
        return await ctx.loaders.campaign.load(pk)
    if type_name == "Contact":
        return await ctx.loaders.contact.load(pk)
    if type_name == "Identity":
        return await ctx.loaders.identity.load(pk)
    if type_name == "Lead":
        found = await ctx.loaders.lead.load(pk)
        return found if found is not None and found.removed_at is None else None
    if type_name == "SequenceStep":
        # Steps carry no workspace of their own: their campaign's says whose they are.
        return await SequenceStep.filter(id=pk, campaign__workspace_id=ws).first()
    if type_name == "Activity":
        return await Activity.get_or_none(id=pk, workspace_id=ws)
    if type_name == "Task":
        return await Task.get_or_none(id=pk, workspace_id=ws)
    if type_name == "Webhook":
        return await Webhook.get_or_none(id=pk, workspace_id=ws)
    if type_name == "WebhookDelivery":
        return await WebhookDelivery.get_or_none(id=pk, workspace_id=ws)
    if type_name == "ApiKey":
        return await ApiKey.get_or_none(id=pk, workspace_id=ws)
    if type_name == "Suppression":
        return await Suppression.get_or_none(id=pk, workspace_id=ws)
    return None


async def campaigns(
    info: Info, filter: CampaignFilter | None = None, first: int | None = 20, after: str | None = None
) -> Page:
    """Newest first (by id). ARCHIVED ones only when filter.statuses names ARCHIVED."""
    limit = check_first(first, 20)
    after_id = decode_id_cursor(after, "Campaign")
    condition = fastread.where().equals("workspace_id", info.context.workspace_id)
    statuses = filter.statuses if filter is not None and given(filter.statuses) else None
    if statuses is not None:
        condition.among("status", [fastread.db_value(Campaign, "status", s) for s in statuses])
    else:
        condition.add('"status" <> {}', fastread.db_value(Campaign, "status", CampaignStatus.ARCHIVED))
    if filter is not None and given(filter.search) and check_search(filter.search).strip():
        sql, values = icontains(("name",), filter.search.strip())
        condition.add(sql, *values)
    page_condition = condition.copy()
    if after_id is not None:
        page_condition.add('"id" < {}', after_id)
    rows = await fastread.select(Campaign, page_condition, order_by=("-id",), limit=limit + 1)

    async def count() -> int:
        return await fastread.count(Campaign, condition)

    return build_page(rows, limit, lambda row: id_cursor("Campaign", row.id), after, count)


async def campaign(info: Info, id: strawberry.ID) -> Campaign | None:
    pk = decode_id(id, "Campaign")
    loaders = info.context.loaders
    assert loaders is not None, "an authenticated context has its loaders"
    return None if pk is None else await loaders.campaign.load(pk)


async def lead(info: Info, id: strawberry.ID) -> Lead | None:
    pk = decode_id(id, "Lead")
    if pk is None:
        return None
    loaders = info.context.loaders
    assert loaders is not None, "an authenticated context has its loaders"
    found = await loaders.lead.load(pk)
    if found is None or found.removed_at is not None:
        return None
    # The side panel: contact, campaign, steps and timeline in one round of queries, not one after another.
    await prefetch(info, [found], [s for field in info.selected_fields for s in field.selections])
    return found


async def identities(info: Info) -> list[Identity]:
    return await Identity.filter(workspace_id=info.context.workspace_id).order_by("id")


async def contacts(info: Info, search: str | None = None, first: int | None = 50, after: str | None = None) -> Page:
    """Oldest first (by id); search matches name, email or company, case-insensitively."""
    limit = check_first(first, 50)
    after_id = decode_id_cursor(after, "Contact")
    condition = fastread.where().equals("workspace_id", info.context.workspace_id)
    if given(search):
        add_search(condition, search)
    page_condition = condition.copy()
    if after_id is not None:
        page_condition.add('"id" > {}', after_id)
    rows = await fastread.select(Contact, page_condition, order_by=("id",), limit=limit + 1)

    async def count() -> int:
        return await fastread.count(Contact, condition)

    return build_page(rows, limit, lambda row: id_cursor("Contact", row.id), after, count)
