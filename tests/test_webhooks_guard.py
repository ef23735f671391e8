"""Webhooks: no server-side request forgery (at creation and at every delivery), bad input refused, and
tenancy (a workspace never sees another's webhooks or deliveries, nor gets its events)."""

from __future__ import annotations

from typing import Any

import pytest

from domain import webhooks
from domain.ids import to_global_id
from domain.tx import transaction
from domain.webhooks import lead_finished
from engine import clock
from models import Lead, Webhook, WebhookDelivery
from models.enums import StepType
from tests.engine_helpers import add_leads, make_campaign, make_identity, person, step
from tests.webhook_helpers import CREATE, DELETE, REDELIVER, UPDATE, DeliveryPump, listed, subscribe
from tests.webhook_receiver import Receiver

REFUSED_ALWAYS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://169.254.1.1/",
    "http://[fe80::1]/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "http:///no-host",
    "https://user:pw@example.com/",
]
REFUSED_UNLESS_ALLOWED = [
    "http://127.0.0.1:9/hook",
    "http://localhost:9/hook",
    "http://10.1.2.3/",
    "http://[::1]/",
    "http://192.168.0.10/",
    "http://[::ffff:127.0.0.1]/",
]


async def _create(gql: Any, url: str) -> dict[str, Any]:
    return (await gql(CREATE, {"input": {"url": url, "events": ["LEAD_REPLIED"]}}))["createWebhook"]


@pytest.mark.parametrize("url", REFUSED_ALWAYS + REFUSED_UNLESS_ALLOWED)
async def test_internal_addresses_are_refused_with_the_setting_off(gql: Any, url: str) -> None:
    webhooks.configure(allow_private=False)
    payload = await _create(gql, url)
    assert payload["webhook"] is None and payload["secret"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_INPUT", ["input", "url"])]
    assert await Webhook.all().count() == 0


async def test_the_setting_allows_loopback_and_private_only(gql: Any, deliveries: DeliveryPump) -> None:
    for url in REFUSED_UNLESS_ALLOWED:
        assert (await _create(gql, url))["errors"] == [], url
    for url in REFUSED_ALWAYS:
        assert [e["code"] for e in (await _create(gql, url))["errors"]] == ["INVALID_INPUT"], url


async def test_a_host_refused_at_delivery_fails_it_without_sending(
    gql: Any, workspace: Any, frozen: Any, deliveries: DeliveryPump, receiver: Receiver
) -> None:
    hook = await subscribe(gql, receiver)
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.TASK, title="T")])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    async with transaction():
        lead_finished(await Lead.get(id=lead.id), clock.now())
    webhooks.configure(allow_private=False)  # the receiver's loopback address is refused from now on
    assert await deliveries.run() == ["refused"]
    row = await WebhookDelivery.get()
    assert (row.status, row.attempts, row.response_status, row.next_attempt_at) == ("FAILED", 1, None, None)
    assert "loopback" in row.log[0]["error"]
    assert receiver.arrivals == []
    # An update to a refused URL is refused too, and changes nothing.
    data = await gql(UPDATE, {"id": hook["id"], "input": {"url": "http://169.254.169.254/", "enabled": False}})
    assert [e["code"] for e in data["updateWebhook"]["errors"]] == ["INVALID_INPUT"]
    assert (await Webhook.get()).enabled is True


async def test_bad_input_is_refused_clearly(gql: Any, deliveries: DeliveryPump, receiver: Receiver) -> None:
    data = await gql(CREATE, {"input": {"url": receiver.url(), "events": [], "campaignIds": ["nope"]}})
    errors = data["createWebhook"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("INVALID_INPUT", ["input", "events"]),
        ("NOT_FOUND", ["input", "campaignIds", "0"]),
    ]
    assert await Webhook.all().count() == 0


async def test_tenancy(
    gql: Any, workspace: Any, other_workspace: Any, frozen: Any, deliveries: DeliveryPump, receiver: Receiver
) -> None:
    ws, _ = workspace
    other = gql.as_key(other_workspace[1])
    mine = await subscribe(gql, receiver, "/mine")
    await subscribe(other, receiver, "/theirs")
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.TASK, title="T")])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    async with transaction():
        lead_finished(await Lead.get(id=lead.id), clock.now())
    await deliveries.run()
    assert len(receiver.at("/mine")) == 1 and receiver.at("/theirs") == []  # events stay in their workspace

    (page,) = await listed(gql)
    delivery_id = page["nodes"][0]["id"]
    theirs = await listed(other)
    assert [p["totalCount"] for p in theirs] == [0]
    assert [h["url"] for h in (await other("{ webhooks { url } }"))["webhooks"]] == [receiver.url("/theirs")]
    refusals = [
        (await other(UPDATE, {"id": mine["id"], "input": {"enabled": False}}))["updateWebhook"]["errors"],
        (await other(DELETE, {"id": mine["id"]}))["deleteWebhook"]["errors"],
        (await other(REDELIVER, {"id": delivery_id}))["redeliverWebhook"]["errors"],
        (
            await other(
                CREATE,
                {
                    "input": {
                        "url": receiver.url(),
                        "events": ["LEAD_ERROR"],
                        "campaignIds": [to_global_id("Campaign", campaign.id)],
                    }
                },
            )
        )["createWebhook"]["errors"],
    ]
    assert [[e["code"] for e in errors] for errors in refusals] == [["NOT_FOUND"]] * 4
    node = """query($id: ID!) { node(id: $id) { id ... on Webhook { url } ... on WebhookDelivery { status } } }"""
    for node_id in (mine["id"], delivery_id):
        assert (await other(node, {"id": node_id}))["node"] is None
        assert (await gql(node, {"id": node_id}))["node"]["id"] == node_id
    assert (await Webhook.get(url=receiver.url("/mine"))).enabled  # the other workspace changed nothing
    assert await WebhookDelivery.all().count() == 1
