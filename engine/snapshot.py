"""Reading what `decide` needs from the database: the lead, its contact, campaign, identity and sequence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine import hours, usage
from engine.sequence import Sequence, StepView
from engine.views import IdentityView, LeadView
from models import Campaign, Contact, Identity, Lead, SequenceStep


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
    steps = await SequenceStep.filter(campaign_id=campaign.id).order_by("position")
    return Sequence([StepView.from_model(s) for s in steps], campaign.time_scale or 1.0)


async def load(lead: Lead, now: datetime) -> Snapshot | None:
    campaign = await Campaign.get_or_none(id=lead.campaign_id)
    contact = await Contact.get_or_none(id=lead.contact_id)
    if campaign is None or contact is None:
        return None
    identity = await Identity.get_or_none(id=campaign.identity_id) if campaign.identity_id else None
    view = await identity_view(identity, now) if identity is not None else None
    return Snapshot(lead, contact, campaign, identity, await load_sequence(campaign), view)
