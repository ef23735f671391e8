"""Webhook's fields with logic: its events and campaigns as the contract names them, its deliveries."""

from __future__ import annotations

from typing import Any

import strawberry

from domain import webhooks
from domain.ids import to_global_id
from models import Webhook
from models.webhook import WebhookDeliveryStatus, WebhookEvent
from resolvers.context import Info
from resolvers.pagination import Page, build_page, check_first, decode_id_cursor, id_cursor

CURSOR = "webhook_delivery"


def webhook_events(root: Webhook) -> list[WebhookEvent]:
    return [WebhookEvent(e) for e in root.events]


def webhook_campaign_ids(root: Webhook) -> list[strawberry.ID] | None:
    if root.campaign_ids is None:
        return None
    return [strawberry.ID(to_global_id("Campaign", i)) for i in root.campaign_ids]


async def webhook_deliveries(
    root: Webhook,
    info: Info,
    status: WebhookDeliveryStatus | None = None,
    first: int | None = 20,
    after: str | None = None,
) -> Page:
    limit = check_first(first, 20)
    before_id = decode_id_cursor(after, CURSOR)
    status = WebhookDeliveryStatus(status) if status is not None else None
    rows = await webhooks.deliveries_page(root, status, limit + 1, before_id)

    async def count() -> int:
        return await webhooks.count_deliveries(root, status)

    def cursor_of(row: Any) -> str:
        return id_cursor(CURSOR, row.id)

    return build_page(rows, limit, cursor_of, after, count)
