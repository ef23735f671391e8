"""Clicks and one-click unsubscribe followed out of a real email: the engine sends through a real SMTP
server requiring AUTH (tests/mailservers.py), and the test follows the links and the List-Unsubscribe
header exactly as they arrived. Both backends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from domain import counters
from domain.ids import decode_id
from engine import clock
from models import Activity, Identity, Suppression
from models.enums import ActivityKind, LeadStatus, LeadSubstatus, StepType
from tests.engine_helpers import Pump, add_leads, assert_counters_match, make_campaign, person, reload, step
from tests.mailservers import AuthSmtpServer

USER, PASSWORD, SENDER = "sam@outbound.test", "smtp-Secret-5120", "sam@outbound.test"
CREATE = """mutation($input: IdentityInput!) { createIdentity(input: $input) { identity { id } errors { code } } }"""
# A loopback test server: AUTH over plain text is allowed (as tests/test_mail_smtp.py says).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
TRACKED = re.compile(r"https?://[^\s<>\"]+/t/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


@pytest.fixture(scope="module")
def smtp() -> Iterator[AuthSmtpServer]:
    with AuthSmtpServer(USER, PASSWORD) as server:
        yield server


def path_of(url: str) -> str:
    return urlsplit(url).path


async def test_links_of_a_sent_email_track_clicks_and_unsubscribe_in_one_click(
    gql: Any, http: httpx.AsyncClient, workspace: Any, frozen: Any, pump: Pump, smtp: AuthSmtpServer
) -> None:
    # given an email sent through a real SMTP server, with two links and a follow-up due a day later
    ws, _ = workspace
    made = await gql(CREATE, {"input": {"name": "Sam", "emailAddress": SENDER, "mailbox": {"smtpUrl": smtp.url()}}})
    assert made["createIdentity"]["errors"] == []
    identity = await Identity.get(id=decode_id(made["createIdentity"]["identity"]["id"], "Identity"))
    content = "Prices: https://acme.example/pricing and docs: https://acme.example/docs?x=1 {{unsubscribeUrl}}"
    campaign, _ = await make_campaign(
        ws,
        identity,
        [
            step(StepType.EMAIL, subject="Hello", content=content),
            step(StepType.EMAIL, delay=86400, subject="Again", content="Following up."),
        ],
    )
    before = len(smtp.messages)
    (lead,) = await add_leads(ws, campaign, [person(0, email="ana@lead.example")])
    await pump.run()
    (received,) = smtp.messages[before:]
    body = received.message.get_content()
    pricing, docs = TRACKED.findall(body)
    assert "acme.example" not in body

    # when the reader clicks each link (the first twice), a link checker sends HEAD
    assert (await http.head(path_of(pricing))).status_code == 302
    for url, original in ((pricing, "https://acme.example/pricing"), (pricing, None), (docs, None)):
        answer = await http.get(path_of(url))
        assert answer.status_code == 302
        if original:
            assert answer.headers["location"] == original
    clicks = await Activity.filter(lead_id=lead.id, kind=ActivityKind.EMAIL_CLICKED).values_list("detail", flat=True)
    assert sorted(clicks) == ["https://acme.example/docs?x=1", "https://acme.example/pricing"]  # once per link

    # and the mail client unsubscribes in one click (RFC 8058) through the header it received
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    target = re.search(r"<(https?://[^>]+)>", received.message["List-Unsubscribe"])
    assert target is not None
    assert (await http.get(path_of(target.group(1)))).status_code == 200  # a scanner's GET: nothing happens
    assert (await reload(lead)).status == LeadStatus.IN_PROGRESS
    answer = await http.post(path_of(target.group(1)), data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200

    # then the lead finished, the address is listed, and the follow-up never leaves
    lead = await reload(lead)
    assert (lead.status, lead.substatus, lead.em_clicked) == (LeadStatus.FINISHED, LeadSubstatus.UNSUBSCRIBED, True)
    assert await Suppression.filter(workspace_id=ws.id, value="ana@lead.example").exists()
    frozen.advance(days=2)
    await pump.run(clock.now())
    assert len(smtp.messages) == before + 1
    numbers, _, _ = await counters.read(campaign.id)
    assert (numbers["em_sent"], numbers["em_clicked"], numbers["em_unsubscribed"]) == (1, 1, 1)
    await assert_counters_match(campaign.id)
