"""The demo's simulated email answers are real messages through the inbox's own path (issue 13.7):
mail.classify and engine.inbox.apply_inbound, as a connected mailbox's messages are."""

from __future__ import annotations

from typing import Any

from engine import channels, simulator
from models import Activity, InboundMessage, Lead
from models.enums import ActivityKind, Channel, LeadStatus, LeadSubstatus, StepType
from tests.engine_helpers import Pump, add_leads, assert_counters_match, make_campaign, make_identity, person, step


async def test_the_demo_answers_emails_through_the_classifier(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    identity = await make_identity(ws, email_address="sam@outbound.example")
    campaign, _ = await make_campaign(
        ws,
        identity,
        [
            step(StepType.EMAIL, subject="Hello {{firstName}}", content="Hi {{firstName}}"),
            step(StepType.EMAIL, delay=30 * 86400, subject="Again", content="Following up."),
        ],
        time_scale=1440,  # a day in a minute
    )
    leads = await add_leads(ws, campaign, [person(i) for i in range(60)])
    await pump.run()
    sent = {m["Message-ID"] for m in channels.email_sandbox.messages.values()}
    assert len(sent) == 60 and all(m.startswith("<") and m.endswith("@outbound.example>") for m in sent)
    for _ in range(6):  # six demo days, a (real) minute each
        frozen.advance(minutes=1)
        await simulator.simulate(frozen.now())
        await pump.run()

    inbound = {row["lead_id"]: row for row in await InboundMessage.filter(identity_id=identity.id).values()}
    replies = await Activity.filter(campaign_id=campaign.id, kind=ActivityKind.REPLY_RECEIVED)
    bounced = await Lead.filter(campaign_id=campaign.id, substatus=LeadSubstatus.BOUNCED)
    assert replies and bounced
    for reply in replies:
        assert reply.channel == Channel.EMAIL and "simulated" in (reply.detail or "")
        assert "wrote:" not in (reply.detail or "")  # the quoted history was stripped by the classifier
        assert inbound[reply.lead_id]["kind"] == "REPLY" and inbound[reply.lead_id]["outcome"] == "applied"
    for lead in bounced:
        assert inbound[lead.id]["kind"] == "BOUNCED" and lead.em_bounced
    positive = {
        lead.id: lead.positive for lead in await Lead.filter(campaign_id=campaign.id, status=LeadStatus.REPLIED)
    }
    assert positive and all(positive[lead_id] == (simulator._roll(lead_id, 2) % 2 == 0) for lead_id in positive)
    assert {lead.id for lead in leads} >= set(inbound)
    await assert_counters_match(campaign.id)
