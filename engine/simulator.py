"""The demo's make-believe contacts: in an accelerated campaign (time_scale > 1) some invitations get
accepted and some messages get replies, over (scaled) time. Each is an ordinary inbound event, labelled
"simulated" in its activity. Deterministic per lead, and deduplicated like any event, so running it from
several schedulers at once is harmless. Real campaigns (time_scale 1) are never touched.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from models import Campaign, Lead
from models.enums import CampaignStatus, LeadEventKind, LeadStatus, LeadSubstatus

log = logging.getLogger("outbound.simulator")

ACCEPT_PERCENT = 60
REPLY_PERCENT = 20


def _roll(lead_id: int, salt: int) -> int:
    """A stable pseudo-random 0..99 per lead (the same answer from every process)."""
    return (lead_id * 2654435761 + salt * 40503) % 1000 // 10


async def simulate(now: datetime) -> int:
    scales = dict(await Campaign.filter(status=CampaignStatus.ACTIVE, time_scale__gt=1).values_list("id", "time_scale"))
    if not scales:
        return 0
    from engine.inbound import record_lead_event

    done = 0
    waiting = await Lead.filter(
        campaign_id__in=list(scales),
        status=LeadStatus.IN_PROGRESS,
        substatus=LeadSubstatus.WAITING_TO_CONNECT,
        connected=False,
        removed_at=None,
    ).values("id", "workspace_id", "campaign_id", "invitation_sent_at")
    for lead in waiting:
        roll = _roll(lead["id"], 1)
        if roll >= ACCEPT_PERCENT or lead["invitation_sent_at"] is None:
            continue
        after = timedelta(hours=6 + roll) / scales[lead["campaign_id"]]
        if now >= lead["invitation_sent_at"] + after:
            await _event(record_lead_event, lead, LeadEventKind.INVITATION_ACCEPTED)
            done += 1
    contacted = await Lead.filter(
        campaign_id__in=list(scales), status=LeadStatus.IN_PROGRESS, contacted=True, replied=False, removed_at=None
    ).values("id", "workspace_id", "campaign_id", "last_action_at")
    for lead in contacted:
        roll = _roll(lead["id"], 2)
        if roll >= REPLY_PERCENT or lead["last_action_at"] is None:
            continue
        after = timedelta(hours=12 + 3 * roll) / scales[lead["campaign_id"]]
        if now >= lead["last_action_at"] + after:
            await _event(record_lead_event, lead, LeadEventKind.REPLY_RECEIVED, positive=roll % 2 == 0)
            done += 1
    return done


async def _event(record, lead: dict, kind: LeadEventKind, **extra: object) -> None:
    try:
        await record(lead["workspace_id"], lead["id"], kind, simulated=True, **extra)
    except Exception:  # one odd lead must not stop the demo
        log.exception("simulated %s for lead %s failed", kind.value, lead["id"])
