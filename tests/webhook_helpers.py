"""Fixtures and drivers for the webhook tests: a receiver, a deterministic delivery pump, GraphQL helpers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from domain import tx, webhook_delivery, webhooks
from domain.webhooks import SendWebhooks
from engine import clock
from tests.webhook_receiver import Receiver, ReceiverServer

ALL_EVENTS = [
    "LEAD_REPLIED",
    "LEAD_BOUNCED",
    "LEAD_UNSUBSCRIBED",
    "LEAD_FINISHED",
    "LEAD_ERROR",
    "TASK_CREATED",
    "CAMPAIGN_STATUS_CHANGED",
]

CREATE = """mutation($input: WebhookInput!) { createWebhook(input: $input) {
  webhook { id url events campaignIds enabled createdAt } secret errors { code message field } } }"""
UPDATE = """mutation($id: ID!, $input: WebhookUpdateInput!) { updateWebhook(id: $id, input: $input) {
  webhook { id url events campaignIds enabled } errors { code message field } } }"""
DELETE = "mutation($id: ID!) { deleteWebhook(id: $id) { deletedId errors { code message } } }"
REDELIVER = """mutation($id: ID!) { redeliverWebhook(deliveryId: $id) {
  delivery { id eventId event status attempts } errors { code message } } }"""
DELIVERIES = """query($status: WebhookDeliveryStatus, $first: Int = 20, $after: String) { webhooks { id
  deliveries(status: $status, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
  nodes { id eventId event status attempts responseStatus lastAttemptAt nextAttemptAt payload } } } }"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ReceiverServer()
    yield server.start()
    server.stop()


class DeliveryPump:
    """Collects the deliveries that this process would send to workers, and attempts them in order."""

    def __init__(self) -> None:
        self.inbox: list[int] = []
        self.results: list[str] = []

    async def collect(self, message: SendWebhooks) -> None:
        self.inbox.extend(message.delivery_ids)

    async def run(self, now: datetime | None = None) -> list[str]:
        """The scheduler's webhook part at `now` (or the clock's), then every attempt it handed on."""
        now = now or clock.now()
        await webhook_delivery.send_due(now)
        done = []
        while self.inbox:
            done.append(await webhook_delivery.attempt(self.inbox.pop(0), now))
        self.results += done
        return done


@pytest.fixture
def deliveries() -> Iterator[DeliveryPump]:
    """Loopback receivers allowed (WEBHOOK_ALLOW_PRIVATE=true, as the tests' receiver needs) and deliveries
    run by a DeliveryPump instead of a broker."""
    pump = DeliveryPump()
    previous = tx.set_handler(SendWebhooks, pump.collect)
    webhooks.configure(allow_private=True)
    yield pump
    webhooks.configure(allow_private=False)
    tx.set_handler(SendWebhooks, previous)


async def create_webhook(gql: Any, url: str, events: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    data = await gql(CREATE, {"input": {"url": url, "events": events or ALL_EVENTS, **extra}})
    payload = data["createWebhook"]
    assert payload["errors"] == [], payload
    return payload


async def subscribe(gql: Any, receiver: Receiver, path: str = "/hook", **extra: Any) -> dict[str, Any]:
    """A webhook to `receiver` at `path` whose secret the receiver verifies with."""
    payload = await create_webhook(gql, receiver.url(path), **extra)
    receiver.secrets[path] = payload["secret"]
    return payload["webhook"]


async def listed(gql: Any, **variables: Any) -> list[dict[str, Any]]:
    """Every webhook's deliveries as the API lists them (newest first)."""
    data = await gql(DELIVERIES, variables)
    return [hook["deliveries"] for hook in data["webhooks"]]
