"""Lock order on PostgreSQL: a campaign change and a worker recording an action at the same moment.

A worker records an action with its lead's row already locked (the lead's compare-and-set comes first),
and the activity's foreign key then takes KEY SHARE on the campaign row. An archive (or pause) locks the
campaign row, then updates the campaign's leads. The campaign lock is FOR NO KEY UPDATE, so the worker's
insert does not wait on it: the archive waits for the worker's commit, then completes. (With FOR UPDATE
each waited on the other: PostgreSQL broke the deadlock by failing the archive with a 500, seen in the
archive-during-sends fault run under load.)
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest
from tortoise.expressions import F

from domain.activity import record_activity
from domain.lifecycle import archive_campaign, pause_campaign
from domain.tx import transaction
from models import Activity, Campaign, Lead
from models.enums import ActivityKind, CampaignStatus, Channel, StepType
from tests.engine_helpers import add_leads, make_campaign, make_identity, person, step


@pytest.mark.parametrize("change", [archive_campaign, pause_campaign], ids=["archive", "pause"])
async def test_a_campaign_change_waits_for_a_worker_recording_an_action_and_both_complete(
    workspace: Any, backend: Any, change: Any
) -> None:
    if not backend.real:
        pytest.skip("SQLite has one writer at a time: no row locks to order")
    ws, _ = workspace
    identity = await make_identity(ws)
    campaign, steps = await make_campaign(ws, identity, [step(StepType.EMAIL, subject="Hi", content="Yo")])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    lead = await Lead.get(id=lead.id)
    lead_locked = asyncio.Event()

    async def worker_records_its_send() -> None:
        async with transaction():
            await Lead.filter(id=lead.id).update(state_version=F("state_version") + 1)  # the lead's CAS
            lead_locked.set()
            await asyncio.sleep(0.5)  # meanwhile the campaign change locks the campaign, then waits for the lead
            await record_activity(lead, ActivityKind.EMAIL_SENT, channel=Channel.EMAIL, step_id=steps[0].id)

    # Each on a connection of its own (a fresh context: no transaction inherited).
    worker = asyncio.create_task(worker_records_its_send(), context=contextvars.Context())
    await lead_locked.wait()
    changing = asyncio.create_task(change(ws.id, campaign.id), context=contextvars.Context())
    await asyncio.wait_for(asyncio.gather(worker, changing), 10)

    assert (await Campaign.get(id=campaign.id)).status in (CampaignStatus.ARCHIVED, CampaignStatus.PAUSED)
    assert await Activity.filter(lead_id=lead.id, kind=ActivityKind.EMAIL_SENT).count() == 1
