"""A campaign's audience: adding and removing leads, pausing and resuming one lead by hand.

Partial success is the rule for list inputs: each refused item gets its own error (field
["contactIds", "<index>"] / ["leadIds", "<index>"]) and the others go through. A list over MAX_ITEMS is one
INVALID_INPUT and changes nothing.

Lock order (PostgreSQL): the campaign row first (so a concurrent launch/pause/resume sees the leads added
here, and vice versa), then lead rows, then counter rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import F
from tortoise.functions import Count

from domain import counters, funnel_count
from domain.errors import (
    AlreadyInCampaign,
    DomainError,
    InvalidInput,
    InvalidTransition,
    LeadPreviouslyRemoved,
    NotFound,
    Suppressed,
)
from domain.leads import apply_bulk_delta, update_lead
from domain.lifecycle import get_campaign
from domain.steps import stamp, unstamp
from domain.suppressions import suppressed
from domain.tx import transaction
from models import Campaign, Contact, Lead, Task
from models.enums import CampaignStatus, LeadStatus, LeadSubstatus

MAX_ITEMS = 1000
#: update_lead is a compare-and-set: a lead the engine changed meanwhile is re-read and decided again.
CAS_ATTEMPTS = 5


def check_cap(items: Sequence[Any], field: str) -> None:
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"At most {MAX_ITEMS} items per call (got {len(items)}).", [field])


def _refuse_archived(campaign: Campaign, field: str) -> None:
    if campaign.status == CampaignStatus.ARCHIVED:
        raise InvalidTransition("An archived campaign's audience cannot change.", [field])


async def add_leads(
    workspace_id: int, campaign_id: int | None, contact_ids: Sequence[int | None]
) -> tuple[list[Lead], list[DomainError]]:
    """Contacts -> NOT_STARTED leads (due now if the campaign is ACTIVE). Returns (added, refused)."""
    check_cap(contact_ids, "contactIds")
    async with transaction():
        campaign = await get_campaign(workspace_id, campaign_id, "campaignId", lock=True)
        _refuse_archived(campaign, "campaignId")
        wanted = {c for c in contact_ids if c is not None}
        emails = dict(await Contact.filter(id__in=wanted, workspace_id=workspace_id).values_list("id", "email"))
        known = set(emails)
        blocked = await suppressed(workspace_id, [e for e in emails.values() if e])
        existing = {
            row["contact_id"]: row["removed_at"]
            for row in await Lead.filter(campaign_id=campaign.id, contact_id__in=known).values(
                "contact_id", "removed_at"
            )
        }
        errors: list[DomainError] = []
        to_add: list[int] = []
        for i, contact_id in enumerate(contact_ids):
            field = ["contactIds", str(i)]
            if contact_id is None or contact_id not in known:
                errors.append(NotFound("No such contact.", field))
            elif emails[contact_id] in blocked:
                errors.append(
                    Suppressed(f"This contact is on the suppression list ({blocked[emails[contact_id]]}).", field)
                )
            elif contact_id in existing and existing[contact_id] is not None:
                errors.append(
                    LeadPreviouslyRemoved("This contact was removed from the campaign: it cannot come back.", field)
                )
            elif contact_id in existing or contact_id in to_add:
                errors.append(AlreadyInCampaign("This contact is already in the campaign.", field))
            else:
                to_add.append(contact_id)
        if not to_add:
            return [], errors
        now = datetime.now(UTC)
        state: dict[str, Any] = {"status": LeadStatus.NOT_STARTED}
        if campaign.status == CampaignStatus.ACTIVE:
            state["next_action_at"] = now  # leads added to a running campaign start on their own
        elif campaign.status == CampaignStatus.PAUSED:
            # Paused with the campaign: resume makes them NOT_STARTED and due at once.
            state = {
                "status": LeadStatus.PAUSED,
                "substatus": LeadSubstatus.CAMPAIGN_PAUSED,
                "paused_state": {
                    "status": LeadStatus.NOT_STARTED.value,
                    "substatus": None,
                    "next_action_at": stamp(now),
                },
            }
        await Lead.bulk_create(
            [
                Lead(workspace_id=workspace_id, campaign_id=campaign.id, contact_id=cid, added_at=now, **state)
                for cid in to_add
            ],
            batch_size=500,
        )
        leads = {lead.contact_id: lead for lead in await Lead.filter(campaign_id=campaign.id, contact_id__in=to_add)}
        added = [leads[cid] for cid in to_add]
        await apply_bulk_delta(workspace_id, campaign.id, counters.merge(counters.lead_keys(lead) for lead in added))
        return added, errors


async def remove_leads(
    workspace_id: int, campaign_id: int | None, lead_ids: Sequence[int | None]
) -> tuple[list[int], list[DomainError]]:
    """Tombstone leads: removed_at set (row and activity kept), out of every counter, nothing scheduled."""
    check_cap(lead_ids, "leadIds")
    async with transaction():
        campaign = await get_campaign(workspace_id, campaign_id, "campaignId", lock=True)
        _refuse_archived(campaign, "campaignId")
        wanted = {i for i in lead_ids if i is not None}
        leads = {
            lead.id: lead
            for lead in await Lead.filter(
                id__in=wanted, campaign_id=campaign.id, workspace_id=workspace_id, removed_at=None
            ).select_for_update()
        }
        errors: list[DomainError] = []
        removed: list[int] = []
        for i, lead_id in enumerate(lead_ids):
            if lead_id is None or lead_id not in leads:
                errors.append(NotFound("No such lead in this campaign.", ["leadIds", str(i)]))
            elif lead_id not in removed:
                removed.append(lead_id)
        if not removed:
            return [], errors
        # The rows are locked: the counter delta computed from them is exactly what the UPDATE takes away.
        # Their funnel facts first (counted while they are still in the campaign; replied/positive are
        # lead keys, taken away below with the others).
        delta: Counter[str] = Counter()
        delta.subtract(await funnel_count.recount(campaign.id, removed))
        await Lead.filter(id__in=removed).update(
            removed_at=datetime.now(UTC), next_action_at=None, state_version=F("state_version") + 1
        )
        for lead_id in removed:
            delta.subtract(counters.lead_keys(leads[lead_id]))
        # Tasks count only while their lead is in the campaign.
        for row in (
            await Task.filter(lead_id__in=removed).group_by("status").annotate(n=Count("id")).values("status", "n")
        ):
            delta[counters.task_key(row["status"])] -= row["n"]
        await apply_bulk_delta(workspace_id, campaign.id, {k: v for k, v in delta.items() if v})
        return removed, errors


async def _lead_and_campaign(workspace_id: int, lead_id: int | None) -> tuple[Lead, Campaign]:
    lead = None if lead_id is None else await Lead.get_or_none(id=lead_id, workspace_id=workspace_id, removed_at=None)
    if lead is None:
        raise NotFound("No such lead.", ["id"])
    # The campaign's lock first: a campaign pause/resume cannot run between our read and our write.
    campaign = await get_campaign(workspace_id, lead.campaign_id, lock=True)
    return lead, campaign


async def _reread(lead: Lead) -> Lead:
    fresh = await Lead.get_or_none(id=lead.id, removed_at=None)
    if fresh is None:
        raise NotFound("No such lead.", ["id"])
    return fresh


async def pause_lead(workspace_id: int, lead_id: int | None) -> Lead:
    """NOT_STARTED / IN_PROGRESS / ERROR -> PAUSED / PAUSED_MANUALLY, remembering what it was."""
    async with transaction():
        lead, campaign = await _lead_and_campaign(workspace_id, lead_id)
        for _ in range(CAS_ATTEMPTS):
            if campaign.status == CampaignStatus.ARCHIVED or not lead.can_pause():
                raise InvalidTransition(f"A {lead.status.value} lead cannot be paused.", ["id"])
            snapshot = {
                "status": lead.status.value,
                "substatus": lead.substatus.value if lead.substatus else None,
                "next_action_at": stamp(lead.next_action_at),
            }
            if await update_lead(
                lead,
                status=LeadStatus.PAUSED,
                substatus=LeadSubstatus.PAUSED_MANUALLY,
                paused_state=snapshot,
                next_action_at=None,
            ):
                return lead
            lead = await _reread(lead)
        raise InvalidTransition("The lead is changing right now; try again.", ["id"])


async def resume_lead(workspace_id: int, lead_id: int | None) -> Lead:
    """PAUSED_MANUALLY -> what it was; in a PAUSED campaign, paused with the campaign instead."""
    async with transaction():
        lead, campaign = await _lead_and_campaign(workspace_id, lead_id)
        now = datetime.now(UTC)
        for _ in range(CAS_ATTEMPTS):
            if campaign.status == CampaignStatus.ARCHIVED or not lead.can_resume():
                raise InvalidTransition("Only a lead paused by hand can be resumed.", ["id"])
            state = dict(lead.paused_state or {})
            status = LeadStatus(state.get("status") or LeadStatus.NOT_STARTED)
            # Paused while DRAFT, its campaign launched since: it was never scheduled, so it is due now.
            if status == LeadStatus.NOT_STARTED and not state.get("next_action_at") and campaign.launched_at:
                state["next_action_at"] = stamp(now)
            if campaign.status == CampaignStatus.PAUSED:
                changes: dict[str, Any] = {"substatus": LeadSubstatus.CAMPAIGN_PAUSED, "paused_state": state}
            else:
                substatus = state.get("substatus")
                changes = {
                    "status": status,
                    "substatus": LeadSubstatus(substatus) if substatus else None,
                    "next_action_at": unstamp(state.get("next_action_at")),
                    "paused_state": None,
                }
            if await update_lead(lead, **changes):
                return lead
            lead = await _reread(lead)
        raise InvalidTransition("The lead is changing right now; try again.", ["id"])
