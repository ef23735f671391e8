"""The bounce guard (issue 13.6): too many hard bounces among an identity's recent emails stop its email
steps (ERROR / EMAIL_DISCONNECTED, with a hint saying why); retrying a stopped lead lifts it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine import bounce_guard, channels
from engine.inbound import record_lead_event
from engine.retry import retry_lead
from models import Identity
from models.enums import LeadEventKind, LeadStatus, LeadSubstatus, StepType
from tests.engine_helpers import (
    Pump,
    add_leads,
    assert_counters_match,
    make_campaign,
    make_identity,
    person,
    reload,
    step,
)

DAY = 86400


@pytest.fixture
def guard() -> Iterator[bounce_guard.Limits]:
    limits = bounce_guard.Limits(percent=20, window=10, min_sends=5)
    bounce_guard.configure(limits)
    yield limits
    bounce_guard.configure(None)


async def test_too_many_bounces_stop_email_steps_until_a_retry(
    workspace: Any, frozen: Any, pump: Pump, guard: bounce_guard.Limits
) -> None:
    # given ten leads emailed by one identity, each with a follow-up a day later
    ws, _ = workspace
    identity = await make_identity(ws, daily_emails=100)
    campaign, _ = await make_campaign(
        ws,
        identity,
        [step(StepType.EMAIL, subject="S", content="B"), step(StepType.EMAIL, delay=DAY, subject="S2", content="B2")],
    )
    leads = await add_leads(ws, campaign, [person(i) for i in range(10)])
    await pump.run()
    assert len(channels.email_sandbox.actions) == 10
    # when two of them bounce (20%: not over the threshold), then a third (30%)
    for lead in leads[:2]:
        await record_lead_event(ws.id, lead.id, LeadEventKind.EMAIL_BOUNCED)
    assert (await Identity.get(id=identity.id)).bounce_guard_at is None
    await record_lead_event(ws.id, leads[2].id, LeadEventKind.EMAIL_BOUNCED)
    assert (await Identity.get(id=identity.id)).bounce_guard_at is not None
    # then the follow-ups do not leave: each lead waits in ERROR / EMAIL_DISCONNECTED, saying why
    frozen.advance(days=2)
    await pump.run()
    assert len(channels.email_sandbox.actions) == 10
    stopped = [await reload(lead) for lead in leads[3:]]
    assert {(lead.status, lead.substatus) for lead in stopped} == {(LeadStatus.ERROR, LeadSubstatus.EMAIL_DISCONNECTED)}
    assert "bounced" in (stopped[0].error_message or "") and "Too many bounces" in (stopped[0].error_hint or "")
    await assert_counters_match(campaign.id)
    # and retrying one (the list was checked) lifts the guard: its email leaves, and so do the others' retries
    await retry_lead(ws.id, stopped[0].id)
    assert (await Identity.get(id=identity.id)).bounce_guard_at is None
    await pump.run()
    assert len(channels.email_sandbox.actions) == 11
    assert (await reload(stopped[0])).status == LeadStatus.FINISHED
    # the bounces counted before the retry do not trip it again: the window starts at the retry
    await record_lead_event(ws.id, stopped[1].id, LeadEventKind.EMAIL_BOUNCED)
    assert (await Identity.get(id=identity.id)).bounce_guard_at is None
    await assert_counters_match(campaign.id)


async def test_below_the_minimum_sample_nothing_is_judged(
    workspace: Any, frozen: Any, pump: Pump, guard: bounce_guard.Limits
) -> None:
    ws, _ = workspace
    identity = await make_identity(ws, daily_emails=100)
    campaign, _ = await make_campaign(ws, identity, [step(StepType.EMAIL, subject="S", content="B")])
    leads = await add_leads(ws, campaign, [person(i) for i in range(4)])  # 4 < min_sends
    await pump.run()
    for lead in leads[:3]:
        await record_lead_event(ws.id, lead.id, LeadEventKind.EMAIL_BOUNCED)
    assert (await Identity.get(id=identity.id)).bounce_guard_at is None
