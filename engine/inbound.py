"""Inbound events about one lead (recordLeadEvent): acceptances, replies, clicks, bounces.

Each event is recorded once: its activity carries a key hashed from the event's content, so a second
identical event finds the key taken and changes nothing (no second activity, no second count). That check
comes first: a repeat is a no-op even when the first made the lead one that would now refuse the event.
An event that cannot apply to the lead as it stands is refused (domain/inbound_rules.py) before anything
is written.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from domain import validation
from domain.activity import record_activity
from domain.errors import DomainError, InvalidInput, InvalidTransition, NotFound
from domain.inbound_rules import refusal
from domain.leads import update_lead
from domain.steps import stamp
from domain.suppressions import suppress_address
from domain.tx import transaction
from engine import bounce_guard, clock, placement
from engine.snapshot import load_sequence
from models import Activity, Campaign, Contact, Lead
from models.enums import ActivityKind, Branch, Channel, LeadEventKind, LeadStatus, LeadSubstatus, StepType

E = LeadEventKind
#: The Activity kind each event is logged as (revision 2 gave OUT_OF_OFFICE and BLOCKED kinds of their own:
#: an automatic answer is not a reply, and is not counted as one in Campaign.series).
EVENT_ACTIVITY = {
    E.INVITATION_ACCEPTED: (ActivityKind.INVITATION_ACCEPTED, Channel.LINKEDIN),
    E.REPLY_RECEIVED: (ActivityKind.REPLY_RECEIVED, None),
    E.EMAIL_CLICKED: (ActivityKind.EMAIL_CLICKED, Channel.EMAIL),
    E.EMAIL_BOUNCED: (ActivityKind.EMAIL_BOUNCED, Channel.EMAIL),
    E.OUT_OF_OFFICE: (ActivityKind.OUT_OF_OFFICE, None),
    E.BLOCKED: (ActivityKind.BLOCKED, None),
    E.UNSUBSCRIBED: (ActivityKind.UNSUBSCRIBED, Channel.EMAIL),
}
FINISHING = {
    E.EMAIL_BOUNCED: LeadSubstatus.BOUNCED,
    E.OUT_OF_OFFICE: LeadSubstatus.OUT_OF_OFFICE,
    E.BLOCKED: LeadSubstatus.BLOCKED,
    E.UNSUBSCRIBED: LeadSubstatus.UNSUBSCRIBED,
}
CAS_ATTEMPTS = 5


class _Moved(Exception):
    """The lead changed under us: roll back (the activity too) and read it again."""


def event_key(lead_id: int, kind: LeadEventKind, **content: Any) -> str:
    raw = json.dumps([lead_id, kind.value, content], sort_keys=True, default=str)
    return "event:" + hashlib.sha256(raw.encode()).hexdigest()[:48]


async def record_lead_event(
    workspace_id: int,
    lead_id: int,
    kind: LeadEventKind,
    *,
    positive: bool | None = None,
    channel: Channel | None = None,
    message: str | None = None,
    occurred_at: datetime | None = None,
    simulated: bool = False,
    dedupe_key: str | None = None,
) -> Lead:
    """`dedupe_key`: what makes two events the same, when it is not their content (a click on the tracker
    counts once per link, whenever it is clicked); else the content's hash (event_key)."""
    kind = LeadEventKind(kind)
    problems: list[DomainError] = []
    message = validation.text(
        message, ["input", "message"], problems, max_length=validation.EVENT_MESSAGE, multiline=True
    )
    occurred_at = validation.moment(occurred_at, ["input", "occurredAt"], problems)
    validation.raise_first(problems)
    key = dedupe_key or event_key(
        lead_id, kind, positive=positive, channel=channel, message=message, at=occurred_at, simulated=simulated
    )
    at = occurred_at or clock.now()
    for _ in range(CAS_ATTEMPTS):
        lead = await Lead.get_or_none(id=lead_id, workspace_id=workspace_id, removed_at=None)
        if lead is None:
            raise NotFound("No such lead.", ["input", "leadId"])
        try:
            async with transaction():
                await _apply(
                    lead, kind, key, at, positive=positive, channel=channel, message=message, simulated=simulated
                )
            return lead
        except _Moved:
            continue
    raise InvalidTransition("The lead is changing too fast; try again.")


async def _apply(
    lead: Lead,
    kind: LeadEventKind,
    key: str,
    at: datetime,
    *,
    positive: bool | None,
    channel: Channel | None,
    message: str | None,
    simulated: bool,
) -> None:
    if await Activity.exists(dedupe_key=key):
        return  # the same event again: a no-op
    why = refusal(kind, lead)
    if why is not None:
        raise InvalidTransition(why)
    activity_kind, activity_channel = EVENT_ACTIVITY[kind]
    reply_channel = None
    if kind in (E.REPLY_RECEIVED, E.OUT_OF_OFFICE):
        activity_channel = reply_channel_of(lead, channel)
        reply_channel = activity_channel if kind == E.REPLY_RECEIVED else None
    detail = _detail(kind, message, positive, simulated)
    recorded = await record_activity(
        lead,
        activity_kind,
        channel=activity_channel,
        step_id=lead.current_step_id,
        detail=detail,
        dedupe_key=key,
        occurred_at=at,
    )
    if recorded is None:
        return  # the same event again, recorded by a concurrent call meanwhile
    changes = await _changes(lead, kind, at, bool(positive), reply_channel)
    if changes and not await update_lead(lead, **changes):
        raise _Moved
    if kind == E.EMAIL_BOUNCED:
        await bounce_guard.after_bounce(lead, at)
    if kind == E.UNSUBSCRIBED:
        # In the same transaction: the contact is never contacted again, by this campaign or any other.
        address = await Contact.filter(id=lead.contact_id).first().values_list("email", flat=True)
        if address:
            await suppress_address(lead.workspace_id, str(address), "UNSUBSCRIBED")


async def record_click(lead_id: int, step_id: str, link: int, url: str) -> bool:
    """A click on the tracker (tracking.py): EMAIL_CLICKED once per (lead, step, link), the URL as its detail.
    Returns whether it applied; a click on a lead it cannot apply to (removed, never emailed) records nothing."""
    lead = await Lead.get_or_none(id=lead_id, removed_at=None)
    if lead is None:
        return False
    key = event_key(lead_id, E.EMAIL_CLICKED, step=step_id, link=link)
    try:
        await record_lead_event(lead.workspace_id, lead_id, E.EMAIL_CLICKED, message=url[:2000], dedupe_key=key)
    except DomainError:
        return False
    return True


async def unsubscribe(lead_id: int) -> bool:
    """The lead's contact unsubscribed (a POST to its signed link, tracking.py): the same event as
    recordLeadEvent(UNSUBSCRIBED), so counters, live pushes and webhooks follow. Idempotent: a second call
    changes nothing. A lead removed since still has its contact's address listed. False: no such lead."""
    lead = await Lead.get_or_none(id=lead_id)
    if lead is None:
        return False
    if lead.removed_at is None and not lead.em_unsubscribed:
        try:
            await record_lead_event(
                lead.workspace_id, lead_id, E.UNSUBSCRIBED, dedupe_key=event_key(lead_id, E.UNSUBSCRIBED, via="link")
            )
            return True
        except DomainError:
            pass  # unsubscribed meanwhile, or removed: the address is listed below all the same
    address = await Contact.filter(id=lead.contact_id).first().values_list("email", flat=True)
    if address:
        async with transaction():
            await suppress_address(lead.workspace_id, str(address), "UNSUBSCRIBED")
    return True


def reply_channel_of(lead: Lead, given: Channel | None) -> Channel:
    """The channel a reply counts under: as given; else that of the last message sent; else that of the last
    action (only LinkedIn acts before a first message: visit, like, invitation). A lead nothing was done to
    has no channel to answer on, so the caller must say which: refused (INVALID_INPUT on `channel`) rather
    than counted as a reply on no channel, which would break linkedin.replied + email.replied = replied."""
    if given is not None:
        return Channel(given)
    if lead.last_channel is not None:
        return Channel(lead.last_channel)
    if lead.li_engaged:
        return Channel.LINKEDIN
    raise InvalidInput(
        "Say on which channel the lead replied (`channel`): nothing was sent to it yet.", ["input", "channel"]
    )


def _detail(kind: LeadEventKind, message: str | None, positive: bool | None, simulated: bool) -> str | None:
    parts = []
    if simulated:
        parts.append("simulated")
    if kind == E.REPLY_RECEIVED and positive:
        parts.append("positive")
    if kind == E.OUT_OF_OFFICE:
        parts.append("out of office")
    if kind == E.BLOCKED:
        parts.append("blocked by the contact")
    if kind == E.UNSUBSCRIBED:
        parts.append("unsubscribed")
    label = f"({', '.join(parts)})" if parts else ""
    return " ".join(p for p in (label, message) if p) or None


async def _changes(
    lead: Lead, kind: LeadEventKind, at: datetime, positive: bool, channel: Channel | None
) -> dict[str, Any]:
    open_statuses = (LeadStatus.NOT_STARTED, LeadStatus.IN_PROGRESS, LeadStatus.PAUSED, LeadStatus.ERROR)
    if kind == E.INVITATION_ACCEPTED:
        changes: dict[str, Any] = {"connected": True, "li_accepted": True}
        if lead.status == LeadStatus.IN_PROGRESS and lead.substatus == LeadSubstatus.WAITING_TO_CONNECT:
            campaign = await Campaign.get(id=lead.campaign_id)
            sequence = await load_sequence(campaign)
            step = sequence.get(lead.current_step_id)
            if step is not None and step.type == StepType.LINKEDIN_CONNECTION:
                to = sequence.branch_entry(step, Branch.ACCEPTED)
                changes |= placement.move_to(lead, sequence, to, at) | {"last_action_at": at}
        paused = lead.paused_state or {}
        if lead.status == LeadStatus.PAUSED and paused.get("substatus") == LeadSubstatus.WAITING_TO_CONNECT.value:
            # Paused while waiting: on resume it is due at once, and takes the ACCEPTED branch.
            changes["paused_state"] = {**paused, "next_action_at": stamp(at)}
        return changes
    if kind == E.REPLY_RECEIVED:
        changes = {"replied": True, "positive": lead.positive or positive}
        if channel == Channel.LINKEDIN:
            changes["li_replied"] = True
        elif channel == Channel.EMAIL:
            changes["em_replied"] = True
        if lead.status != LeadStatus.REPLIED:
            changes |= {
                "status": LeadStatus.REPLIED,
                "substatus": None,
                "current_step_id": None,
                "next_action_at": None,
                "claimed_until": None,
                "paused_state": None,
                "replied_at": at,
            }
        return changes
    if kind == E.EMAIL_CLICKED:
        return {"em_clicked": True}
    changes = {"em_bounced": True} if kind == E.EMAIL_BOUNCED else {}
    if kind == E.UNSUBSCRIBED:
        changes = {"em_unsubscribed": True}
    if lead.status in open_statuses:
        changes |= placement.finish(lead, FINISHING[kind], at) | {"paused_state": None}
    return changes
