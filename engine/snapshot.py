"""Reading what `decide` needs from the database: the lead, its contact, campaign, identity and sequence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine import hours, rows, usage
from engine.sequence import Sequence, StepView
from engine.views import IdentityView, LeadView
from models import Campaign, Contact, Identity, Lead


@dataclass
class Snapshot:
    lead: Lead
    contact: Contact
    campaign: Campaign
    identity: Identity | None
    sequence: Sequence
    identity_view: IdentityView | None

    def lead_view(self) -> LeadView:
        return lead_view(self.lead, self.contact)


def lead_view(lead: Lead, contact: Contact) -> LeadView:
    return LeadView(
        status=lead.status,
        substatus=lead.substatus,
        current_step_id=lead.current_step_id,
        started_at=lead.started_at,
        last_action_at=lead.last_action_at,
        connected=lead.connected,
        invitation_sent_at=lead.invitation_sent_at,
        contacted=lead.contacted,
        em_clicked=lead.em_clicked,
        email=contact.email,
        linkedin_url=contact.linkedin_url,
    )


def working_hours(identity: Identity) -> hours.WorkingHours:
    return hours.WorkingHours(identity.timezone, identity.work_days, identity.work_start, identity.work_end)


async def identity_view(identity: Identity, now: datetime) -> IdentityView:
    work = working_hours(identity)
    try:
        zone = work.zone()
        used = await usage.usage_of(identity.id, [hours.day_period(now, zone), hours.month_period(now, zone)])
    except hours.InvalidWorkingHours:
        used = {}  # decide reports the misconfiguration
    return IdentityView(
        linkedin_url=identity.linkedin_url,
        linkedin_connected=identity.linkedin_connected,
        email_address=identity.email_address,
        email_connected=identity.email_connected,
        working_hours=work,
        daily_connection_requests=identity.daily_connection_requests,
        daily_linkedin_messages=identity.daily_linkedin_messages,
        daily_emails=identity.daily_emails,
        monthly_conversations=identity.monthly_conversations,
        inmail_credits=identity.inmail_credits,
        usage=used,
    )


async def load_sequence(campaign: Campaign) -> Sequence:
    steps = await rows.campaign_steps(campaign.id)
    return Sequence([StepView.from_model(s) for s in steps], campaign.time_scale or 1.0)


async def read_lead(lead_id: int) -> Lead | None:
    """The lead with its contact, campaign and the campaign's identity: one query (a join), not four.

    The related rows are kept where Tortoise's select_related keeps them (`_contact`...), for `load`. Read
    outside any transaction, like the separate reads were: everything is applied by compare-and-set.
    """
    found = await rows.read_lead(lead_id)
    if found is None:
        return None
    lead, contact, campaign, identity = found
    if contact is not None:
        lead.__dict__["_contact"] = contact
    if campaign is not None:
        lead.__dict__["_campaign"] = campaign
        if identity is not None:
            campaign.__dict__["_identity"] = identity
    return lead


def _loaded(row: Lead | Campaign, relation: str) -> Any:
    """A relation `read_lead` joined (Tortoise keeps it as `_<name>`); None when it was not joined."""
    return row.__dict__.get(f"_{relation}")


async def load(lead: Lead, now: datetime) -> Snapshot | None:
    campaign = _loaded(lead, "campaign")
    if campaign is None:
        campaign = await Campaign.get_or_none(id=lead.campaign_id)
    contact = _loaded(lead, "contact")
    if contact is None:
        contact = await Contact.get_or_none(id=lead.contact_id)
    if campaign is None or contact is None:
        return None
    identity = _loaded(campaign, "identity") if campaign.identity_id else None
    if identity is None and campaign.identity_id:
        identity = await Identity.get_or_none(id=campaign.identity_id)
    view = await identity_view(identity, now) if identity is not None else None
    return Snapshot(lead, contact, campaign, identity, await load_sequence(campaign), view)
