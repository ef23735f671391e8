"""Reading what `decide` needs from the database: the lead, its contact, campaign, identity and sequence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
    usage_loaded: bool = False

    def lead_view(self) -> LeadView:
        return lead_view(self.lead, self.contact)

    async def with_usage(self, now: datetime) -> None:
        """Read the sender's usage, once. Only steps that a cap concerns need it (decide.needs_usage): the
        others skip a query."""
        if self.usage_loaded or self.identity is None:
            return
        self.identity_view = await identity_view(self.identity, now)
        self.usage_loaded = True


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


async def identity_view(identity: Identity, now: datetime, *, with_usage: bool = True) -> IdentityView:
    """What decide knows of the sender. Without usage, `usage` is empty: only for steps that no cap concerns."""
    work = working_hours(identity)
    used: dict[tuple[str, str], int] = {}
    if with_usage:
        try:
            zone = work.zone()
            used = await usage.usage_of(identity.id, [hours.day_period(now, zone), hours.month_period(now, zone)])
        except hours.InvalidWorkingHours:
            pass  # decide reports the misconfiguration
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
        bounce_guarded=identity.bounce_guard_at is not None,
        usage=used,
    )


async def load_sequence(campaign: Campaign) -> Sequence:
    steps = await rows.campaign_steps(campaign.id)
    return Sequence([StepView.from_model(s) for s in steps], campaign.time_scale or 1.0)


#: Sequences this process built, by campaign: (steps digest, time_scale, Sequence). A Sequence is immutable.
#: What invalidates an entry: any change to the campaign's stored steps (stepUpdates on a launched campaign,
#: edits of a draft) changes the digest that the lead's own query computes (rows.read_lead), so the next
#: step after the commit rebuilds it; a time_scale change misses too. No digest (SQLite): never cached.
_sequences: dict[int, tuple[str, float, Sequence]] = {}
_SEQUENCES_MAX = 1024


async def _sequence(campaign: Campaign, digest: str | None) -> Sequence:
    scale = campaign.time_scale or 1.0
    cached = _sequences.get(campaign.id)
    if digest is not None and cached is not None and cached[0] == digest and cached[1] == scale:
        return cached[2]
    sequence = await load_sequence(campaign)
    if digest is not None:
        if len(_sequences) >= _SEQUENCES_MAX:
            _sequences.clear()  # bounded: a worker serving many campaigns rebuilds, never grows without end
        _sequences[campaign.id] = (digest, scale, sequence)
    return sequence


async def read_lead(lead_id: int) -> rows.Joined | None:
    """The lead with its contact, campaign, the campaign's identity and steps digest: one query, not four.

    Read outside any transaction, like the separate reads were: everything is applied by compare-and-set.
    """
    return await rows.read_lead(lead_id)


async def load(joined: rows.Joined, now: datetime) -> Snapshot | None:
    """The Snapshot of a lead read by `read_lead`. Usage is left out (see `Snapshot.with_usage`)."""
    lead = joined.lead
    campaign = joined.campaign or await Campaign.get_or_none(id=lead.campaign_id)
    contact = joined.contact or await Contact.get_or_none(id=lead.contact_id)
    if campaign is None or contact is None:
        return None
    identity = joined.identity
    if identity is None and campaign.identity_id:
        identity = await Identity.get_or_none(id=campaign.identity_id)
    view = await identity_view(identity, now, with_usage=False) if identity is not None else None
    sequence = await _sequence(campaign, joined.steps_digest if joined.campaign is not None else None)
    return Snapshot(lead, contact, campaign, identity, sequence, view)
