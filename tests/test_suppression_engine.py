"""The suppression list checked at the moment of acting (issue 13.5), and unsubscribing through
recordLeadEvent(UNSUBSCRIBED): a contact listed while its lead waits is never sent anything, on any channel."""

from __future__ import annotations

from typing import Any

from domain import counters
from domain.suppressions import add_suppressions
from engine import channels
from engine.inbound import record_lead_event
from models import Activity, Suppression
from models.enums import ActivityKind, LeadEventKind, LeadStatus, LeadSubstatus, StepType, SuppressionReason
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

DAY = 86400


async def test_a_lead_suppressed_while_it_waits_finishes_unsubscribed_and_nothing_is_sent(
    workspace: Any, frozen: Any, pump: Pump
) -> None:
    # given three leads emailed once, each waiting a day for its next step (a LinkedIn message, an email)
    ws, _ = workspace
    campaign, _ = await make_campaign(
        ws,
        await make_identity(ws, daily_emails=100),
        [step(StepType.EMAIL, subject="S", content="B"), step(StepType.EMAIL, delay=DAY, subject="S2", content="B2")],
    )
    leads = await add_leads(ws, campaign, [person(0), person(1), person(2, email="x@other.test")])
    await pump.run()
    assert len(channels.email_sandbox.actions) == 3
    # when lead 0's address and lead 2's domain join the list while they wait
    _, errors = await add_suppressions(ws.id, ["LEAD0@example.test", "other.test"])
    assert errors == []
    frozen.advance(days=2)
    await pump.run()
    # then only lead 1 got its second email; the others finished UNSUBSCRIBED, saying why
    assert len(channels.email_sandbox.actions) == 4
    done = [await reload(lead) for lead in leads]
    assert [(lead.status, lead.substatus) for lead in done] == [
        (LeadStatus.FINISHED, LeadSubstatus.UNSUBSCRIBED),
        (LeadStatus.FINISHED, LeadSubstatus.COMPLETED),
        (LeadStatus.FINISHED, LeadSubstatus.UNSUBSCRIBED),
    ]
    assert await activity_kinds(done[0]) == ["EMAIL_SENT", "UNSUBSCRIBED"]
    why = await Activity.get(lead_id=done[2].id, kind=ActivityKind.UNSUBSCRIBED)
    assert why.detail is not None and "other.test" in why.detail and "suppression list" in why.detail
    numbers, _, _ = await counters.read(campaign.id)
    assert numbers.get("sub:UNSUBSCRIBED") == 2 and numbers.get("em_unsubscribed", 0) == 0
    await assert_counters_match(campaign.id)


async def test_a_linkedin_step_is_not_taken_for_a_suppressed_contact(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.LINKEDIN_VISIT_PROFILE)])
    await add_suppressions(ws.id, ["lead0@example.test"])
    (lead,) = await add_leads(ws, campaign, [person(0)])  # listed after add time would be the same path
    await pump.run()
    lead = await reload(lead)
    assert (lead.status, lead.substatus) == (LeadStatus.FINISHED, LeadSubstatus.UNSUBSCRIBED)
    assert not channels.linkedin_sandbox.actions
    await assert_counters_match(campaign.id)


async def test_record_lead_event_unsubscribed_lists_the_address_counts_and_finishes_once(
    workspace: Any, frozen: Any, pump: Pump
) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(
        ws,
        await make_identity(ws),
        [step(StepType.EMAIL, subject="S", content="B"), step(StepType.EMAIL, delay=DAY, subject="S", content="B")],
    )
    (lead,) = await add_leads(ws, campaign, [person(0)])
    await pump.run()
    for _ in range(2):  # the same event twice: once
        await record_lead_event(ws.id, lead.id, LeadEventKind.UNSUBSCRIBED)
    lead = await reload(lead)
    assert (lead.status, lead.substatus, lead.em_unsubscribed) == (
        LeadStatus.FINISHED,
        LeadSubstatus.UNSUBSCRIBED,
        True,
    )
    assert await activity_kinds(lead) == ["EMAIL_SENT", "UNSUBSCRIBED"]
    listed = await Suppression.filter(workspace_id=ws.id).values_list("value", "reason")
    assert [(v, SuppressionReason(r)) for v, r in listed] == [("lead0@example.test", SuppressionReason.UNSUBSCRIBED)]
    numbers, _, _ = await counters.read(campaign.id)
    assert numbers["em_unsubscribed"] == 1
    await assert_counters_match(campaign.id)
