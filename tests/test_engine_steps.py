"""Each step type run by the engine, with the scheduler and run_step pumped in order (tests/engine_helpers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.errors import InvalidTransition
from engine import channels
from engine.inbound import record_lead_event
from engine.manual_tasks import complete_task
from models import Activity, Task
from models.enums import (
    ActivityKind,
    ConditionType,
    LeadEventKind,
    LeadStatus,
    LeadSubstatus,
    StepType,
    TaskStatus,
)
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

DAY = 86400


async def test_linear_sequence_runs_every_action_and_finishes(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    identity = await make_identity(ws)
    campaign, steps = await make_campaign(
        ws,
        identity,
        [
            step(StepType.LINKEDIN_VISIT_PROFILE),
            step(StepType.LINKEDIN_LIKE_LAST_POST, delay=3600),
            step(StepType.EMAIL, delay=DAY, subject="Hi {{firstName}}", content="Hello {{firstName}} at {{company}}"),
        ],
    )
    (lead,) = await add_leads(ws, campaign, [person(1)])

    await pump.run()
    lead = await reload(lead)
    assert (lead.status, lead.substatus) == (LeadStatus.IN_PROGRESS, LeadSubstatus.SCHEDULED)
    assert lead.current_step_id == steps[1].id
    assert lead.next_action_at == T0 + timedelta(hours=1)
    assert lead.li_engaged and lead.started_at == T0

    frozen.advance(hours=1)
    await pump.run()
    lead = await reload(lead)
    assert lead.current_step_id == steps[2].id and lead.next_action_at == T0 + timedelta(hours=1, days=1)

    frozen.advance(days=1)
    await pump.run()
    lead = await reload(lead)
    assert (lead.status, lead.substatus, lead.current_step_id) == (LeadStatus.FINISHED, LeadSubstatus.COMPLETED, None)
    assert lead.em_sent and lead.contacted and lead.last_channel == "EMAIL"
    assert await activity_kinds(lead) == ["PROFILE_VISITED", "POST_LIKED", "EMAIL_SENT"]
    (sent,) = channels.email_sandbox.actions.values()
    assert (sent.subject, sent.body) == ("Hi First1", "Hello First1 at Company1")
    email = await Activity.get(lead_id=lead.id, kind=ActivityKind.EMAIL_SENT)
    assert email.external_id == sent.external_id and email.dedupe_key == f"{lead.id}:{steps[2].id}:0"
    await assert_counters_match(campaign.id)


async def test_connection_accepted_takes_the_accepted_branch(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    identity = await make_identity(ws)
    campaign, steps = await make_campaign(
        ws,
        identity,
        [
            step(
                StepType.LINKEDIN_CONNECTION,
                content="Hi {{firstName}}",
                wait_for_acceptance_days=7,
                on_accepted=[step(StepType.LINKEDIN_MESSAGE, delay=3600, content="Thanks {{firstName}}")],
                on_not_accepted=[step(StepType.EMAIL, subject="Hello", content="Missed you")],
            ),
            step(StepType.END),
        ],
    )
    accepted, ignored = await add_leads(ws, campaign, [person(1), person(2)])
    await pump.run()
    for lead in (accepted, ignored):
        lead = await reload(lead)
        assert (lead.status, lead.substatus) == (LeadStatus.IN_PROGRESS, LeadSubstatus.WAITING_TO_CONNECT)
        assert lead.next_action_at == T0 + timedelta(days=7) and lead.current_step_id == steps[0].id
        assert lead.li_invited and lead.invitation_sent_at == T0

    frozen.advance(days=2)
    await record_lead_event(ws.id, accepted.id, LeadEventKind.INVITATION_ACCEPTED)
    lead = await reload(accepted)
    assert lead.connected and lead.li_accepted and lead.current_step_id == steps[1].id
    assert lead.next_action_at == T0 + timedelta(days=2, hours=1)
    frozen.advance(hours=1)
    await pump.run()
    lead = await reload(accepted)
    assert (lead.status, lead.substatus) == (LeadStatus.FINISHED, LeadSubstatus.COMPLETED)
    assert await activity_kinds(lead) == ["INVITATION_SENT", "INVITATION_ACCEPTED", "LINKEDIN_MESSAGE_SENT"]
    assert channels.linkedin_sandbox.actions[f"{lead.id}:{steps[1].id}:0"].body == "Thanks First1"

    frozen.advance(days=5)
    await pump.run()
    lead = await reload(ignored)
    assert (lead.status, lead.substatus) == (LeadStatus.FINISHED, LeadSubstatus.COMPLETED)
    assert await activity_kinds(lead) == ["INVITATION_SENT", "INVITATION_WITHDRAWN", "EMAIL_SENT"]
    assert not lead.connected
    await assert_counters_match(campaign.id)


async def test_message_to_someone_not_connected_finishes_not_connected(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, steps = await make_campaign(ws, await make_identity(ws), [step(StepType.LINKEDIN_MESSAGE, content="Hi")])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    await pump.run()
    lead = await reload(lead)
    assert (lead.status, lead.substatus, lead.current_step_id) == (
        LeadStatus.FINISHED,
        LeadSubstatus.NOT_CONNECTED,
        None,
    )
    # Nothing was sent, but the finish is logged at the message step with why (tests/test_engine_traces.py).
    (trace,) = await Activity.filter(lead_id=lead.id)
    assert (trace.kind, trace.step_id) == (ActivityKind.LEAD_FINISHED, steps[0].id)
    assert not channels.linkedin_sandbox.actions


async def test_condition_branches_without_activity(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, _steps = await make_campaign(
        ws,
        await make_identity(ws),
        [
            step(
                StepType.CONDITION,
                condition=ConditionType.HAS_EMAIL,
                on_true=[step(StepType.EMAIL, subject="S", content="B")],
                on_false=[step(StepType.LINKEDIN_VISIT_PROFILE)],
            ),
            step(StepType.LINKEDIN_LIKE_LAST_POST),
        ],
    )
    with_email, without = await add_leads(ws, campaign, [person(1), person(2, email=None)])
    await pump.run()
    assert await activity_kinds(with_email) == ["EMAIL_SENT", "POST_LIKED"]
    assert await activity_kinds(without) == ["PROFILE_VISITED", "POST_LIKED"]
    for lead in (with_email, without):
        assert (await reload(lead)).status == LeadStatus.FINISHED
    await assert_counters_match(campaign.id)


async def test_task_waits_until_completed(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, steps = await make_campaign(
        ws,
        await make_identity(ws),
        [step(StepType.TASK, title="Call {{firstName}}", content="Ask about X"), step(StepType.END)],
    )
    (lead,) = await add_leads(ws, campaign, [person(1)])
    await pump.run()
    await pump.run()  # a second pass changes nothing: the lead waits for the person
    lead = await reload(lead)
    assert (lead.status, lead.substatus, lead.next_action_at) == (
        LeadStatus.IN_PROGRESS,
        LeadSubstatus.WAITING_FOR_TASK,
        None,
    )
    task = await Task.get(lead_id=lead.id)
    assert (task.status, task.title, task.note, task.step_id) == (
        TaskStatus.PENDING,
        "Call {{firstName}}",
        "Ask about X",
        steps[0].id,
    )
    await assert_counters_match(campaign.id)

    await complete_task(ws.id, task.id)
    lead = await reload(lead)
    assert lead.current_step_id == steps[1].id and lead.substatus == LeadSubstatus.SCHEDULED
    await pump.run()
    lead = await reload(lead)
    assert (lead.status, lead.substatus) == (LeadStatus.FINISHED, LeadSubstatus.COMPLETED)
    assert await activity_kinds(lead) == ["TASK_CREATED", "TASK_COMPLETED"]
    assert await Task.filter(lead_id=lead.id).count() == 1
    await assert_counters_match(campaign.id)
    with pytest.raises(InvalidTransition):
        await complete_task(ws.id, task.id)
