"""Daily caps, the monthly conversation quota, InMail credits and working hours, on a controllable clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from domain.lifecycle import pause_campaign, resume_campaign
from engine import channels, runner, usage
from models import Identity, IdentityUsage, Lead
from models.enums import LeadStatus, LeadSubstatus, StepType
from tests.engine_helpers import (
    Pump,
    add_leads,
    assert_counters_match,
    make_campaign,
    make_identity,
    person,
    reload,
    statuses,
    step,
)

S = LeadSubstatus
EMAIL = step(StepType.EMAIL, subject="Hi", content="Body")


async def test_daily_email_cap_waits_for_the_next_local_day(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    # 23:30 UTC on Monday is already Tuesday in Madrid: the cap counts per Madrid day.
    frozen.set(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))
    identity = await make_identity(ws, daily_emails=3, timezone="Europe/Madrid")
    campaign, _ = await make_campaign(ws, identity, [EMAIL])
    await add_leads(ws, campaign, [person(i) for i in range(5)])
    await pump.run()
    assert await statuses(campaign) == {("FINISHED", "COMPLETED"): 3, ("IN_PROGRESS", "IDENTITY_LIMITS"): 2}
    waiting = await Lead.filter(campaign_id=campaign.id, substatus=S.IDENTITY_LIMITS).first()
    assert waiting is not None and waiting.next_action_at == datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
    assert await IdentityUsage.filter(identity_id=identity.id, kind="email", period="2026-03-03").values_list(
        "used", flat=True
    ) == [3]
    await assert_counters_match(campaign.id)

    frozen.set(datetime(2026, 3, 3, 23, 0, tzinfo=UTC))
    await pump.run()
    assert await statuses(campaign) == {("FINISHED", "COMPLETED"): 5}
    assert len(channels.email_sandbox.actions) == 5


async def test_two_workers_never_exceed_a_cap(workspace: Any, frozen: Any) -> None:
    ws, _ = workspace
    identity = await make_identity(ws, daily_connection_requests=20)
    campaign, _ = await make_campaign(ws, identity, [step(StepType.LINKEDIN_CONNECTION, wait_for_acceptance_days=3)])
    leads = await add_leads(ws, campaign, [person(i) for i in range(30)])
    # Every lead decided at once: all see 0 used, only 20 reservations can succeed.
    await asyncio.gather(*(runner.run_step(lead.id) for lead in leads))
    assert await statuses(campaign) == {
        ("IN_PROGRESS", "WAITING_TO_CONNECT"): 20,
        ("IN_PROGRESS", "IDENTITY_LIMITS"): 10,
    }
    assert len(channels.linkedin_sandbox.actions) == 20
    assert await IdentityUsage.filter(identity_id=identity.id, kind="connection").values_list("used", flat=True) == [20]
    await assert_counters_match(campaign.id)


async def test_reservations_are_atomic(workspace: Any, frozen: Any) -> None:
    ws, _ = workspace
    identity = await make_identity(ws)
    results = await asyncio.gather(*(usage.reserve(identity.id, "email", "2026-03-02", 7) for _ in range(20)))
    assert results.count(True) == 7


async def test_monthly_conversation_limit(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    identity = await make_identity(ws, monthly_conversations=2)
    campaign, _ = await make_campaign(ws, identity, [EMAIL])
    await add_leads(ws, campaign, [person(i) for i in range(3)])
    await pump.run()
    assert await statuses(campaign) == {("FINISHED", "COMPLETED"): 2, ("IN_PROGRESS", "MONTHLY_CONVERSATION_LIMIT"): 1}
    waiting = await Lead.get(campaign_id=campaign.id, substatus=S.MONTHLY_CONVERSATION_LIMIT)
    assert waiting.next_action_at == datetime(2026, 4, 1, tzinfo=UTC)


async def test_inmail_credits_are_a_balance(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    identity = await make_identity(ws, inmail_credits=1)
    campaign, _ = await make_campaign(ws, identity, [step(StepType.LINKEDIN_INMAIL, subject="S", content="B")])
    await add_leads(ws, campaign, [person(1), person(2)])
    await pump.run()
    assert await statuses(campaign) == {("FINISHED", "COMPLETED"): 1, ("ERROR", "INMAIL_CREDITS_LIMIT"): 1}
    assert (await Identity.get(id=identity.id)).inmail_credits == 0
    await assert_counters_match(campaign.id)


async def test_working_hours_with_the_clock(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    frozen.set(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))  # Saturday
    identity = await make_identity(ws, timezone="America/New_York", work_days=0b0011111, work_start="09:00",
                                   work_end="17:00")  # fmt: skip
    campaign, _ = await make_campaign(ws, identity, [step(StepType.LINKEDIN_VISIT_PROFILE)])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    await pump.run()
    lead = await reload(lead)
    # Monday 9 March 09:00 in New York is 13:00 UTC (EDT started on Sunday 8 March).
    assert (lead.status, lead.substatus) == (LeadStatus.IN_PROGRESS, S.OUTSIDE_WORKING_HOURS)
    assert lead.next_action_at == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert lead.started_at is not None

    frozen.set(datetime(2026, 3, 9, 12, 59, tzinfo=UTC))
    await pump.run()
    assert (await reload(lead)).substatus == S.OUTSIDE_WORKING_HOURS
    frozen.set(datetime(2026, 3, 9, 13, 0, tzinfo=UTC))
    await pump.run()
    assert (await reload(lead)).status == LeadStatus.FINISHED


async def test_pause_mid_run_stops_within_a_tick_and_resume_continues(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(
        ws, await make_identity(ws), [step(StepType.LINKEDIN_VISIT_PROFILE), step(StepType.EMAIL, delay=3600,
                                                                                  subject="S", content="B")]
    )  # fmt: skip
    leads = await add_leads(ws, campaign, [person(i) for i in range(6)])
    await pump.run()
    # The scheduler claims the email step, but the campaign is paused before the messages are processed.
    frozen.advance(hours=1)
    from engine import scheduler

    await scheduler.tick()
    queued = list(pump.inbox)
    pump.inbox.clear()
    assert len(queued) == 6
    await pause_campaign(ws.id, campaign.id)
    results = [await runner.run_step(lead_id, version) for lead_id, version in queued]
    assert set(results) <= {"stale", "not-due", "campaign-not-active"}
    assert len(channels.email_sandbox.actions) == 0
    assert await statuses(campaign) == {("PAUSED", "CAMPAIGN_PAUSED"): 6}
    await pump.run()
    assert len(channels.email_sandbox.actions) == 0

    await resume_campaign(ws.id, campaign.id)
    await pump.run()
    assert await statuses(campaign) == {("FINISHED", "COMPLETED"): 6}
    assert len(channels.email_sandbox.actions) == len(leads)
    await assert_counters_match(campaign.id)
