"""The per-receiver cap as the claims see it: at most WEBHOOK_CONCURRENCY_PER_RECEIVER deliveries of a webhook
in flight, counting those already claimed (at write, by the tick, by an attempt handing on, by concurrent
claimers), oldest first, with a lead's events still in order and other webhooks unaffected.

(The same through real workers and a slow HTTP receiver: tests/test_webhooks_runtime.py.)"""

from __future__ import annotations

import asyncio
import contextvars
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from domain import webhook_delivery, webhooks
from domain.tx import transaction
from models import Webhook, WebhookDelivery
from models.webhook import WebhookEvent
from tests.webhook_helpers import DeliveryPump, subscribe
from tests.webhook_receiver import Receiver

CAP = webhooks.PER_RECEIVER


async def _write(webhook: Webhook, n: int, now: datetime, lead_id: int | None = None) -> list[int]:
    """N deliveries to `webhook`, written as the outbox writes them (claimed at once while under the cap, and
    those handed on after the commit)."""
    ids = []
    async with transaction():
        for i in range(n):
            body = json.dumps({"type": "lead.finished", "data": {"n": i}})
            delivery = await webhooks._insert(
                webhook.id, webhook.workspace_id, WebhookEvent.LEAD_FINISHED, f"msg_{webhook.id}_{lead_id}_{i}",
                lead_id, body, now,
            )  # fmt: skip
            ids.append(delivery.id)
    return ids


async def _in_flight(webhook: Webhook, now: datetime) -> list[int]:
    rows = WebhookDelivery.filter(webhook_id=webhook.id, status="PENDING", claimed_until__gt=now)
    return sorted(await rows.values_list("id", flat=True))


async def _hooks(gql: Any, receiver: Receiver) -> tuple[Webhook, Webhook]:
    await subscribe(gql, receiver, "/a")
    await subscribe(gql, receiver, "/b")
    return await Webhook.get(url=receiver.url("/a")), await Webhook.get(url=receiver.url("/b"))


async def test_claims_stop_at_the_cap_counting_those_in_flight_and_take_the_oldest(
    gql: Any, deliveries: DeliveryPump, receiver: Receiver
) -> None:
    a, b = await _hooks(gql, receiver)
    now = datetime.now(UTC)
    a_ids = await _write(a, 10, now)
    b_ids = await _write(b, 2, now)
    assert await _in_flight(a, now) == a_ids[:CAP]  # claimed as written, up to the cap
    assert await _in_flight(b, now) == b_ids  # another webhook has its own slots
    assert deliveries.inbox == [*a_ids[:CAP], *b_ids]
    deliveries.inbox.clear()
    assert await webhook_delivery.claim_due(now) == []  # nothing more while those are in flight

    # An attempt that ends claims its webhook's next one at once: still CAP in flight, the oldest first.
    assert await webhook_delivery.attempt(a_ids[0], now) == "succeeded"
    assert deliveries.inbox == [a_ids[CAP]]
    assert await _in_flight(a, now) == a_ids[1 : CAP + 1]

    # Leases that ran out (a dead worker) free their slots: the tick claims the oldest CAP again, not all 9.
    later = now + timedelta(seconds=webhooks.LEASE_SECONDS + 1)
    assert await webhook_delivery.claim_due(later) == [*a_ids[1 : CAP + 1], *b_ids]
    assert await _in_flight(a, later) == a_ids[1 : CAP + 1]


async def test_a_leads_later_events_wait_and_another_webhook_is_not_held_up(
    gql: Any, deliveries: DeliveryPump, receiver: Receiver
) -> None:
    a, b = await _hooks(gql, receiver)
    now = datetime.now(UTC)
    first = await _write(a, 3, now, lead_id=7)  # one lead: only its oldest is claimed
    others = await _write(a, 6, now)
    b_ids = await _write(b, 1, now)
    assert await _in_flight(a, now) == [first[0], *others[: CAP - 1]]
    await deliveries.run(now)  # every attempt, each handing on, until nothing is due
    assert sorted(await WebhookDelivery.filter(status="SUCCEEDED").values_list("id", flat=True)) == sorted(
        [*first, *others, *b_ids]
    )
    lead_7 = [arrival.webhook_id for arrival in receiver.at("/a") if "_7_" in arrival.webhook_id]
    assert lead_7 == [f"msg_{a.id}_7_{i}" for i in range(3)]  # in the order written


async def test_concurrent_claimers_never_take_more_than_the_free_slots(
    gql: Any, deliveries: DeliveryPump, receiver: Receiver, backend: Any
) -> None:
    a, _ = await _hooks(gql, receiver)
    now = datetime.now(UTC)
    await _write(a, 30, now)
    later = now + timedelta(seconds=webhooks.LEASE_SECONDS + 1)  # every claim has run out: CAP slots free
    # Schedulers and workers handing on, at once (on PostgreSQL each on a connection of its own).
    claims = await asyncio.gather(
        *(webhook_delivery.claim_due(later) for _ in range(3)),
        *(webhook_delivery.claim_due(later, CAP, a.id) for _ in range(5)),
    )
    claimed = [i for c in claims for i in c]
    assert 1 <= len(claimed) == len(set(claimed)) <= CAP
    assert len(await _in_flight(a, later)) <= CAP

    if not backend.real:
        return  # SQLite: one connection, claims one at a time; the rest is PostgreSQL's
    # A claim whose transaction has not committed yet (its claims invisible to others): another claimer, on
    # its own connection, neither takes those slots again nor waits for the rows that claim holds (a wait
    # here would be a scheduler tick stuck behind a worker): it skips the webhook.
    even_later = later + timedelta(seconds=webhooks.LEASE_SECONDS + 1)
    async with transaction():
        first = await webhook_delivery.claim_due(even_later)
        other = asyncio.create_task(webhook_delivery.claim_due(even_later), context=contextvars.Context())
        second = await asyncio.wait_for(other, 5)
    assert (len(first), second) == (CAP, [])
    assert len(await _in_flight(a, even_later)) == CAP


def _claims(caplog: Any) -> list[str]:
    """The claim statements (a tick's or a hand-on's) the database client ran, as Tortoise logs each query."""
    queries = [r.getMessage() for r in caplog.records if r.name == "tortoise.db_client"]
    return [q for q in queries if "SET claimed_until = " in q and "FOR NO KEY UPDATE OF w" not in q] + [
        q for q in queries if "FOR NO KEY UPDATE OF w" in q
    ]


async def test_an_attempt_hands_on_only_when_something_waits(
    gql: Any, deliveries: DeliveryPump, receiver: Receiver, caplog: Any
) -> None:
    a, _ = await _hooks(gql, receiver)
    now = datetime.now(UTC)
    ids = await _write(a, CAP, now)  # all claimed as written: nothing waits
    caplog.set_level("DEBUG", logger="tortoise.db_client")
    assert await webhook_delivery.attempt(ids[0], now) == "succeeded"
    assert _claims(caplog) == []  # the usual case costs no claim statement: the completing UPDATE said so

    later = await _write(a, 2, now)  # the first takes the free slot, the second waits
    assert await _in_flight(a, now) == [*ids[1:], later[0]]
    deliveries.inbox.clear()
    caplog.clear()
    assert await webhook_delivery.attempt(ids[1], now) == "succeeded"
    assert _claims(caplog) != [] and deliveries.inbox == [later[1]]  # it waited: handed on at once
    assert await _in_flight(a, now) == [*ids[2:], *later]
