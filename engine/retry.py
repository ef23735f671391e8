"""retryLead: an ERROR lead re-runs the step that failed, under a new attempt (a new exactly-once key)."""

from __future__ import annotations

from typing import Any

from domain.errors import InvalidTransition, NotFound
from domain.leads import update_lead
from domain.problems import BOUNCE_GUARD
from domain.steps import stamp
from domain.tx import transaction
from engine import bounce_guard, clock
from models import Campaign, Lead
from models.enums import CampaignStatus, LeadStatus, LeadSubstatus

CAS_ATTEMPTS = 5


async def retry_lead(workspace_id: int, lead_id: int) -> Lead:
    for _ in range(CAS_ATTEMPTS):
        lead = await Lead.get_or_none(id=lead_id, workspace_id=workspace_id, removed_at=None)
        if lead is None:
            raise NotFound("No such lead.", ["id"])
        if not lead.can_retry():
            raise InvalidTransition(f"Only a lead in ERROR can be retried; this one is {lead.status.value}.", ["id"])
        campaign = await Campaign.get(id=lead.campaign_id)
        if campaign.status not in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED):
            raise InvalidTransition(f"The campaign is {campaign.status.value}: nothing runs in it.", ["id"])
        now = clock.now()
        # Retrying a lead the bounce guard stopped is the person saying the list was checked: it lifts.
        guarded = lead.substatus == LeadSubstatus.EMAIL_DISCONNECTED and lead.error_hint == BOUNCE_GUARD[1]
        changes: dict[str, Any] = {
            "attempt": lead.attempt + 1,
            "error_message": None,
            "error_hint": None,
            "error_at": None,
            "claimed_until": None,
        }
        if campaign.status == CampaignStatus.PAUSED:
            # Resume gives it back scheduled at once, as if the retry had waited out the pause.
            changes |= {
                "status": LeadStatus.PAUSED,
                "substatus": LeadSubstatus.CAMPAIGN_PAUSED,
                "next_action_at": None,
                "paused_state": {
                    "status": LeadStatus.IN_PROGRESS.value,
                    "substatus": LeadSubstatus.SCHEDULED.value,
                    "next_action_at": stamp(now),
                },
            }
        else:
            changes |= {"status": LeadStatus.IN_PROGRESS, "substatus": LeadSubstatus.SCHEDULED, "next_action_at": now}
        async with transaction():
            if await update_lead(lead, **changes):
                if guarded and campaign.identity_id:
                    await bounce_guard.lift(campaign.identity_id, now)
                return lead
    raise InvalidTransition("The lead is changing too fast; try again.", ["id"])
