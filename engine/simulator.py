"""The demo's make-believe world, so that an accelerated campaign (time_scale > 1) keeps moving on its own.

Without it the demo stalls after about eleven minutes: every lead left either finished or waits for a
person (an acceptance, a reply, a manual task). Each pass of `simulate(now)`, over (scaled) time:

- some invitations get accepted and some messages get replies (ordinary inbound events, labelled
  "simulated" in their activity). A lead last reached by email answers with a real RFC 5322 message, and
  some emails bounce with a real delivery status notification: both go through engine.inbox.apply_inbound,
  the classifier and apply function a connected inbox's messages take (an in-process mailbox: no IMAP);
- a few emailed leads click a link of their email (engine.inbound.record_click, the tracker's own call) and
  a few unsubscribe (engine.inbound.unsubscribe, the one-click POST's), so every number of the dashboard moves;
- pending manual tasks get completed, as the sender would (completeTask);
- a fresh contact joins the campaign now and then (addLeads), so there are always leads starting.

Deterministic per lead and task, deduplicated like any event, and a new contact is added under the
campaign's row lock, so running it from several processes at once is harmless. Real campaigns
(time_scale 1) are never touched. Call `simulate(now)` about once a second from wherever the demo runs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from functools import partial
from typing import Any

from mail.outbound import LinkRewriter
from models import Activity, Campaign, Contact, Identity, Lead, SequenceStep, Task
from models.enums import ActivityKind, CampaignStatus, Channel, LeadEventKind, LeadStatus, LeadSubstatus, TaskStatus

log = logging.getLogger("outbound.simulator")

ACCEPT_PERCENT = 60
REPLY_PERCENT = 20
#: Of the leads emailed, this many in a hundred bounce (a DSN some scaled hours after the email).
BOUNCE_PERCENT = 5
#: Of the leads emailed a link (click tracking on), this many in a hundred click it some scaled hours later.
CLICK_PERCENT = 8
#: Of the leads emailed, this many in a hundred unsubscribe (from the email's link) a scaled day or so later.
UNSUBSCRIBE_PERCENT = 3
#: A manual task is done 2 to 24 (scaled) hours after it was created.
TASK_HOURS = (2, 24)
#: One fresh contact joins each accelerated campaign every this many (scaled) hours.
NEW_CONTACT_HOURS = 8


def _roll(key: int, salt: int) -> int:
    """A stable pseudo-random 0..99 per lead or task (the same answer from every process)."""
    return (key * 2654435761 + salt * 40503) % 1000 // 10


def _chance(key: int, what: str) -> int:
    """Like `_roll`, but a hash: independent of `_roll`'s draws for the same lead. `_roll` is linear in its
    salt, so one lead's rolls of different salts move together; clicks and unsubscribes drawn with it would
    have fallen mostly on the leads that bounce."""
    digest = hashlib.blake2b(f"{key}:{what}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % 100


def _bounces(lead_id: int) -> bool:
    """Whether the lead's email bounces: such a lead never reads it (no click, no unsubscribe)."""
    return _roll(lead_id, 4) < BOUNCE_PERCENT


async def simulate(now: datetime) -> int:
    """One pass over every active accelerated campaign. Returns how many things it made happen."""
    scales: dict[int, float] = dict(
        await Campaign.filter(status=CampaignStatus.ACTIVE, time_scale__gt=1).values_list("id", "time_scale")
    )
    if not scales:
        return 0
    return (
        await _accept_invitations(scales, now)
        # Bounces first: a bounce comes back within hours, a reply after half a day at the earliest.
        + await _bounce_emails(scales, now)
        + await _reply_to_messages(scales, now)
        + await _click_links(scales, now)
        + await _unsubscribe(scales, now)
        + await _complete_tasks(scales, now)
        + await _add_contacts(scales, now)
    )


async def _accept_invitations(scales: dict[int, float], now: datetime) -> int:
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
            done += await _safely(
                f"acceptance for lead {lead['id']}",
                partial(
                    record_lead_event,
                    lead["workspace_id"],
                    lead["id"],
                    LeadEventKind.INVITATION_ACCEPTED,
                    simulated=True,
                ),
            )
    return done


async def _reply_to_messages(scales: dict[int, float], now: datetime) -> int:
    from engine.inbound import record_lead_event

    done = 0
    contacted = await Lead.filter(
        campaign_id__in=list(scales), status=LeadStatus.IN_PROGRESS, contacted=True, replied=False, removed_at=None
    ).values("id", "workspace_id", "campaign_id", "last_action_at", "last_channel")
    for lead in contacted:
        roll = _roll(lead["id"], 2)
        if roll >= REPLY_PERCENT or lead["last_action_at"] is None:
            continue
        after = timedelta(hours=12 + 3 * roll) / scales[lead["campaign_id"]]
        if now < lead["last_action_at"] + after:
            continue
        if lead["last_channel"] == Channel.EMAIL:
            done += await _safely(
                f"email reply for lead {lead['id']}",
                partial(_mail, lead["id"], _reply, positive=roll % 2 == 0, now=now),
            )
        else:
            done += await _safely(
                f"reply for lead {lead['id']}",
                partial(
                    record_lead_event,
                    lead["workspace_id"],
                    lead["id"],
                    LeadEventKind.REPLY_RECEIVED,
                    simulated=True,
                    positive=roll % 2 == 0,
                ),
            )
    return done


async def _bounce_emails(scales: dict[int, float], now: datetime) -> int:
    done = 0
    emailed = await Lead.filter(
        campaign_id__in=list(scales), status=LeadStatus.IN_PROGRESS, em_sent=True, em_bounced=False, removed_at=None
    ).values("id", "campaign_id", "last_action_at")
    for lead in emailed:
        roll = _roll(lead["id"], 4)
        if not _bounces(lead["id"]) or lead["last_action_at"] is None:
            continue
        if now >= lead["last_action_at"] + timedelta(hours=1 + roll) / scales[lead["campaign_id"]]:
            done += await _safely(
                f"bounce for lead {lead['id']}", partial(_mail, lead["id"], _bounce, now=now)
            )
    return done


async def _click_links(scales: dict[int, float], now: datetime) -> int:
    """A reader opens a link of the last email: only where a real click is possible (the campaign tracks
    clicks and the step's text has a link). EMAIL_CLICKED counts once per lead (em_clicked): one click each."""
    from engine.inbound import record_click

    tracked = await Campaign.filter(id__in=list(scales), track_clicks=True).values_list("id", flat=True)
    emailed = await Lead.filter(
        campaign_id__in=list(tracked), em_sent=True, em_clicked=False, em_bounced=False, removed_at=None
    ).values("id", "campaign_id")
    done = 0
    for lead in emailed:
        roll = _chance(lead["id"], "click")
        if roll >= CLICK_PERCENT or _bounces(lead["id"]):
            continue
        email = await _last_email(lead["id"])
        if email is None or now < email.occurred_at + timedelta(hours=1 + 2 * roll) / scales[lead["campaign_id"]]:
            continue
        step = await SequenceStep.get_or_none(id=email.step_id).values_list("content", flat=True)
        links = _links(str(step or ""))
        if links:
            url, index = next(iter(links.items()))
            done += await _safely(
                f"click for lead {lead['id']}", partial(record_click, lead["id"], str(email.step_id), index, url)
            )
    return done


async def _unsubscribe(scales: dict[int, float], now: datetime) -> int:
    """A contact uses the unsubscribe link of the last email (the one-click POST's path: the lead finishes
    UNSUBSCRIBED and the address joins the workspace's suppression list)."""
    from engine.inbound import unsubscribe

    emailed = await Lead.filter(
        campaign_id__in=list(scales),
        status=LeadStatus.IN_PROGRESS,
        em_sent=True,
        em_unsubscribed=False,
        em_bounced=False,
        replied=False,
        removed_at=None,
    ).values("id", "campaign_id")
    done = 0
    for lead in emailed:
        roll = _chance(lead["id"], "unsubscribe")
        if roll >= UNSUBSCRIBE_PERCENT or _bounces(lead["id"]):
            continue
        email = await _last_email(lead["id"])
        if email is not None and now >= email.occurred_at + timedelta(hours=4 + 8 * roll) / scales[lead["campaign_id"]]:
            done += await _safely(f"unsubscribe of lead {lead['id']}", partial(unsubscribe, lead["id"]))
    return done


async def _last_email(lead_id: int) -> Activity | None:
    return (
        await Activity.filter(lead_id=lead_id, kind=ActivityKind.EMAIL_SENT, step_id__not_isnull=True)
        .order_by("-occurred_at", "-id")
        .only("id", "step_id", "occurred_at")
        .first()
    )


def _links(text: str) -> dict[str, int]:
    """The http(s) links of an email's text, each with the index its tracked link carries (mail/outbound.py)."""
    rewriter = LinkRewriter(lambda index, url: url)
    rewriter.text(text)
    return rewriter.links


async def _mail(lead_id: int, make: Callable[..., bytes], **kw: Any) -> bool:
    """A message the lead's mail system would send back to its last email, read as an inbox's would be."""
    from engine.inbox import apply_inbound

    lead = await Lead.get_or_none(id=lead_id).prefetch_related("contact", "campaign")
    if lead is None or lead.campaign.identity_id is None or not lead.contact.email:
        return False
    identity = await Identity.get_or_none(id=lead.campaign.identity_id)
    sent = (
        await Activity.filter(lead_id=lead_id, kind=ActivityKind.EMAIL_SENT, external_id__not_isnull=True)
        .order_by("-occurred_at", "-id")
        .first()
    )
    if identity is None or sent is None or not identity.email_address:
        return False
    raw = make(lead_id, lead.contact, identity.email_address, sent.external_id, **kw)
    outcome = await apply_inbound(identity, raw, simulated=True)
    return outcome.what == "applied"


def _reply(lead_id: int, contact: Contact, sender: str, our_id: str, *, positive: bool, now: datetime) -> bytes:
    """A person's answer, with the quoted history a mail client adds (the classifier strips it)."""
    msg = EmailMessage()
    msg["From"] = f"{contact.full_name} <{contact.email}>"
    msg["To"] = sender
    msg["Subject"] = "Re: your email"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<demo-reply-{lead_id}@{contact.email.rpartition('@')[2]}>"  # type: ignore[union-attr]
    msg["In-Reply-To"] = our_id
    msg["References"] = our_id
    words = "Sounds good, let's talk next week." if positive else "Not interested, thanks."
    msg.set_content(f"{words}\n\n{contact.first_name}\n\nOn {format_datetime(now)}, {sender} wrote:\n> Hi!\n")
    return msg.as_bytes()


def _bounce(lead_id: int, contact: Contact, sender: str, our_id: str, *, now: datetime) -> bytes:
    """The receiving server's RFC 3464 report: the address does not exist."""
    domain = contact.email.rpartition("@")[2]  # type: ignore[union-attr]
    return (
        f"From: MAILER-DAEMON@mx.{domain} (Mail Delivery System)\r\nTo: {sender}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nDate: {format_datetime(now)}\r\n"
        f"Message-ID: <demo-bounce-{lead_id}@mx.{domain}>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        "--R\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\r\n"
        f"--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.{domain}\r\n\r\n"
        f"Final-Recipient: rfc822; {contact.email}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{contact.email}>: Recipient address rejected: User unknown\r\n\r\n"
        f"--R\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {sender}\r\nTo: {contact.email}\r\n"
        f"Message-ID: {our_id}\r\n\r\n--R--\r\n"
    ).encode()


async def _complete_tasks(scales: dict[int, float], now: datetime) -> int:
    from engine.manual_tasks import complete_task

    done = 0
    low, high = TASK_HOURS
    pending = await Task.filter(campaign_id__in=list(scales), status=TaskStatus.PENDING).values(
        "id", "workspace_id", "campaign_id", "created_at"
    )
    for task in pending:
        after = timedelta(hours=low + _roll(task["id"], 3) * (high - low) / 100) / scales[task["campaign_id"]]
        if now >= task["created_at"] + after:
            done += await _safely(
                f"completion of task {task['id']}",
                partial(complete_task, task["workspace_id"], task["id"]),
            )
    return done


async def _add_contacts(scales: dict[int, float], now: datetime) -> int:
    done = 0
    for campaign_id, scale in scales.items():
        done += await _safely(
            f"new contact for campaign {campaign_id}",
            partial(_add_contact, campaign_id, timedelta(hours=NEW_CONTACT_HOURS) / scale, now),
        )
    return done


async def _add_contact(campaign_id: int, every: timedelta, now: datetime) -> Any:
    """One fresh contact, as a person importing a lead would add it, if the campaign's last came `every` ago.

    One per pass at most: a demo that was stopped for an hour does not flood in on restart.
    """
    from domain.audience import add_leads
    from domain.contacts import import_contacts
    from domain.demo import fresh_contact
    from domain.tx import transaction

    async def due() -> bool:
        last = await Lead.filter(campaign_id=campaign_id).order_by("-added_at").first().values_list("added_at")
        return last is None or now >= last[0] + every

    if not await due():  # most passes: no transaction, no lock
        return False
    async with transaction():
        # The row lock makes the check and the add one step for concurrent simulators (PostgreSQL).
        campaign = await Campaign.filter(id=campaign_id).select_for_update().first()
        if campaign is None or campaign.status != CampaignStatus.ACTIVE or not await due():
            return False
        workspace_id = campaign.workspace_id
        number = await Contact.filter(workspace_id=workspace_id).count()
        contacts, errors = await import_contacts(workspace_id, [fresh_contact(number)])
        if errors:
            raise errors[0]
        added, errors = await add_leads(workspace_id, campaign_id, [contacts[0].id])
        if errors:
            raise errors[0]
        # On the simulator's clock (the engine's), which the next pass compares with: the same instant as
        # addLeads' wall clock in a running demo, and a test's frozen clock in a test.
        await Lead.filter(id=added[0].id).update(added_at=now)
        return True


async def _safely(what: str, make: Callable[[], Awaitable[Any]]) -> int:
    """1 if it happened; a refusal (the lead moved meanwhile) or an odd failure must not stop the demo."""
    from domain.errors import DomainError

    try:
        return 0 if await make() is False else 1
    except DomainError as exc:
        log.debug("simulated %s skipped: %s", what, exc)
    except Exception:
        log.exception("simulated %s failed", what)
    return 0
