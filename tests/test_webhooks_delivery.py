"""Webhook deliveries: retries on the row's schedule with the same webhook-id, FAILED after the last,
redelivery, order per lead, no redirects, a per-attempt timeout; and as the API lists them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import webhook_delivery
from domain.tx import transaction
from domain.webhooks import lead_finished
from engine import clock
from models import Lead, WebhookDelivery
from models.enums import StepType
from tests.engine_helpers import add_leads, make_campaign, make_identity, person, step
from tests.webhook_helpers import REDELIVER, DeliveryPump, listed, subscribe
from tests.webhook_receiver import Receiver


@pytest.fixture
def now(frozen: Any) -> Any:
    """The frozen clock, set to the wall clock's now (events of mutations carry the wall clock's time)."""
    frozen.set(datetime.now(UTC).replace(microsecond=0))
    return frozen


async def _one_event(workspace: Any, lead: Lead | None = None) -> Lead:
    """A LEAD_FINISHED event for a (new) lead, written as the domain writes it."""
    ws, _ = workspace
    if lead is None:
        campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.TASK, title="T")])
        (lead,) = await add_leads(ws, campaign, [person(1)])
    async with transaction():
        lead_finished(await Lead.get(id=lead.id), clock.now())
    return lead


async def test_a_delivery_that_failed_twice_then_succeeded(
    gql: Any, workspace: Any, now: Any, deliveries: DeliveryPump, receiver: Receiver
) -> None:
    await subscribe(gql, receiver)
    receiver.fail_next = 2
    await _one_event(workspace)
    assert await deliveries.run() == ["failed"]
    (page,) = await listed(gql)
    first = page["nodes"][0]
    assert (first["status"], first["attempts"], first["responseStatus"]) == ("PENDING", 1, 503)
    assert datetime.fromisoformat(first["nextAttemptAt"]) == now.now() + timedelta(seconds=5)

    now.advance(seconds=4)
    assert await deliveries.run() == []  # not due yet: the wait is the row's, not a broker's
    now.advance(seconds=1)
    assert await deliveries.run() == ["failed"]
    now.advance(seconds=29)
    assert await deliveries.run() == []
    now.advance(seconds=1)
    assert await deliveries.run() == ["succeeded"]

    arrivals = receiver.at("/hook")
    assert [a.answered for a in arrivals] == [503, 503, 204]
    assert len({a.webhook_id for a in arrivals}) == 1  # the same webhook-id on every attempt
    assert all(a.verified for a in arrivals)
    (page,) = await listed(gql)
    (shown,) = page["nodes"]
    assert (shown["status"], shown["attempts"], shown["responseStatus"], shown["nextAttemptAt"]) == (
        "SUCCEEDED",
        3,
        204,
        None,
    )
    assert shown["eventId"] == arrivals[0].webhook_id and json.loads(shown["payload"]) == arrivals[0].json
    row = await WebhookDelivery.get()
    assert [entry["status"] for entry in row.log] == [503, 503, 204]
    print("\nthe API lists:", json.dumps({k: v for k, v in shown.items() if k != "payload"}, indent=1))
    print("its attempts:", json.dumps(row.log, indent=1))


async def test_failed_after_the_last_attempt_at_least_a_day_later(
    gql: Any, workspace: Any, now: Any, deliveries: DeliveryPump, receiver: Receiver
) -> None:
    await subscribe(gql, receiver)
    receiver.fail_next, receiver.fail_status = 10**6, 500
    await _one_event(workspace)
    start = now.now()
    assert await deliveries.run() == ["failed"]
    for delay in webhook_delivery.RETRY_DELAYS:
        now.advance(seconds=delay - 1)
        assert await deliveries.run() == []
        now.advance(seconds=1)
        assert await deliveries.run() == ["failed"]
    row = await WebhookDelivery.get()
    assert (row.status, row.attempts, row.next_attempt_at) == ("FAILED", webhook_delivery.MAX_ATTEMPTS, None)
    assert row.last_attempt_at - start >= timedelta(days=1)
    assert len(receiver.at("/hook")) == webhook_delivery.MAX_ATTEMPTS
    now.advance(days=2)
    assert await deliveries.run() == []  # FAILED is final
    (page,) = await listed(gql, status="FAILED")
    assert page["totalCount"] == 1 and page["nodes"][0]["responseStatus"] == 500


async def test_redelivery_is_a_new_delivery_with_the_same_event_id(
    gql: Any, workspace: Any, now: Any, deliveries: DeliveryPump, receiver: Receiver
) -> None:
    await subscribe(gql, receiver)
    await _one_event(workspace)
    await deliveries.run()
    (page,) = await listed(gql)
    original = page["nodes"][0]
    data = await gql(REDELIVER, {"id": original["id"]})
    again = data["redeliverWebhook"]["delivery"]
    assert again["id"] != original["id"] and again["eventId"] == original["eventId"]
    assert (again["status"], again["attempts"]) == ("PENDING", 0)
    assert await deliveries.run() == ["succeeded"]
    first, second = receiver.at("/hook")
    assert first.webhook_id == second.webhook_id and first.body == second.body and second.verified
    (page,) = await listed(gql)
    assert [n["id"] for n in page["nodes"]] == [again["id"], original["id"]]  # newest first
    (one,) = await listed(gql, first=1)
    assert one["pageInfo"]["hasNextPage"] and one["totalCount"] == 2
    (rest,) = await listed(gql, first=1, after=one["pageInfo"]["endCursor"])
    assert [n["id"] for n in rest["nodes"]] == [original["id"]] and not rest["pageInfo"]["hasNextPage"]


async def test_a_receiver_back_from_down_gets_each_leads_events_in_order(
    gql: Any, workspace: Any, now: Any, deliveries: DeliveryPump, receiver: Receiver
) -> None:
    await subscribe(gql, receiver)
    receiver.fail_next = 10**6
    lead = await _one_event(workspace)
    await deliveries.run()  # the first event fails: the receiver is down
    for _ in range(3):
        await _one_event(workspace, lead)  # later events of the same lead wait behind it, unclaimed
    assert await deliveries.run() == []
    now.advance(seconds=5)
    assert await deliveries.run() == ["failed"]  # only the oldest is tried
    receiver.fail_next = 0
    now.advance(seconds=30)
    for _ in range(5):
        await deliveries.run()
    rows = await WebhookDelivery.all().order_by("id")
    assert [r.status for r in rows] == ["SUCCEEDED"] * 4
    ok = [a.webhook_id for a in receiver.at("/hook") if a.answered == 204]
    assert ok == [r.event_id for r in rows]  # in the order the events happened


async def test_redirects_are_not_followed_and_a_slow_receiver_times_out(
    gql: Any, workspace: Any, now: Any, deliveries: DeliveryPump, receiver: Receiver, monkeypatch: Any
) -> None:
    await subscribe(gql, receiver, "/redirect")
    await _one_event(workspace)
    assert await deliveries.run() == ["failed"]
    row = await WebhookDelivery.get()
    assert (row.status, row.response_status) == ("PENDING", 302)
    assert receiver.at("/elsewhere") == []
    await WebhookDelivery.all().delete()

    monkeypatch.setattr(webhook_delivery, "ATTEMPT_TIMEOUT", 0.3)
    receiver.slow_seconds = 1.5
    await subscribe(gql, receiver, "/slow")
    await _one_event(workspace)
    await deliveries.run()
    slow = await WebhookDelivery.filter(status="PENDING", response_status=None).get()
    assert slow.attempts == 1 and "no answer" in slow.log[0]["error"]
