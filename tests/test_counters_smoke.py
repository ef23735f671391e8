"""Counters follow lead changes made through domain.leads, and activities dedupe."""

from __future__ import annotations

from typing import Any

from domain import counters
from domain.activity import record_activity
from domain.leads import count_leads, update_lead
from domain.tx import transaction
from models import Campaign, Contact, Lead
from models.enums import ActivityKind, Channel, LeadStatus, LeadSubstatus


async def test_update_lead_keeps_counters_equal_to_recount(workspace: Any) -> None:
    ws, _ = workspace
    campaign = await Campaign.create(workspace=ws, name="C")
    contacts = [await Contact.create(workspace=ws, first_name=f"F{i}", last_name="L") for i in range(3)]
    async with transaction():
        leads = [await Lead.create(workspace=ws, campaign=campaign, contact=c) for c in contacts]
        await count_leads(ws.id, campaign.id, leads)
    async with transaction():
        assert await update_lead(
            leads[0], status=LeadStatus.IN_PROGRESS, substatus=LeadSubstatus.SCHEDULED, em_sent=True, contacted=True
        )
        first = await record_activity(leads[0], ActivityKind.EMAIL_SENT, channel=Channel.EMAIL, dedupe_key="k1")
        again = await record_activity(leads[0], ActivityKind.EMAIL_SENT, channel=Channel.EMAIL, dedupe_key="k1")
    assert first is not None and again is None
    stale = await Lead.get(id=leads[0].id)
    stale.state_version -= 1
    async with transaction():
        assert not await update_lead(stale, status=LeadStatus.FINISHED)

    numbers, version, _ = await counters.read(campaign.id)
    assert numbers == await counters.recompute(campaign.id)
    assert numbers["total"] == 3 and numbers["em_sent"] == 1 and numbers["status:NOT_STARTED"] == 2
    assert version == 2
