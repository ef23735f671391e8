"""Each step type run by the engine, with the scheduler and run_step pumped in order (tests/engine_helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine import channels, clock
from models import Activity
from models.enums import (
    ActivityKind,
    LeadStatus,
    LeadSubstatus,
    StepType,
)
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

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
DAY = 86400


@pytest.fixture
def frozen() -> Iterator[clock.FrozenClock]:
    frozen = clock.FrozenClock(T0)
    clock.set_clock(frozen)
    channels.linkedin_sandbox.clear()
    channels.email_sandbox.clear()
    channels.configure(None)
    yield frozen
    clock.reset_clock()


@pytest.fixture
def pump(monkeypatch: pytest.MonkeyPatch) -> Pump:
    return Pump(monkeypatch)


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
