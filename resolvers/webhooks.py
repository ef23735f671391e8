"""webhooks, createWebhook, updateWebhook, deleteWebhook, redeliverWebhook: decode, call domain/webhooks.py."""

from __future__ import annotations

from typing import Any

import strawberry

from domain import webhooks
from domain.errors import DomainError, DomainErrors
from domain.ids import decode_id, to_global_id
from engine import clock
from models import Webhook
from resolvers.campaign import plain
from resolvers.context import Info
from resolvers.errors import user_errors
from schema.webhooks import (
    CreateWebhookPayload,
    DeleteWebhookPayload,
    WebhookDeliveryPayload,
    WebhookInput,
    WebhookPayload,
    WebhookUpdateInput,
)

#: A malformed or foreign campaign id stays in the list as "not found" (0 is never a pk).
NO_ID = 0


def _campaign_ids(ids: list[Any] | None) -> list[int] | None:
    return None if ids is None else [decode_id(i, "Campaign") or NO_ID for i in ids]


async def list_webhooks(info: Info) -> list[Webhook]:
    return await webhooks.list_webhooks(info.context.workspace_id)


async def create_webhook(info: Info, input: WebhookInput) -> CreateWebhookPayload:
    try:
        webhook, secret = await webhooks.create_webhook(
            info.context.workspace_id, input.url, input.events, _campaign_ids(input.campaign_ids)
        )
    except (DomainError, DomainErrors) as exc:
        return CreateWebhookPayload(errors=user_errors(exc))
    return CreateWebhookPayload(webhook=webhook, secret=secret)  # type: ignore[arg-type]  # the ORM row stands for its Strawberry type


async def update_webhook(info: Info, id: strawberry.ID, input: WebhookUpdateInput) -> WebhookPayload:
    changes = plain(input)
    if "campaign_ids" in changes:
        changes["campaign_ids"] = _campaign_ids(changes["campaign_ids"])
    try:
        webhook = await webhooks.update_webhook(info.context.workspace_id, decode_id(id, "Webhook"), changes)
    except (DomainError, DomainErrors) as exc:
        return WebhookPayload(errors=user_errors(exc))
    return WebhookPayload(webhook=webhook)  # type: ignore[arg-type]  # the ORM row stands for its Strawberry type


async def delete_webhook(info: Info, id: strawberry.ID) -> DeleteWebhookPayload:
    try:
        deleted = await webhooks.delete_webhook(info.context.workspace_id, decode_id(id, "Webhook"))
    except DomainError as exc:
        return DeleteWebhookPayload(errors=user_errors(exc))
    return DeleteWebhookPayload(deleted_id=strawberry.ID(to_global_id("Webhook", deleted)))


async def redeliver_webhook(info: Info, delivery_id: strawberry.ID) -> WebhookDeliveryPayload:
    try:
        delivery = await webhooks.redeliver(
            info.context.workspace_id, decode_id(delivery_id, "WebhookDelivery"), clock.now()
        )
    except DomainError as exc:
        return WebhookDeliveryPayload(errors=user_errors(exc))
    return WebhookDeliveryPayload(delivery=delivery)  # type: ignore[arg-type]  # the ORM row stands for its Strawberry type
