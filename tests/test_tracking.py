"""The links in our emails (issue 13.3, 13.4): the click tracker and one-click unsubscribe, over HTTP.

Tokens are made with mail/tokens.py and the process's own signing key, exactly as mail/outbound.py makes
them for a sent email (tests/test_tracking_smtp.py follows real links out of a real SMTP delivery)."""

from __future__ import annotations

from typing import Any

import httpx

from domain import counters, mailkeys
from mail.tokens import click_token, unsubscribe_token
from models import Activity, Suppression, WebhookDelivery
from models.enums import ActivityKind, LeadStatus, LeadSubstatus, StepType
from models.webhook import WebhookEvent
from tests.engine_helpers import (
    Pump,
    activity_kinds,
    add_leads,
    assert_counters_match,
    make_campaign,
    make_identity,
    person,
    reload,
    step,
)
from tests.webhook_helpers import DeliveryPump, create_webhook

DAY = 86400


def key() -> bytes:
    signing = mailkeys.current().signing_key
    assert signing is not None
    return signing


async def _emailed(workspace: Any, pump: Pump, n: int = 1) -> tuple[Any, list[Any], int]:
    ws, _ = workspace
    campaign, steps = await make_campaign(
        ws,
        await make_identity(ws),
        [step(StepType.EMAIL, subject="S", content="B"), step(StepType.EMAIL, delay=DAY, subject="S", content="B")],
    )
    leads = await add_leads(ws, campaign, [person(i) for i in range(n)])
    await pump.run()
    return campaign, [await reload(lead) for lead in leads], steps[0].id


async def test_a_click_redirects_and_counts_once_per_link(
    http: httpx.AsyncClient, workspace: Any, frozen: Any, pump: Pump
) -> None:
    campaign, (lead,), step_id = await _emailed(workspace, pump)
    first = click_token(key(), lead.id, step_id, 0, "https://example.com/pricing?a=1&b=2")
    second = click_token(key(), lead.id, step_id, 1, "https://example.com/docs")
    for _ in range(3):
        answer = await http.get(f"/t/{first}")
        assert answer.status_code == 302 and answer.headers["location"] == "https://example.com/pricing?a=1&b=2"
    assert (await http.get(f"/t/{second}")).headers["location"] == "https://example.com/docs"
    clicks = await Activity.filter(lead_id=lead.id, kind=ActivityKind.EMAIL_CLICKED).order_by("id")
    assert [c.detail for c in clicks] == ["https://example.com/pricing?a=1&b=2", "https://example.com/docs"]
    lead = await reload(lead)
    assert lead.em_clicked and lead.status == LeadStatus.IN_PROGRESS
    numbers, _, _ = await counters.read(campaign.id)
    assert numbers["em_clicked"] == 1
    await assert_counters_match(campaign.id)


async def test_head_is_answered_and_not_counted(
    http: httpx.AsyncClient, workspace: Any, frozen: Any, pump: Pump
) -> None:
    _, (lead,), step_id = await _emailed(workspace, pump)
    token = click_token(key(), lead.id, step_id, 0, "https://example.com/")
    answer = await http.head(f"/t/{token}")
    assert answer.status_code == 302 and answer.headers["location"] == "https://example.com/"
    assert await activity_kinds(lead) == ["EMAIL_SENT"]
    assert not (await reload(lead)).em_clicked


async def test_a_forged_or_altered_token_is_404_without_a_redirect(
    http: httpx.AsyncClient, workspace: Any, frozen: Any, pump: Pump
) -> None:
    _, (lead,), step_id = await _emailed(workspace, pump)
    good = click_token(key(), lead.id, step_id, 0, "https://example.com/")
    forged = click_token(b"not-our-key-0123456789abcdef", lead.id, step_id, 0, "https://evil.example/")
    body, mac = good.split(".")
    altered = click_token(key(), lead.id, step_id, 0, "https://evil.example/").split(".")[0] + "." + mac
    for token in (forged, altered, body, good[:-2], "x", unsubscribe_token(key(), lead.id)):
        answer = await http.get(f"/t/{token}")
        assert answer.status_code == 404 and "location" not in answer.headers, token
        assert "text/html" in answer.headers["content-type"]
    assert await activity_kinds(lead) == ["EMAIL_SENT"]


async def test_a_click_that_cannot_apply_still_redirects_and_records_nothing(
    http: httpx.AsyncClient, workspace: Any, frozen: Any, pump: Pump
) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.LINKEDIN_VISIT_PROFILE)])
    (lead,) = await add_leads(ws, campaign, [person(0)])  # never emailed
    token = click_token(key(), lead.id, 1, 0, "https://example.com/")
    assert (await http.get(f"/t/{token}")).status_code == 302
    assert await activity_kinds(lead) == []
    gone = click_token(key(), 999_999, 1, 0, "https://example.com/")  # no such lead
    assert (await http.get(f"/t/{gone}")).status_code == 302


async def test_get_shows_a_page_and_changes_nothing_post_unsubscribes_once(
    http: httpx.AsyncClient, gql: Any, workspace: Any, frozen: Any, pump: Pump, deliveries: DeliveryPump
) -> None:
    await create_webhook(gql, "http://127.0.0.1:9/hook", events=["LEAD_UNSUBSCRIBED"])
    campaign, (lead, other), _ = await _emailed(workspace, pump, 2)
    url = f"/u/{unsubscribe_token(key(), lead.id)}"
    page = await http.get(url)
    assert page.status_code == 200 and '<form method="post">' in page.text and "<button" in page.text
    assert "http" not in page.text.split("<body>")[1]  # no external assets, no link out
    assert (await reload(lead)).status == LeadStatus.IN_PROGRESS and not await Suppression.exists()
    # RFC 8058 one-click, as a mail client sends it; then again (idempotent), then the page's own POST
    one_click = {"List-Unsubscribe": "One-Click"}
    for answer in [await http.post(url, data=one_click), await http.post(url, data=one_click), await http.post(url)]:
        assert answer.status_code == 200 and "unsubscribed" in answer.text
    lead = await reload(lead)
    assert (lead.status, lead.substatus) == (LeadStatus.FINISHED, LeadSubstatus.UNSUBSCRIBED)
    assert await activity_kinds(lead) == ["EMAIL_SENT", "UNSUBSCRIBED"]
    assert await Suppression.filter(value="lead0@example.test").count() == 1
    numbers, _, _ = await counters.read(campaign.id)
    assert numbers["em_unsubscribed"] == 1
    events = await WebhookDelivery.filter(event=WebhookEvent.LEAD_UNSUBSCRIBED).values_list("payload", flat=True)
    assert len(events) == 1 and "lead.unsubscribed" in events[0] and "UNSUBSCRIBED" in events[0]
    await assert_counters_match(campaign.id)
    # the other lead goes on, and a bad token is a 404 page on both methods
    assert (await reload(other)).status == LeadStatus.IN_PROGRESS
    bad = f"/u/{unsubscribe_token(key(), lead.id)[:-3]}AAA"
    assert (await http.get(bad)).status_code == 404 and (await http.post(bad)).status_code == 404
    click_as_unsubscribe = f"/u/{click_token(key(), lead.id, 1, 0, 'https://example.com/')}"
    assert (await http.post(click_as_unsubscribe)).status_code == 404
