"""recordLeadEvent: each event recorded once, counted once, and moving the lead as domain.md says."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain import counters
from domain.errors import InvalidTransition, NotFound
from domain.ids import to_global_id
from engine.inbound import record_lead_event
from models import Activity, Identity, Task
from models.enums import ActivityKind, Channel, LeadEventKind, LeadStatus, LeadSubstatus, StepType
from tests.engine_helpers import (
    T0,
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


async def _emailed(workspace: Any, pump: Pump, count: int = 1) -> tuple[Any, list[Any]]:
    ws, _ = workspace
    campaign, _ = await make_campaign(
        ws,
        await make_identity(ws),
        [step(StepType.EMAIL, subject="S", content="B"), step(StepType.LINKEDIN_VISIT_PROFILE, delay=86400)],
    )
    leads = await add_leads(ws, campaign, [person(i) for i in range(count)])
    await pump.run()
    return campaign, [await reload(lead) for lead in leads]


async def test_reply_counts_once_under_the_last_channel(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, (lead,) = await _emailed(workspace, pump)
    for _ in range(2):
        lead = await record_lead_event(ws.id, lead.id, E.REPLY_RECEIVED, positive=True, message="Interested!")
    lead = await reload(lead)
    assert (lead.status, lead.substatus, lead.current_step_id, lead.next_action_at) == (
        LeadStatus.REPLIED,
        None,
        None,
        None,
    )
    assert lead.replied and lead.em_replied and not lead.li_replied and lead.positive and lead.replied_at == T0
    assert await activity_kinds(lead) == ["EMAIL_SENT", "REPLY_RECEIVED"]
    reply = await Activity.get(lead_id=lead.id, kind=ActivityKind.REPLY_RECEIVED)
    assert reply.channel == Channel.EMAIL and "Interested!" in reply.detail
    numbers, _, _ = await counters.read(campaign.id)
    assert (numbers["replied"], numbers["em_replied"], numbers["positive"], numbers["em_positive"]) == (1, 1, 1, 1)
    await assert_counters_match(campaign.id)

    # A different reply on LinkedIn is a new event: recorded, counted under LinkedIn too, lead stays REPLIED.
    await record_lead_event(ws.id, lead.id, E.REPLY_RECEIVED, channel=Channel.LINKEDIN, message="Also here")
    lead = await reload(lead)
    assert lead.li_replied and lead.status == LeadStatus.REPLIED
    await assert_counters_match(campaign.id)


@pytest.mark.parametrize(
    ("kind", "substatus", "activity"),
    [
        (E.EMAIL_BOUNCED, LeadSubstatus.BOUNCED, "EMAIL_BOUNCED"),
        (E.OUT_OF_OFFICE, LeadSubstatus.OUT_OF_OFFICE, "OUT_OF_OFFICE"),
        (E.BLOCKED, LeadSubstatus.BLOCKED, "BLOCKED"),
    ],
)
async def test_finishing_events(
    workspace: Any, frozen: Any, pump: Pump, kind: E, substatus: LeadSubstatus, activity: str
) -> None:
    ws, _ = workspace
    campaign, (lead,) = await _emailed(workspace, pump)
    await record_lead_event(ws.id, lead.id, kind)
    await record_lead_event(ws.id, lead.id, kind)
    lead = await reload(lead)
    assert (lead.status, lead.substatus, lead.current_step_id, lead.finished_at) == (
        LeadStatus.FINISHED,
        substatus,
        None,
        T0,
    )
    assert lead.em_bounced == (kind == E.EMAIL_BOUNCED)
    assert await activity_kinds(lead) == ["EMAIL_SENT", activity]
    await pump.run(datetime(2026, 3, 9, tzinfo=UTC))  # nothing more runs for it
    assert await activity_kinds(lead) == ["EMAIL_SENT", activity]
    await assert_counters_match(campaign.id)


async def test_no_reply_after_a_bounce_but_after_other_finishes(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    _, (bounced, away) = await _emailed(workspace, pump, count=2)
    await record_lead_event(ws.id, bounced.id, E.EMAIL_BOUNCED)
    with pytest.raises(InvalidTransition):
        await record_lead_event(ws.id, bounced.id, E.REPLY_RECEIVED)
    await record_lead_event(ws.id, away.id, E.OUT_OF_OFFICE)
    await record_lead_event(ws.id, away.id, E.REPLY_RECEIVED, message="Back now")
    assert (await reload(away)).status == LeadStatus.REPLIED


async def test_click_counts_once(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, (lead,) = await _emailed(workspace, pump)
    at = datetime(2026, 3, 2, 11, tzinfo=UTC)
    await record_lead_event(ws.id, lead.id, E.EMAIL_CLICKED, occurred_at=at)
    await record_lead_event(ws.id, lead.id, E.EMAIL_CLICKED, occurred_at=at)
    lead = await reload(lead)
    assert lead.em_clicked and lead.status == LeadStatus.IN_PROGRESS
    assert await activity_kinds(lead) == ["EMAIL_SENT", "EMAIL_CLICKED"]
    numbers, _, _ = await counters.read(campaign.id)
    assert numbers["em_clicked"] == 1


async def test_foreign_lead_is_not_found(workspace: Any, other_workspace: Any, frozen: Any, pump: Pump) -> None:
    _, (lead,) = await _emailed(workspace, pump)
    with pytest.raises(NotFound):
        await record_lead_event(other_workspace[0].id, lead.id, E.REPLY_RECEIVED)


async def test_mutations_through_graphql(gql: Any, workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.TASK, title="Call")])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    await pump.run()
    lead_id = to_global_id("Lead", lead.id)
    data = await gql(
        """mutation($id: ID!) { recordLeadEvent(input: {leadId: $id, kind: REPLY_RECEIVED, positive: true,
             channel: LINKEDIN, message: "Yes"}) { lead { status positive } errors { code } } }""",
        {"id": lead_id},
    )
    assert data["recordLeadEvent"] == {"lead": {"status": "REPLIED", "positive": True}, "errors": []}
    data = await gql("mutation($id: ID!) { retryLead(id: $id) { lead { status } errors { code } } }", {"id": lead_id})
    assert data["retryLead"] == {"lead": None, "errors": [{"code": "INVALID_TRANSITION"}]}
    data = await gql(
        "mutation($id: ID!) { completeTask(id: $id) { task { status } errors { code } } }",
        {"id": to_global_id("Task", 999999)},
    )
    assert data["completeTask"] == {"task": None, "errors": [{"code": "NOT_FOUND"}]}


async def test_acceptance_while_paused_takes_the_accepted_branch_on_resume(
    workspace: Any, frozen: Any, pump: Pump
) -> None:
    from domain.lifecycle import pause_campaign, resume_campaign

    ws, _ = workspace
    campaign, _ = await make_campaign(
        ws,
        await make_identity(ws),
        [
            step(
                StepType.LINKEDIN_CONNECTION,
                wait_for_acceptance_days=30,
                on_accepted=[step(StepType.LINKEDIN_VISIT_PROFILE)],
            )
        ],
    )
    (lead,) = await add_leads(ws, campaign, [person(1)])
    await pump.run()
    await pause_campaign(ws.id, campaign.id)
    await record_lead_event(ws.id, lead.id, E.INVITATION_ACCEPTED)
    assert (await reload(lead)).status == LeadStatus.PAUSED
    await resume_campaign(ws.id, campaign.id)
    await pump.run()
    lead = await reload(lead)
    assert (lead.status, lead.substatus) == (LeadStatus.FINISHED, LeadSubstatus.COMPLETED)
    assert await activity_kinds(lead) == ["INVITATION_SENT", "INVITATION_ACCEPTED", "PROFILE_VISITED"]
    await assert_counters_match(campaign.id)


async def test_retry_and_complete_task_through_graphql(gql: Any, workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    identity = await make_identity(ws, email_connected=False)
    campaign, _ = await make_campaign(
        ws, identity, [step(StepType.EMAIL, subject="S", content="B"), step(StepType.TASK, title="Call")]
    )
    (lead,) = await add_leads(ws, campaign, [person(1)])
    await pump.run()
    lead_id = to_global_id("Lead", lead.id)
    data = await gql(
        "query($id: ID!) { lead(id: $id) { status substatus error { substatus message hint } currentStep { type } } }",
        {"id": lead_id},
    )
    assert data["lead"]["status"] == "ERROR" and data["lead"]["currentStep"] == {"type": "EMAIL"}
    assert data["lead"]["error"]["substatus"] == "EMAIL_DISCONNECTED" and data["lead"]["error"]["hint"]

    await Identity.filter(id=identity.id).update(email_connected=True)
    data = await gql(
        "mutation($id: ID!) { retryLead(id: $id) { lead { status substatus error { message } } errors { code } } }",
        {"id": lead_id},
    )
    assert data["retryLead"] == {
        "lead": {"status": "IN_PROGRESS", "substatus": "SCHEDULED", "error": None},
        "errors": [],
    }
    await pump.run()
    task = await Task.get(lead_id=lead.id)
    data = await gql(
        "mutation($id: ID!) { completeTask(id: $id) { task { status completedAt lead { status } } errors { code } } }",
        {"id": to_global_id("Task", task.id)},
    )
    assert data["completeTask"]["errors"] == []
    assert data["completeTask"]["task"]["status"] == "COMPLETED"
    assert data["completeTask"]["task"]["lead"]["status"] == "FINISHED"
    data = await gql(
        "mutation($id: ID!) { completeTask(id: $id) { task { status } errors { code } } }",
        {"id": to_global_id("Task", task.id)},
    )
    assert data["completeTask"] == {"task": None, "errors": [{"code": "INVALID_TRANSITION"}]}
    await assert_counters_match(campaign.id)
