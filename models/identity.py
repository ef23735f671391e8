"""Senders: a LinkedIn account and/or a mailbox, with working hours and limits."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.enums import WEEKDAYS, Weekday
from models.workspace import Workspace

#: Monday to Friday as a bitmask (bit i = datetime.weekday() i).
WEEKDAYS_MASK = 0b0011111

DEFAULT_LIMITS = {
    "daily_connection_requests": 20,
    "daily_linkedin_messages": 100,
    "daily_emails": 30,
    "monthly_conversations": 300,
    "inmail_credits": 20,
}


def days_to_mask(days: list[Weekday]) -> int:
    return sum(1 << WEEKDAYS.index(Weekday(d)) for d in set(days))


def mask_to_days(mask: int) -> list[Weekday]:
    return [day for i, day in enumerate(WEEKDAYS) if mask & (1 << i)]


class Identity(Model):
    id = fields.BigIntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="identities", on_delete=fields.CASCADE
    )
    workspace_id: int
    name = fields.CharField(max_length=200)
    linkedin_url = fields.CharField(max_length=500, null=True)
    linkedin_connected = fields.BooleanField(default=False)
    email_address = fields.CharField(max_length=320, null=True)
    email_connected = fields.BooleanField(default=False)
    timezone = fields.CharField(max_length=64, default="UTC")
    work_days = fields.SmallIntField(default=WEEKDAYS_MASK)
    work_start = fields.CharField(max_length=5, default="09:00")
    work_end = fields.CharField(max_length=5, default="18:00")
    daily_connection_requests = fields.IntField(default=DEFAULT_LIMITS["daily_connection_requests"])
    daily_linkedin_messages = fields.IntField(default=DEFAULT_LIMITS["daily_linkedin_messages"])
    daily_emails = fields.IntField(default=DEFAULT_LIMITS["daily_emails"])
    monthly_conversations = fields.IntField(default=DEFAULT_LIMITS["monthly_conversations"])
    #: A balance, not a rate: spent by each InMail, topped up by updateIdentity.
    inmail_credits = fields.IntField(default=DEFAULT_LIMITS["inmail_credits"])
    created_at = fields.DatetimeField(auto_now_add=True)
    #: Its own mailbox (domain.md revision 2): each URL encrypted whole (mail.secrets.PasswordBox), so the
    #: password is never stored in clear; the host is kept apart for Identity.mailbox.
    smtp_url_secret = fields.TextField(null=True)
    smtp_host = fields.CharField(max_length=255, null=True)
    imap_url_secret = fields.TextField(null=True)
    imap_host = fields.CharField(max_length=255, null=True)
    #: The inbox reader's cursor (mail.imap.MailboxCursor): UIDs above it are new.
    imap_uidvalidity = fields.BigIntField(null=True)
    imap_last_uid = fields.BigIntField(null=True)
    mailbox_synced_at = fields.DatetimeField(null=True)
    mailbox_sync_error = fields.TextField(null=True)
    #: When the scheduler next reads the inbox (null: nothing to read), and its lease on a read in progress.
    mailbox_sync_due_at = fields.DatetimeField(null=True)
    mailbox_sync_claimed_until = fields.DatetimeField(null=True)
    #: Reads failed in a row: the backoff's exponent.
    mailbox_sync_failures = fields.IntField(default=0)
    #: The bounce guard (engine/bounce_guard.py): when too many of its recent emails bounced its email steps
    #: stopped (null: they run); retrying a lead it stopped lifts it, and sends count again from that moment.
    bounce_guard_at = fields.DatetimeField(null=True)
    bounce_guard_since = fields.DatetimeField(null=True)

    class Meta:
        table = "identity"
        # identities(): a workspace's senders in creation order; the scheduler's inboxes due for a read.
        indexes = (("workspace_id", "id"), ("mailbox_sync_due_at",))

    @property
    def days(self) -> list[Weekday]:
        return mask_to_days(self.work_days)


class IdentityUsage(Model):
    """How much of a capped allowance an identity used in one period (a local day, or a month).

    A reservation is one conditional UPDATE (`used < cap`), so two workers never exceed a cap.
    """

    id = fields.BigIntField(primary_key=True)
    identity: fields.ForeignKeyRelation[Identity] = fields.ForeignKeyField(
        "models.Identity", related_name="usage", on_delete=fields.CASCADE
    )
    identity_id: int
    #: connection | linkedin_message | email | conversation
    kind = fields.CharField(max_length=32)
    #: "2026-11-26" for a day in the identity's time zone, "2026-11" for a month.
    period = fields.CharField(max_length=10)
    used = fields.IntField(default=0)

    class Meta:
        table = "identity_usage"
        unique_together = (("identity_id", "kind", "period"),)
