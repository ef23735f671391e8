"""Webhooks: a workspace's HTTP endpoints, and the outbox of signed deliveries made to them.

A `WebhookDelivery` row is written in the same transaction as the change it reports (an outbox), so an
event is never lost and never sent for a change that rolled back; the row then drives its own attempts
(`next_attempt_at`, claimed by the scheduler tick with a lease), so nothing depends on a broker message
surviving a restart.
"""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model

from models.workspace import Workspace


class WebhookEvent(str, Enum):
    LEAD_REPLIED = "LEAD_REPLIED"
    LEAD_BOUNCED = "LEAD_BOUNCED"
    LEAD_UNSUBSCRIBED = "LEAD_UNSUBSCRIBED"
    LEAD_FINISHED = "LEAD_FINISHED"
    LEAD_ERROR = "LEAD_ERROR"
    TASK_CREATED = "TASK_CREATED"
    CAMPAIGN_STATUS_CHANGED = "CAMPAIGN_STATUS_CHANGED"

    @property
    def type_name(self) -> str:
        """The body's `type`: LEAD_REPLIED is "lead.replied", CAMPAIGN_STATUS_CHANGED "campaign.status_changed"."""
        subject, _, what = self.value.lower().partition("_")
        return f"{subject}.{what}"


class WebhookDeliveryStatus(str, Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class Webhook(Model):
    id = fields.BigIntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="webhooks", on_delete=fields.CASCADE
    )
    workspace_id: int
    url = fields.CharField(max_length=2000)
    # WebhookEvent values.
    events: list[str] = fields.JSONField(default=list)
    # Campaign pks; null: every campaign's events.
    campaign_ids: list[int] | None = fields.JSONField(null=True)
    enabled = fields.BooleanField(default=True)
    # "whsec_" + base64 key. Kept as is, not hashed: every delivery is signed with it (HMAC needs the key
    # itself). The API returns it once, at creation.
    secret = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook"

    def wants(self, event: WebhookEvent, campaign_id: int | None) -> bool:
        if not self.enabled or event.value not in self.events:
            return False
        return self.campaign_ids is None or campaign_id in self.campaign_ids


class WebhookDelivery(Model):
    id = fields.BigIntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="webhook_deliveries", on_delete=fields.CASCADE
    )
    workspace_id: int
    webhook: fields.ForeignKeyRelation[Webhook] = fields.ForeignKeyField(
        "models.Webhook", related_name="deliveries", on_delete=fields.CASCADE
    )
    webhook_id: int
    # The Standard Webhooks `webhook-id` ("msg_..."): the same on every attempt and redelivery.
    event_id = fields.CharField(max_length=64)
    event = fields.CharEnumField(WebhookEvent, max_length=32)
    # The lead the event is about (none for a campaign's event): one webhook gets a lead's events in order.
    lead_id = fields.BigIntField(null=True)
    # The JSON body exactly as sent (and signed).
    payload = fields.TextField()
    status = fields.CharEnumField(WebhookDeliveryStatus, max_length=16, default=WebhookDeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    response_status = fields.IntField(null=True)
    last_attempt_at = fields.DatetimeField(null=True)
    # When a PENDING delivery is due (the scheduler tick claims it then); null once SUCCEEDED or FAILED.
    next_attempt_at = fields.DatetimeField(null=True)
    # A lease: the attempt in flight holds it; a worker that died leaves it to run out.
    claimed_until = fields.DatetimeField(null=True)
    # Every attempt: [{"at", "status" (HTTP or null), "error", "next" (its next attempt)}], oldest first.
    log: list[dict[str, object]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_delivery"
        indexes = (
            ("status", "next_attempt_at"),
            ("webhook_id", "id"),
            ("webhook_id", "lead_id", "status"),
            # A webhook's deliveries in flight, counted by every claim and outbox write (the per-receiver cap):
            # without it the count read every delivery the webhook ever had.
            ("webhook_id", "status", "claimed_until"),
        )
