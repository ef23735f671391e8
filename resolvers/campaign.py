"""Campaign mutations: create, update, the lifecycle, duplicate, delete."""

from __future__ import annotations

import strawberry

from resolvers.context import Info
from schema.inputs import CreateCampaignInput, UpdateCampaignInput
from schema.payloads import CampaignPayload, DeleteCampaignPayload


async def create_campaign(info: Info, input: CreateCampaignInput) -> CampaignPayload:
    raise NotImplementedError


async def update_campaign(info: Info, id: strawberry.ID, input: UpdateCampaignInput) -> CampaignPayload:
    raise NotImplementedError


async def launch_campaign(info: Info, id: strawberry.ID) -> CampaignPayload:
    raise NotImplementedError


async def pause_campaign(info: Info, id: strawberry.ID) -> CampaignPayload:
    raise NotImplementedError


async def resume_campaign(info: Info, id: strawberry.ID) -> CampaignPayload:
    raise NotImplementedError


async def duplicate_campaign(
    info: Info, id: strawberry.ID, name: str | None = None, include_leads: bool | None = False
) -> CampaignPayload:
    raise NotImplementedError


async def archive_campaign(info: Info, id: strawberry.ID) -> CampaignPayload:
    raise NotImplementedError


async def delete_campaign(info: Info, id: strawberry.ID) -> DeleteCampaignPayload:
    raise NotImplementedError
