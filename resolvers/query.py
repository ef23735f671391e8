"""Root Query resolvers."""

from __future__ import annotations

from typing import Any

import strawberry

from domain.ids import decode_id
from models import Campaign, Identity, Lead
from resolvers.context import Info
from schema.inputs import CampaignFilter


def viewer(info: Info) -> Any:
    return info.context.workspace


async def node(info: Info, id: strawberry.ID) -> Any:
    raise NotImplementedError


async def campaigns(
    info: Info, filter: CampaignFilter | None = None, first: int | None = 20, after: str | None = None
) -> Any:
    raise NotImplementedError


async def campaign(info: Info, id: strawberry.ID) -> Any:
    pk = decode_id(id, "Campaign")
    return None if pk is None else await Campaign.get_or_none(id=pk, workspace_id=info.context.workspace_id)


async def lead(info: Info, id: strawberry.ID) -> Any:
    pk = decode_id(id, "Lead")
    if pk is None:
        return None
    return await Lead.get_or_none(id=pk, workspace_id=info.context.workspace_id, removed_at=None)


async def identities(info: Info) -> list[Any]:
    return await Identity.filter(workspace_id=info.context.workspace_id).order_by("id")


async def contacts(info: Info, search: str | None = None, first: int | None = 50, after: str | None = None) -> Any:
    raise NotImplementedError
