"""Campaign mutations: create, update, the lifecycle, duplicate, delete.

Thin: decode IDs and inputs to plain values, call domain/lifecycle.py, build the payload. Expected failures
come back as UserErrors; the domain has rolled back whatever it had started.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from domain import lifecycle
from domain.errors import DomainError, DomainErrors
from domain.ids import decode_id, to_global_id
from resolvers.context import Info
from resolvers.errors import user_errors
from schema.inputs import CreateCampaignInput, UpdateCampaignInput
from schema.payloads import CampaignPayload, DeleteCampaignPayload

#: Decodes to no row at all: a malformed ID given where "none" (null) would mean something else.
BAD_ID = 0


def plain(value: Any) -> Any:
    """A strawberry input as plain data: dicts with snake_case keys, omitted (UNSET) fields left out.

    An explicit null stays (None), so updates can tell "clear it" from "leave it".
    """
    if isinstance(value, list):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not strawberry.UNSET
        }
    return value


def decode_optional(global_id: Any, type_name: str) -> int | None:
    """None stays None (no object); a malformed or foreign-typed ID becomes BAD_ID (not found)."""
    if global_id is None:
        return None
    pk = decode_id(global_id, type_name)
    return BAD_ID if pk is None else pk


def _decode_step_updates(updates: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if updates is None:
        return None
    return [{**u, "step_id": decode_id(u["step_id"], "SequenceStep")} for u in updates]


async def _campaign_payload(call: Callable[[], Awaitable[Any]]) -> CampaignPayload:
    try:
        return CampaignPayload(campaign=await call())
    except (DomainError, DomainErrors) as exc:
        return CampaignPayload(campaign=None, errors=user_errors(exc))


async def create_campaign(info: Info, input: CreateCampaignInput) -> CampaignPayload:
    data = plain(input)
    return await _campaign_payload(
        lambda: lifecycle.create_campaign(
            info.context.workspace_id,
            data["name"],
            decode_optional(data.get("identity_id"), "Identity"),
            data.get("steps"),
            data.get("track_clicks") is not False,
        )
    )


async def update_campaign(info: Info, id: strawberry.ID, input: UpdateCampaignInput) -> CampaignPayload:
    changes = plain(input)
    if "identity_id" in changes:
        changes["identity_id"] = decode_optional(changes["identity_id"], "Identity")
    if "steps" in changes and changes["steps"] is None:
        changes.pop("steps")  # null: no change (an empty list clears the sequence)
    if "step_updates" in changes and changes["step_updates"] is None:
        changes.pop("step_updates")
    if "step_updates" in changes:
        changes["step_updates"] = _decode_step_updates(changes["step_updates"])
    return await _campaign_payload(
        lambda: lifecycle.update_campaign(info.context.workspace_id, decode_id(id, "Campaign"), changes)
    )


async def launch_campaign(info: Info, id: strawberry.ID) -> CampaignPayload:
    return await _campaign_payload(
        lambda: lifecycle.launch_campaign(info.context.workspace_id, decode_id(id, "Campaign"))
    )


async def pause_campaign(info: Info, id: strawberry.ID) -> CampaignPayload:
    return await _campaign_payload(
        lambda: lifecycle.pause_campaign(info.context.workspace_id, decode_id(id, "Campaign"))
    )


async def resume_campaign(info: Info, id: strawberry.ID) -> CampaignPayload:
    return await _campaign_payload(
        lambda: lifecycle.resume_campaign(info.context.workspace_id, decode_id(id, "Campaign"))
    )


async def duplicate_campaign(
    info: Info, id: strawberry.ID, name: str | None = None, include_leads: bool | None = False
) -> CampaignPayload:
    return await _campaign_payload(
        lambda: lifecycle.duplicate_campaign(
            info.context.workspace_id, decode_id(id, "Campaign"), name, bool(include_leads)
        )
    )


async def archive_campaign(info: Info, id: strawberry.ID) -> CampaignPayload:
    return await _campaign_payload(
        lambda: lifecycle.archive_campaign(info.context.workspace_id, decode_id(id, "Campaign"))
    )


async def delete_campaign(info: Info, id: strawberry.ID) -> DeleteCampaignPayload:
    try:
        deleted = await lifecycle.delete_campaign(info.context.workspace_id, decode_id(id, "Campaign"))
    except (DomainError, DomainErrors) as exc:
        return DeleteCampaignPayload(deleted_id=None, errors=user_errors(exc))
    return DeleteCampaignPayload(deleted_id=strawberry.ID(to_global_id("Campaign", deleted)))
