"""What comes back: an identity's inbox read, each message classified once and applied as an inbound event.

`sync_identity` reads the identity's IMAP folder from its stored cursor (mail.imap, UID-based), and hands
each message to `apply_inbound`, which the demo's simulator also calls with the messages it makes up, so
the demo exercises the code path a real inbox takes:

1. classify (mail.classify) with lookups against this identity's own sends: the Message-IDs on its
   EMAIL_SENT activities, and the addresses of the leads it emailed;
2. in ONE transaction: insert the message's (identity, Message-ID) into inbound_message, ON CONFLICT DO
   NOTHING, then apply the outcome through engine.inbound.record_lead_event, the function behind
   recordLeadEvent (same counters, live pushes, idempotence). A second read of the same message (two
   reads racing, a UIDVALIDITY change) finds the row taken and does nothing; on PostgreSQL the second
   insert waits for the first transaction, so it never applies an outcome that then rolls back.

A read that fails sets `mailbox_sync_error` and is due again after an exponential backoff (capped); a
refused login also marks the identity's email disconnected (EMAIL_DISCONNECTED for leads reaching an email
step). Nothing here raises for a bad mailbox: the worker that runs it never crashes or spins.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter
from tortoise.expressions import Q

from domain import mailkeys
from domain.errors import DomainError
from domain.mailboxes import server_of
from domain.suppressions import suppress_address
from domain.tx import transaction
from engine import clock
from engine.inbound import record_lead_event
from mail import imap
from mail.classify import Classification, Kind, classify
from mail.errors import MailboxAuthError, MailError
from mail.secrets import MailUrlError, SecretError
from models import Activity, Identity, InboundMessage, Lead
from models.enums import ActivityKind, Channel, LeadEventKind
from models.sql import db, fetch, placeholders

log = logging.getLogger("outbound.inbox")

#: Every read of an inbox, by outcome: `ok`, `disconnected` (the server refused the login), `failed` (a
#: mail or configuration error, stored as syncError), `error` (a bug or a database hiccup).
SYNCS = Counter("outbound_mailbox_syncs", "Inbox reads by outcome (ok, disconnected, failed, error).", ["outcome"])
#: Messages a read brought in, by what was applied: reply, bounce, auto-reply... (mail/classify.py kinds).
SYNCED_MESSAGES = Counter("outbound_mailbox_messages", "Inbound messages read from inboxes, by kind.", ["kind"])

#: A failing inbox is read again after interval * 2**failures, at most this many seconds later.
MAX_BACKOFF_SECONDS = 3600.0
#: Batches of mail.imap.DEFAULT_LIMIT messages per read; the rest waits for the next read.
MAX_BATCHES = 10
IMAP_TIMEOUT = 30.0

EVENTS = {
    Kind.REPLY: LeadEventKind.REPLY_RECEIVED,
    Kind.OUT_OF_OFFICE: LeadEventKind.OUT_OF_OFFICE,
    Kind.BOUNCED: LeadEventKind.EMAIL_BOUNCED,
}


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Kind
    lead_id: int | None
    #: "applied", "already processed", or why nothing changed.
    what: str


# ------------------------------------------------------------------------------------------ one message


async def apply_inbound(identity: Identity, raw: bytes, *, simulated: bool = False) -> Outcome:
    """Classify `raw` for `identity` and apply what it means, once per (identity, Message-ID)."""
    result = await _classify(identity, raw)
    key = result.message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    lead_id = await _lead_of(identity, result) if result.kind in EVENTS else None
    async with transaction():
        if not await _first_time(identity.id, key[:255], result.kind, lead_id):
            return Outcome(result.kind, lead_id, "already processed")
        what = await _apply(identity, result, lead_id, simulated)
        await _record_outcome(identity.id, key[:255], what)
    return Outcome(result.kind, lead_id, what)


async def _apply(identity: Identity, result: Classification, lead_id: int | None, simulated: bool) -> str:
    if result.kind not in EVENTS:
        return result.detail[:300] or result.kind.value.lower()
    if lead_id is None:
        return "no lead of this identity matches it"
    try:
        await record_lead_event(
            identity.workspace_id,
            lead_id,
            EVENTS[result.kind],
            positive=result.positive if result.kind == Kind.REPLY else None,
            channel=Channel.EMAIL if result.kind != Kind.BOUNCED else None,
            message=result.detail or None,
            simulated=simulated,
        )
    except DomainError as exc:  # the lead cannot take it as it stands (finished, removed): left alone
        return f"refused: {exc.message}"[:300]
    if result.kind == Kind.BOUNCED and result.suppress and result.recipient:
        await suppress_address(identity.workspace_id, result.recipient, "BOUNCED")
    return "applied"


async def _first_time(identity_id: int, key: str, kind: Kind, lead_id: int | None) -> bool:
    conn = db()
    a, b, c, d, e, f = placeholders(conn, 6)
    rows = await fetch(
        conn,
        "INSERT INTO inbound_message (identity_id, message_id, kind, lead_id, outcome, received_at)"
        f" VALUES ({a}, {b}, {c}, {d}, {e}, {f}) ON CONFLICT (identity_id, message_id) DO NOTHING RETURNING id",
        [identity_id, key, kind.value, lead_id, "pending", clock.now()],
    )
    return bool(rows)


async def _record_outcome(identity_id: int, key: str, what: str) -> None:
    await InboundMessage.filter(identity_id=identity_id, message_id=key).update(outcome=what[:300])


async def _classify(identity: Identity, raw: bytes) -> Classification:
    """mail.classify with this identity's lookups. classify asks synchronously; the answers come from the
    database, so it runs once to learn what it asks, and again with the answers (a few rounds at most: a
    True answer can only make it ask less)."""
    ours: dict[str, bool] = {}
    leads: dict[str, bool] = {}
    result: Classification | None = None
    for _ in range(4):
        asked_ids: set[str] = set()
        asked_addresses: set[str] = set()

        def is_ours(message_id: str, asked_ids: set[str] = asked_ids) -> bool:
            if message_id not in ours:
                asked_ids.add(message_id)
            return ours.get(message_id, False)

        def is_lead(address: str, asked_addresses: set[str] = asked_addresses) -> bool:
            if address not in leads:
                asked_addresses.add(address)
            return leads.get(address, False)

        result = classify(raw, our_message_ids=is_ours, lead_addresses=is_lead)
        if not asked_ids and not asked_addresses:
            return result
        sent = set(await _sent_ids(identity, asked_ids)) if asked_ids else set()
        ours.update({mid: mid in sent for mid in asked_ids})
        for address in asked_addresses:
            leads[address] = await _emailed_leads(identity, address).exists()
    assert result is not None
    return result


def _sent(identity: Identity) -> Q:
    return Q(workspace_id=identity.workspace_id, kind=ActivityKind.EMAIL_SENT, campaign__identity_id=identity.id)


async def _sent_ids(identity: Identity, message_ids: set[str]) -> list[str]:
    return await Activity.filter(_sent(identity), external_id__in=list(message_ids)).values_list(
        "external_id", flat=True
    )  # type: ignore[return-value]


def _emailed_leads(identity: Identity, address: str):
    return Lead.filter(
        workspace_id=identity.workspace_id,
        campaign__identity_id=identity.id,
        em_sent=True,
        removed_at=None,
        contact__email__iexact=address,
    )


async def _lead_of(identity: Identity, result: Classification) -> int | None:
    """The lead the message is about: the one our referenced Message-ID was sent to, else the lead this
    identity emailed most recently at the message's address."""
    if result.message_id_ref is not None:
        row = await Activity.filter(_sent(identity), external_id=result.message_id_ref).first().values("lead_id")
        if row is not None and await Lead.filter(id=row["lead_id"], removed_at=None).exists():
            return int(row["lead_id"])
    if result.recipient:
        lead = await _emailed_leads(identity, result.recipient).order_by("-last_action_at", "-id").first()
        if lead is not None:
            return int(lead.id)
    return None


# ------------------------------------------------------------------------------------------ one inbox


async def sync_identity(identity_id: int) -> Identity | None:
    """Read the identity's inbox from its cursor and apply what is new. Never raises for the mailbox's
    sake: a failure is stored (syncError) and retried later with backoff. Returns the identity as stored."""
    identity = await Identity.get_or_none(id=identity_id)
    if identity is None or identity.imap_url_secret is None:
        return identity
    secret = identity.imap_url_secret
    try:
        server = server_of(secret, "imap")
        assert server is not None
        cursor = (
            imap.MailboxCursor(identity.imap_uidvalidity, identity.imap_last_uid or 0)
            if identity.imap_uidvalidity is not None
            else None
        )
        for _ in range(MAX_BATCHES):
            # The first read of a mailbox just connected only marks where its inbox ends: old mail from a
            # lead's address would otherwise pass for a reply to an email sent today.
            fetched = await imap.fetch_new(server, cursor, from_now=cursor is None, command_timeout=IMAP_TIMEOUT)
            for message in fetched.messages:
                outcome = await apply_inbound(identity, message.raw)
                SYNCED_MESSAGES.labels(outcome.kind.value.lower()).inc()
            cursor = fetched.cursor
            await _store_cursor(identity.id, secret, cursor)
            if not fetched.more:
                break
    except MailboxAuthError as exc:
        SYNCS.labels("disconnected").inc()
        await _failed(identity, str(exc), disconnected=True)
    except (MailError, MailUrlError, SecretError) as exc:
        SYNCS.labels("failed").inc()
        await _failed(identity, str(exc))
    except Exception as exc:  # a database hiccup, a bug: stored and backed off, never a crashing worker
        SYNCS.labels("error").inc()
        log.exception("reading the inbox of identity %s failed", identity.id)
        await _failed(identity, f"internal error ({type(exc).__name__})")
    else:
        SYNCS.labels("ok").inc()
        await _succeeded(identity)
    return await Identity.get_or_none(id=identity_id)


async def _store_cursor(identity_id: int, secret: str, cursor: imap.MailboxCursor) -> None:
    # Forward only (a slower concurrent read must not move it back), and only for the mailbox it read.
    await (
        Identity.filter(id=identity_id, imap_url_secret=secret)
        .filter(
            Q(imap_uidvalidity__isnull=True)
            | Q(imap_last_uid__isnull=True)
            | Q(imap_uidvalidity__not=cursor.uidvalidity)
            | Q(imap_last_uid__lte=cursor.last_uid)
        )
        .update(imap_uidvalidity=cursor.uidvalidity, imap_last_uid=cursor.last_uid)
    )


def _interval() -> float:
    return mailkeys.current().sync_seconds


async def _succeeded(identity: Identity) -> None:
    now = clock.now()
    await Identity.filter(id=identity.id, imap_url_secret=identity.imap_url_secret).update(
        mailbox_synced_at=now,
        mailbox_sync_error=None,
        mailbox_sync_failures=0,
        mailbox_sync_due_at=now + timedelta(seconds=_interval()),
        mailbox_sync_claimed_until=None,
    )


def backoff(failures: int, interval: float) -> float:
    """Seconds until the next read after `failures` failed reads in a row."""
    return min(interval * 2 ** min(failures, 20), MAX_BACKOFF_SECONDS)


async def _failed(identity: Identity, why: str, *, disconnected: bool = False) -> None:
    now = clock.now()
    failures = identity.mailbox_sync_failures + 1
    log.warning("inbox of identity %s not read (%s failures in a row): %s", identity.id, failures, why)
    values: dict[str, object] = {
        "mailbox_sync_error": why[:500],
        "mailbox_sync_failures": failures,
        "mailbox_sync_due_at": now + timedelta(seconds=backoff(failures, _interval())),
        "mailbox_sync_claimed_until": None,
    }
    if disconnected:
        values["email_connected"] = False
    await Identity.filter(id=identity.id, imap_url_secret=identity.imap_url_secret).update(**values)


async def claim_due_mailboxes(now: datetime, lease: float, limit: int = 100) -> list[int]:
    """The scheduler's claim: identities whose inbox is due for a read, leased so one read runs at a time
    (a worker that dies lets its lease run out, and the inbox is claimed again)."""
    conn = db()
    a, b, b2, c = placeholders(conn, 4)
    lock = " FOR UPDATE SKIP LOCKED" if conn.capabilities.dialect == "postgres" else ""
    rows = await fetch(
        conn,
        f"UPDATE identity SET mailbox_sync_claimed_until = {a} WHERE id IN ("
        " SELECT id FROM identity"
        f" WHERE mailbox_sync_due_at <= {b} AND imap_url_secret IS NOT NULL"
        f" AND (mailbox_sync_claimed_until IS NULL OR mailbox_sync_claimed_until <= {b2})"
        f" ORDER BY mailbox_sync_due_at LIMIT {c}{lock})"
        " RETURNING id",
        [now + timedelta(seconds=lease), now, now, limit],
    )
    return [int(row["id"]) for row in rows]
