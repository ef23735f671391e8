"""Webhook events: every kind, sent after commit with the body domain.md gives, signed per Standard Webhooks,
to the webhooks that subscribe to them (and their campaigns); nothing for a rolled-back change."""

from __future__ import annotations

from typing import Any

import pytest

from domain.ids import to_global_id
from domain.tx import transaction
from domain.webhooks import lead_finished
from engine import clock
from models import Lead, WebhookDelivery
from models.enums import CampaignStatus, StepType
from tests.engine_helpers import Pump, add_leads, make_campaign, make_identity, person, step
from tests.webhook_helpers import DeliveryPump, subscribe
from tests.webhook_receiver import Receiver

EVENT = """mutation($id: ID!, $kind: LeadEventKind!) { recordLeadEvent(input: {leadId: $id, kind: $kind}) {
  lead { status } errors { code message } } }"""


async def _by_type(receiver: Receiver, path: str = "/hook") -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for arrival in receiver.at(path):
        assert arrival.verified, arrival.headers  # signed with the webhook's secret, as Standard Webhooks says
        grouped.setdefault(arrival.type, []).append(arrival.json)
    return grouped


async def test_every_event_kind_arrives_signed_with_its_data(
    gql: Any, workspace: Any, frozen: Any, pump: Pump, deliveries: DeliveryPump, receiver: Receiver
) -> None:
    ws, _ = workspace
    await subscribe(gql, receiver)
    identity = await make_identity(ws)
    email = step(StepType.EMAIL, subject="Hi {{firstName}}", content="Body")
    campaign, steps = await make_campaign(ws, identity, [email, step(StepType.TASK, title="Call")])
    short, _ = await make_campaign(ws, identity, [step(StepType.EMAIL, subject="One", content="B")], name="Short")
    tasked, errored = await add_leads(ws, campaign, [person(1), person(2, email=None)])
    (finished,) = await add_leads(ws, short, [person(3)])

    await pump.run()  # emails, a task for lead 1, an error for lead 2 (no address), lead 3 finishes
    await deliveries.run()
    lead_id = to_global_id("Lead", tasked.id)
    assert (await gql(EVENT, {"id": lead_id, "kind": "REPLY_RECEIVED"}))["recordLeadEvent"]["errors"] == []
    finished_id = to_global_id("Lead", finished.id)
    assert (await gql(EVENT, {"id": finished_id, "kind": "EMAIL_BOUNCED"}))["recordLeadEvent"]["errors"] == []
    pause = "mutation($id: ID!) { pauseCampaign(id: $id) { campaign { status } errors { code } } }"
    assert (await gql(pause, {"id": to_global_id("Campaign", campaign.id)}))["pauseCampaign"]["errors"] == []
    await deliveries.run()

    got = await _by_type(receiver)
    assert sorted(got) == [
        "campaign.status_changed",
        "lead.bounced",
        "lead.error",
        "lead.finished",
        "lead.replied",
        "task.created",
    ]
    task = got["task.created"][0]["data"]
    assert task["lead"]["id"] == lead_id and task["lead"]["status"] == "IN_PROGRESS"
    assert task["campaign"] == {"id": to_global_id("Campaign", campaign.id), "name": "Engine test"}
    assert task["contact"]["email"] == "lead1@example.test" and task["contact"]["name"] == "First1 Last1"
    assert task["step"] == {"id": to_global_id("SequenceStep", steps[1].id), "position": 2, "type": "TASK"}
    assert task["activity"]["kind"] == "TASK_CREATED" and task["activity"]["detail"] == "Call"

    replied = got["lead.replied"][0]
    assert replied["data"]["lead"]["status"] == "REPLIED"  # the state the change committed, not the one before
    assert replied["data"]["activity"]["kind"] == "REPLY_RECEIVED"
    assert replied["timestamp"].endswith("Z")

    error = got["lead.error"][0]["data"]
    assert error["lead"]["id"] == to_global_id("Lead", errored.id) and error["lead"]["status"] == "ERROR"
    assert error["activity"]["kind"] == "LEAD_ERROR" and "MISSING_CONTACT_EMAIL" in error["activity"]["detail"]

    (finish,) = got["lead.finished"]
    assert finish["data"]["lead"] == {"id": finished_id, "status": "FINISHED", "substatus": "COMPLETED"}
    assert finish["data"]["activity"]["kind"] == "EMAIL_SENT"  # what it did last
    (bounce,) = got["lead.bounced"]
    assert bounce["data"]["lead"]["id"] == finished_id and bounce["data"]["activity"]["kind"] == "EMAIL_BOUNCED"

    (status,) = got["campaign.status_changed"]
    assert status["data"] == {
        "campaign": {"id": to_global_id("Campaign", campaign.id), "name": "Engine test"},
        "oldStatus": "ACTIVE",
        "newStatus": "PAUSED",
    }
    # One webhook-id per event; every delivery succeeded at its first attempt.
    ids = [a.webhook_id for a in receiver.at("/hook")]
    assert len(set(ids)) == len(ids) == 6
    assert await WebhookDelivery.filter(status="SUCCEEDED", attempts=1).count() == 6


async def test_events_filtered_by_subscription_and_campaign(
    gql: Any, workspace: Any, frozen: Any, deliveries: DeliveryPump, receiver: Receiver
) -> None:
    ws, _ = workspace
    identity = await make_identity(ws)
    first, _ = await make_campaign(ws, identity, [step(StepType.TASK, title="T")], name="First")
    second, _ = await make_campaign(ws, identity, [step(StepType.TASK, title="T")], name="Second")
    await subscribe(gql, receiver, "/first", campaignIds=[to_global_id("Campaign", first.id)])
    await subscribe(gql, receiver, "/all")
    await subscribe(gql, receiver, "/replies", events=["LEAD_REPLIED"])
    pause = "mutation($id: ID!) { pauseCampaign(id: $id) { errors { code } } }"
    for campaign in (first, second):
        await gql(pause, {"id": to_global_id("Campaign", campaign.id)})
    await deliveries.run()

    def names(path: str) -> list[str]:
        return [a.json["data"]["campaign"]["name"] for a in receiver.at(path)]

    assert names("/first") == ["First"]
    assert names("/all") == ["First", "Second"]
    assert receiver.at("/replies") == []


async def test_disabled_and_deleted_webhooks_get_nothing(
    gql: Any, workspace: Any, frozen: Any, deliveries: DeliveryPump, receiver: Receiver
) -> None:
    from tests.webhook_helpers import DELETE, UPDATE

    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.TASK, title="T")])
    disabled = await subscribe(gql, receiver, "/disabled")
    deleted = await subscribe(gql, receiver, "/deleted")
    kept = await subscribe(gql, receiver, "/kept")
    data = await gql(UPDATE, {"id": disabled["id"], "input": {"enabled": False}})
    assert data["updateWebhook"]["webhook"]["enabled"] is False
    # Deleted after the event was written but before it was sent: its pending delivery goes with it.
    (lead,) = await add_leads(ws, campaign, [person(1)])
    async with transaction():
        lead_finished(await Lead.get(id=lead.id), clock.now())
    assert (await gql(DELETE, {"id": deleted["id"]}))["deleteWebhook"]["deletedId"] == deleted["id"]
    await deliveries.run()
    pause = "mutation($id: ID!) { pauseCampaign(id: $id) { errors { code } } }"
    await gql(pause, {"id": to_global_id("Campaign", campaign.id)})
    await deliveries.run()

    assert [a.type for a in receiver.at("/kept")] == ["lead.finished", "campaign.status_changed"]
    assert receiver.at("/disabled") == [] and receiver.at("/deleted") == []
    assert await WebhookDelivery.filter(webhook_id__not=0).count() == 2  # the kept webhook's only
    assert kept["enabled"] is True


async def test_a_rolled_back_change_sends_nothing(
    gql: Any, workspace: Any, frozen: Any, deliveries: DeliveryPump, receiver: Receiver
) -> None:
    ws, _ = workspace
    await subscribe(gql, receiver)
    # launchCampaign moves the status, then finds no sender and no step: refused, so it all rolls back.
    draft, _ = await make_campaign(ws, None, [], status=CampaignStatus.DRAFT)
    launch = "mutation($id: ID!) { launchCampaign(id: $id) { campaign { status } errors { code } } }"
    data = await gql(launch, {"id": to_global_id("Campaign", draft.id)})
    assert {e["code"] for e in data["launchCampaign"]["errors"]} >= {"IDENTITY_REQUIRED"}
    # A change that fails after announcing its event, in the same transaction.
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.TASK, title="T")])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    with pytest.raises(RuntimeError):
        async with transaction():
            lead_finished(await Lead.get(id=lead.id), clock.now())
            raise RuntimeError("fails before COMMIT")
    await deliveries.run()
    assert await WebhookDelivery.all().count() == 0
    assert receiver.arrivals == [] and deliveries.inbox == []
