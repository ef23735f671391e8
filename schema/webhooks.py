"""Webhooks (contract r2): the subscriptions, their deliveries, the inputs and payloads of their mutations.

Declarative, like schema/types.py: the one field with logic (`Webhook.deliveries`) is resolved in
resolvers/webhook_fields.py. Backed by the ORM rows (models/webhook.py).
"""

from __future__ import annotations

from datetime import datetime

import strawberry

import models
from domain.ids import to_global_id
from models.webhook import WebhookDeliveryStatus, WebhookEvent
from resolvers import webhook_fields as f
from schema.payloads import UserError
from schema.types import Node, _connection, _is

# The models' own classes, marked in place (as schema/enums.py does), so they stay usable as types.
strawberry.enum(WebhookEvent, description="What a webhook can subscribe to.")
strawberry.enum(
    WebhookDeliveryStatus,
    description="PENDING until it succeeds (a 2xx answer) or its last attempt fails.",
)


@strawberry.type(description="One event sent (or being sent) to one webhook, with the state of its attempts.")
class WebhookDelivery(Node):
    is_type_of = _is(models.WebhookDelivery)
    event_id: str = strawberry.field(
        description="The Standard Webhooks `webhook-id`: the same on every attempt and redelivery of one event."
    )
    event: WebhookEvent
    status: WebhookDeliveryStatus
    attempts: int
    response_status: int | None = strawberry.field(
        description="The receiver's last HTTP status; null when it could not be reached."
    )
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    payload: str = strawberry.field(description="The JSON body as sent.")

    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("WebhookDelivery", self.id))


WebhookDeliveryEdge, WebhookDeliveryConnection = _connection("WebhookDelivery", WebhookDelivery)


@strawberry.type(
    description="An HTTPS (or, where the server allows it, HTTP) endpoint that receives signed event deliveries."
)
class Webhook(Node):
    is_type_of = _is(models.Webhook)
    url: str
    events: list[WebhookEvent] = strawberry.field(resolver=f.webhook_events)
    campaign_ids: list[strawberry.ID] | None = strawberry.field(
        resolver=f.webhook_campaign_ids, description="Only these campaigns' events; null: every campaign's."
    )
    enabled: bool
    created_at: datetime
    deliveries: WebhookDeliveryConnection = strawberry.field(  # type: ignore[valid-type]
        resolver=f.webhook_deliveries, description="Newest first."
    )

    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Webhook", self.id))


@strawberry.input(description="A new webhook.")
class WebhookInput:
    url: str
    events: list[WebhookEvent]
    campaign_ids: list[strawberry.ID] | None = None


@strawberry.input(description="Changes to a webhook; an omitted field keeps its value.")
class WebhookUpdateInput:
    url: str | None = strawberry.UNSET
    events: list[WebhookEvent] | None = strawberry.UNSET
    campaign_ids: list[strawberry.ID] | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET


@strawberry.type(description="Result of createWebhook.")
class CreateWebhookPayload:
    webhook: Webhook | None = None
    secret: str | None = strawberry.field(default=None, description="whsec_..., shown this once.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of updateWebhook.")
class WebhookPayload:
    webhook: Webhook | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of deleteWebhook.")
class DeleteWebhookPayload:
    deleted_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of redeliverWebhook.")
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
