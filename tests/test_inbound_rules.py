"""recordLeadEvent refuses what cannot apply: the kind x status table (domain/inbound_rules.py), walked whole.

A refused event is an INVALID_TRANSITION that records nothing and counts nothing; an applied one is logged
once and keeps every counter equal to the leads' own state.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from domain import counters
from domain.errors import InvalidInput, InvalidTransition
from domain.inbound_rules import RULES, refusal
from domain.leads import update_lead
from domain.tx import transaction
from engine.inbound import record_lead_event
from engine.retry import retry_lead
from models import Activity, Lead
from models.enums import CampaignStatus, Channel, LeadEventKind, LeadStatus, LeadSubstatus, StepType
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

E = LeadEventKind
S = LeadStatus
#: A substatus the walk puts each status in (the table decides by status and by the lead's facts).
FORCED = {
    S.NOT_STARTED: None,
    S.IN_PROGRESS: LeadSubstatus.SCHEDULED,
    S.PAUSED: LeadSubstatus.PAUSED_MANUALLY,
    S.ERROR: LeadSubstatus.SYSTEM_ERROR,
    S.FINISHED: LeadSubstatus.COMPLETED,
    S.REPLIED: None,
}
#: What has been done to the lead before the event: nothing, an invitation, an email, a LinkedIn message.
PROFILES = {
    "nothing": [step(StepType.TASK, title="Call")],
    "invited": [step(StepType.LINKEDIN_CONNECTION, wait_for_acceptance_days=30)],
    "emailed": [step(StepType.EMAIL, subject="S", content="B"), step(StepType.LINKEDIN_VISIT_PROFILE, delay=86400)],
    "messaged": [step(StepType.LINKEDIN_MESSAGE, content="Hi"), step(StepType.LINKEDIN_VISIT_PROFILE, delay=86400)],
}


def test_the_table_decides_every_kind_and_status() -> None:
    assert set(RULES) == set(itertools.product(E, S))
    for (kind, status), rule in RULES.items():
        assert rule.refused or rule.needs is not None, (kind, status)


async def _leads_in(workspace: Any, pump: Pump, profile: str, count: int) -> tuple[Any, list[Lead]]:
    ws, _ = workspace
    identity = await make_identity(ws, daily_connection_requests=100, daily_emails=100)
    campaign, _ = await make_campaign(ws, identity, PROFILES[profile])
    leads = await add_leads(ws, campaign, [person(i) for i in range(count)])
    if profile == "messaged":  # already connections: the message goes out
        await Lead.filter(campaign_id=campaign.id).update(connected=True)
    await pump.run()
    leads = [await reload(lead) for lead in leads]
    waiting = {"nothing": "WAITING_FOR_TASK", "invited": "WAITING_TO_CONNECT"}.get(profile, "SCHEDULED")
    assert {lead.substatus for lead in leads} == {waiting}, profile
    return campaign, leads


async def _force(lead: Lead, status: LeadStatus) -> Lead:
    """Put the lead in `status` through update_lead, so the counters follow."""
    lead = await reload(lead)
    if lead.status != status:
        changes: dict[str, Any] = {"status": status, "substatus": FORCED[status]}
        if status == S.REPLIED:
            changes["replied"] = True
        async with transaction():
            assert await update_lead(lead, **changes)
    return await reload(lead)


def _facts(lead: Lead) -> dict[str, Any]:
    return {name: getattr(lead, name) for name in ("status", "substatus", "state_version", "em_clicked", "li_accepted")}


@pytest.mark.parametrize("profile", list(PROFILES))
async def test_every_event_in_every_status_is_applied_or_refused_cleanly(
    workspace: Any, frozen: Any, pump: Pump, profile: str
) -> None:
    ws, _ = workspace
    pairs = list(itertools.product(E, S))
    campaign, leads = await _leads_in(workspace, pump, profile, len(pairs))
    applied = refused = 0
    for (kind, status), lead in zip(pairs, leads, strict=True):
        lead = await _force(lead, status)
        reason = refusal(kind, lead)
        before_numbers, _, _ = await counters.read(campaign.id)
        before_log = await activity_kinds(lead)
        before = _facts(lead)
        channel = Channel.EMAIL if kind == E.REPLY_RECEIVED and profile == "nothing" else None
        if reason is None:
            await record_lead_event(ws.id, lead.id, kind, channel=channel)
            assert len(await activity_kinds(lead)) == len(before_log) + 1, (kind, status)
            applied += 1
        else:
            with pytest.raises(InvalidTransition) as refusal_error:
                await record_lead_event(ws.id, lead.id, kind, channel=channel)
            assert refusal_error.value.message == reason and reason.endswith("."), reason
            assert await activity_kinds(lead) == before_log, (kind, status)
            assert _facts(await reload(lead)) == before, (kind, status)
            assert (await counters.read(campaign.id))[0] == before_numbers, (kind, status)
            refused += 1
        await assert_counters_match(campaign.id)
    assert applied and refused


async def test_acceptance_without_an_invitation_is_refused_and_retry_still_invites(
    workspace: Any, frozen: Any, pump: Pump
) -> None:
    # given a lead that failed at its first step (no LinkedIn URL) before any invitation
    ws, _ = workspace
    campaign, _ = await make_campaign(
        ws,
        await make_identity(ws),
        [step(StepType.LINKEDIN_CONNECTION, wait_for_acceptance_days=30, on_accepted=[step(StepType.END)])],
    )
    (lead,) = await add_leads(ws, campaign, [person(1, linkedin_url=None)])
    await pump.run()
    lead = await reload(lead)
    assert (lead.status, lead.substatus) == (S.ERROR, LeadSubstatus.LEAD_NOT_SCRAPED)
    before, _, _ = await counters.read(campaign.id)
    # when an acceptance is recorded for it
    with pytest.raises(InvalidTransition, match="never sent a LinkedIn invitation"):
        await record_lead_event(ws.id, lead.id, E.INVITATION_ACCEPTED)
    # then nothing was logged or counted, and a retry sends the invitation
    assert await activity_kinds(lead) == ["LEAD_ERROR"]
    assert (await counters.read(campaign.id))[0] == before
    from models import Contact

    await Contact.filter(id=lead.contact_id).update(linkedin_url="https://linkedin.com/in/lead1")
    await retry_lead(ws.id, lead.id)
    await pump.run()
    lead = await reload(lead)
    assert (lead.status, lead.substatus, lead.li_accepted) == (S.IN_PROGRESS, LeadSubstatus.WAITING_TO_CONNECT, False)
    assert await activity_kinds(lead) == ["LEAD_ERROR", "INVITATION_SENT"]


async def test_click_without_an_email_is_refused(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, (lead,) = await _leads_in(workspace, pump, "invited", 1)
    with pytest.raises(InvalidTransition, match="never sent an email"):
        await record_lead_event(ws.id, lead.id, E.EMAIL_CLICKED)
    numbers, _, _ = await counters.read(campaign.id)
    assert numbers.get("em_clicked", 0) == 0 and numbers.get("em_sent", 0) == 0
    assert not await Activity.filter(lead_id=lead.id, kind="EMAIL_CLICKED").exists()


async def test_a_repeated_event_is_a_no_op_even_once_the_lead_moved_on(workspace: Any, frozen: Any, pump: Pump) -> None:
    # An identical event again is a no-op, though the first one made the lead one that would refuse it now.
    ws, _ = workspace
    _, (lead,) = await _leads_in(workspace, pump, "emailed", 1)
    await record_lead_event(ws.id, lead.id, E.EMAIL_BOUNCED)
    await record_lead_event(ws.id, lead.id, E.EMAIL_BOUNCED)
    assert await activity_kinds(lead) == ["EMAIL_SENT", "EMAIL_BOUNCED"]
    # a different bounce is a second event, and the lead has already bounced
    with pytest.raises(InvalidTransition, match="already bounced"):
        await record_lead_event(ws.id, lead.id, E.EMAIL_BOUNCED, message="again")


async def test_reply_without_channel_after_an_invitation_counts_under_linkedin(
    workspace: Any, frozen: Any, pump: Pump
) -> None:
    ws, _ = workspace
    campaign, (lead,) = await _leads_in(workspace, pump, "invited", 1)
    await record_lead_event(ws.id, lead.id, E.REPLY_RECEIVED)
    lead = await reload(lead)
    assert lead.status == S.REPLIED and lead.li_replied and not lead.em_replied
    reply = await Activity.get(lead_id=lead.id, kind="REPLY_RECEIVED")
    assert reply.channel == Channel.LINKEDIN
    numbers, _, _ = await counters.read(campaign.id)
    assert numbers["replied"] == numbers.get("li_replied", 0) + numbers.get("em_replied", 0) == 1
    await assert_counters_match(campaign.id)


async def test_reply_without_channel_on_a_lead_never_acted_on_asks_for_the_channel(
    workspace: Any, frozen: Any, pump: Pump
) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), PROFILES["emailed"], status=CampaignStatus.DRAFT)
    (lead,) = await add_leads(ws, campaign, [person(1)])
    with pytest.raises(InvalidInput, match="channel") as error:
        await record_lead_event(ws.id, lead.id, E.REPLY_RECEIVED)
    assert error.value.field == ["input", "channel"]
    assert await activity_kinds(lead) == []
    # with the channel said, the contact who wrote first is REPLIED, counted under it
    await record_lead_event(ws.id, lead.id, E.REPLY_RECEIVED, channel=Channel.EMAIL)
    lead = await reload(lead)
    assert lead.status == S.REPLIED and lead.em_replied
    await assert_counters_match(campaign.id)


async def test_refusals_reach_the_client_as_user_errors(gql: Any, workspace: Any, frozen: Any, pump: Pump) -> None:
    from domain.ids import to_global_id

    ws, _ = workspace
    campaign, (invited,) = await _leads_in(workspace, pump, "invited", 1)
    draft, _ = await make_campaign(ws, await make_identity(ws), PROFILES["emailed"], status=CampaignStatus.DRAFT)
    (untouched,) = await add_leads(ws, draft, [person(9)])
    mutation = """mutation($id: ID!, $kind: LeadEventKind!) { recordLeadEvent(input: {leadId: $id, kind: $kind}) {
        lead { status } errors { code message field } } }"""
    data = await gql(mutation, {"id": to_global_id("Lead", invited.id), "kind": "EMAIL_CLICKED"})
    assert data["recordLeadEvent"] == {
        "lead": None,
        "errors": [
            {
                "code": "INVALID_TRANSITION",
                "message": "EMAIL_CLICKED cannot apply: the lead was never sent an email.",
                "field": None,
            }
        ],
    }
    data = await gql(mutation, {"id": to_global_id("Lead", untouched.id), "kind": "REPLY_RECEIVED"})
    (error,) = data["recordLeadEvent"]["errors"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", ["input", "channel"])
    numbers, _, _ = await counters.read(campaign.id)
    assert numbers.get("em_clicked", 0) == 0
