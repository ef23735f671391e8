"""The scheduler: claims are exclusive and leased, stale messages do nothing, the demo simulates replies."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from domain.lifecycle import archive_campaign, delete_campaign
from engine import channels, runner, scheduler, simulator
from models import Activity, Lead
from models.enums import ActivityKind, LeadStatus, StepType
from tests.engine_helpers import (
    T0,
    Pump,
    add_leads,
    assert_counters_match,
    make_campaign,
    make_identity,
    person,
    step,
)


async def test_concurrent_schedulers_claim_disjoint_leads_and_leases_expire(workspace: Any, frozen: Any) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.LINKEDIN_VISIT_PROFILE)])
    await add_leads(ws, campaign, [person(i) for i in range(120)])
    batches = await asyncio.gather(*(scheduler.claim_due_leads(T0, lease=30, limit=25) for _ in range(6)))
    claimed = [lead_id for batch in batches for lead_id, _ in batch]
    assert len(claimed) == len(set(claimed)) == 120
    assert await scheduler.claim_due_leads(T0 + timedelta(seconds=29), lease=30) == []
    # Nobody finished them (the workers died): once the lease passes they are claimed again.
    assert len(await scheduler.claim_due_leads(T0 + timedelta(seconds=30), lease=30)) == 120


async def test_only_due_leads_of_active_campaigns_are_claimed(workspace: Any, frozen: Any) -> None:
    ws, _ = workspace
    identity = await make_identity(ws)
    active, _ = await make_campaign(ws, identity, [step(StepType.LINKEDIN_VISIT_PROFILE)])
    archived, _ = await make_campaign(ws, identity, [step(StepType.LINKEDIN_VISIT_PROFILE)])
    due, later = await add_leads(ws, active, [person(1), person(2)])
    await Lead.filter(id=later.id).update(next_action_at=T0 + timedelta(minutes=1))
    await add_leads(ws, archived, [person(3)])
    await archive_campaign(ws.id, archived.id)
    assert [lead_id for lead_id, _ in await scheduler.claim_due_leads(T0)] == [due.id]


async def test_a_queued_message_does_nothing_after_archive_or_delete(workspace: Any, frozen: Any) -> None:
    ws, _ = workspace
    identity = await make_identity(ws)
    kept, _ = await make_campaign(ws, identity, [step(StepType.LINKEDIN_VISIT_PROFILE)])
    gone, _ = await make_campaign(ws, identity, [step(StepType.LINKEDIN_VISIT_PROFILE)])
    (archived_lead,) = await add_leads(ws, kept, [person(1)])
    (deleted_lead,) = await add_leads(ws, gone, [person(2)])
    claims = dict(await scheduler.claim_due_leads(T0))
    await archive_campaign(ws.id, kept.id)
    await delete_campaign(ws.id, gone.id)
    assert await runner.run_step(archived_lead.id, claims[archived_lead.id]) in {"not-due", "campaign-not-active"}
    assert await runner.run_step(deleted_lead.id, claims[deleted_lead.id]) == "gone"
    assert channels.linkedin_sandbox.actions == {}
    assert await Activity.all().count() == 0


async def test_the_demo_simulates_acceptances_and_replies(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(
        ws,
        await make_identity(ws),
        [
            step(
                StepType.LINKEDIN_CONNECTION,
                wait_for_acceptance_days=7,
                on_accepted=[step(StepType.LINKEDIN_MESSAGE, content="Thanks")],
            ),
            step(StepType.EMAIL, delay=86400, subject="S", content="B"),
        ],
        time_scale=1440,  # a day in a minute
    )
    await add_leads(ws, campaign, [person(i) for i in range(40)])
    for _ in range(30):  # a month of demo time, a minute at a time
        frozen.advance(minutes=1)
        await simulator.simulate(frozen.now())  # the lifespan runs it beside the scheduler when DEMO is on
        await pump.run()
    accepted = await Activity.filter(campaign_id=campaign.id, kind=ActivityKind.INVITATION_ACCEPTED).count()
    replies = await Activity.filter(campaign_id=campaign.id, kind=ActivityKind.REPLY_RECEIVED)
    assert 0 < accepted < 40 and replies
    assert all("simulated" in (a.detail or "") for a in replies)
    assert await Lead.filter(campaign_id=campaign.id, status=LeadStatus.REPLIED).count() == len(replies)
    assert await Lead.filter(campaign_id=campaign.id, status=LeadStatus.IN_PROGRESS).count() == 0
    await assert_counters_match(campaign.id)


async def test_the_scheduler_tick_never_simulates(workspace: Any, frozen: Any, pump: Pump) -> None:
    """Production ticks claim and enqueue only: the demo's simulated replies start from the lifespan (DEMO)."""
    ws, _ = workspace
    campaign, _ = await make_campaign(
        ws, await make_identity(ws), [step(StepType.LINKEDIN_CONNECTION, wait_for_acceptance_days=7)], time_scale=1440
    )
    await add_leads(ws, campaign, [person(i) for i in range(40)])
    for _ in range(30):
        frozen.advance(minutes=1)
        await pump.run()
    assert not await Activity.filter(campaign_id=campaign.id, kind=ActivityKind.INVITATION_ACCEPTED).exists()


async def test_real_campaigns_are_never_simulated(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.LINKEDIN_CONNECTION,
                                                                          wait_for_acceptance_days=30)])  # fmt: skip
    await add_leads(ws, campaign, [person(i) for i in range(20)])
    await pump.run()
    assert await simulator.simulate(frozen.now() + timedelta(days=29)) == 0
