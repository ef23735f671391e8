"""An identity's own mailbox, end to end against real servers (tests/mailservers.py): aiosmtpd requiring
AUTH for what the engine sends, pymap for the inbox it reads. Both backends."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.ids import to_global_id
from engine import inbox
from models import Activity, Identity, InboundMessage, Lead, Suppression
from models.enums import ActivityKind, LeadStatus, LeadSubstatus, StepType
from tests.engine_helpers import Pump, add_leads, assert_counters_match, make_campaign, person, reload, step
from tests.mailservers import AuthSmtpServer, PymapServer
from tests.metrics import sample

SMTP_USER, SMTP_PASSWORD = "sam@outbound.test", "smtp-Secret-4921"
IMAP_USER, IMAP_PASSWORD = "sam@outbound.test", "imap-Secret-7730"
SENDER = "sam@outbound.test"
PRICING = "https://acme.example/pricing"
FLUFL = Path(__file__).parent / "data" / "bounces" / "flufl"
ROOT = Path(__file__).resolve().parent.parent

CREATE = """mutation($input: IdentityInput!) { createIdentity(input: $input) {
  identity { id emailAddress emailConnected mailbox { smtpHost imapHost lastSyncedAt syncError } }
  errors { code message field } } }"""
UPDATE = """mutation($id: ID!, $input: IdentityUpdateInput!) { updateIdentity(id: $id, input: $input) {
  identity { id emailConnected mailbox { smtpHost imapHost lastSyncedAt syncError } }
  errors { code message field } } }"""
SYNC = """mutation($id: ID!) { syncMailbox(identityId: $id) {
  identity { id emailConnected mailbox { smtpHost imapHost lastSyncedAt syncError } }
  errors { code message field } } }"""
STATS = """query($id: ID!) { node(id: $id) { ... on Campaign { stats { email { sent replied bounced } } } } }"""


@pytest.fixture(scope="module")
def smtp() -> Iterator[AuthSmtpServer]:
    with AuthSmtpServer(SMTP_USER, SMTP_PASSWORD) as server:
        yield server


@pytest.fixture(scope="module")
def imap() -> Iterator[PymapServer]:
    with PymapServer(IMAP_USER, IMAP_PASSWORD) as server:
        yield server


@pytest.fixture
def folder(imap: PymapServer) -> str:
    """A folder of its own for each test (pymap's INBOX cannot be re-created), with one old message in it."""
    name = f"Inbox-{uuid.uuid4().hex[:8]}"
    imap.append(message("old@example.com", "An old message", "Nothing to do with us.", mid="<old@x.example>"), name)
    return name


def message(sender: str, subject: str, body: str, *, mid: str | None = None, headers: str = "") -> bytes:
    mid = mid or f"<{uuid.uuid4().hex}@mail.example.com>"
    text = (
        f"From: {sender}\r\nTo: {SENDER}\r\nSubject: {subject}\r\nMessage-ID: {mid}\r\n"
        f"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n{headers}MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    return text.encode()


def dsn(recipient: str, our_id: str, *, action: str, status: str, diagnostic: str) -> bytes:
    """An RFC 3464 delivery status notification, returning our message's headers."""
    return (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        f"To: {SENDER}\r\nSubject: Delivery Status Notification\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mx.example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery report.\r\n\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {SENDER}\r\nTo: {recipient}\r\nSubject: Hello\r\nMessage-ID: {our_id}\r\n\r\n--B--\r\n"
    ).encode()


async def connect(gql: Any, smtp: AuthSmtpServer, imap: PymapServer, folder: str, **imap_kw: Any) -> str:
    """createIdentity with a mailbox, and the first read (which only marks where the inbox ends)."""
    data = await gql(
        CREATE,
        {
            "input": {
                "name": "Sam",
                "emailAddress": SENDER,
                "mailbox": {"smtpUrl": smtp.url(), "imapUrl": imap.url(folder, **imap_kw)},
            }
        },
    )
    payload = data["createIdentity"]
    assert payload["errors"] == [], payload
    assert payload["identity"]["mailbox"] == {
        "smtpHost": "127.0.0.1",
        "imapHost": "127.0.0.1",
        "lastSyncedAt": None,
        "syncError": None,
    }
    identity_id = payload["identity"]["id"]
    synced = (await gql(SYNC, {"id": identity_id}))["syncMailbox"]
    assert synced["errors"] == [], synced
    return identity_id


async def identity_row(global_id: str) -> Identity:
    from domain.ids import decode_id

    pk = decode_id(global_id, "Identity")
    assert pk is not None
    return await Identity.get(id=pk)


async def emailed(workspace: Any, pump: Pump, identity: Identity, emails: list[str]) -> tuple[Any, list[Lead]]:
    ws, _ = workspace
    campaign, _ = await make_campaign(
        ws,
        identity,
        [
            step(StepType.EMAIL, subject="Hello {{firstName}}", content=f"See {PRICING} {{{{unsubscribeUrl}}}}"),
            step(StepType.EMAIL, delay=86400, subject="Again", content="Following up."),
        ],
    )
    leads = await add_leads(ws, campaign, [person(i, email=email) for i, email in enumerate(emails)])
    await pump.run()
    return campaign, leads


async def sent_id(lead: Lead) -> str:
    activity = await Activity.get(lead_id=lead.id, kind=ActivityKind.EMAIL_SENT)
    assert activity.external_id
    return activity.external_id


async def test_sends_through_its_mailbox_and_reads_what_comes_back(
    gql: Any, workspace: Any, frozen: Any, pump: Pump, smtp: AuthSmtpServer, imap: PymapServer, folder: str
) -> None:
    identity_id = await connect(gql, smtp, imap, folder)
    identity = await identity_row(identity_id)
    before = len(smtp.messages)
    emails = ["reply@lead.example", "away@lead.example", "hard@lead.example", "soft@lead.example", "xxxxx@local.ie"]
    campaign, leads = await emailed(workspace, pump, identity, emails)

    # Sent through the identity's own server, logged in, from its own address, with our headers.
    received = smtp.messages[before:]
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(emails)
    assert all(r.login == SMTP_USER and r.mail_from == SENDER for r in received)
    assert ("PLAIN", True) in smtp.logins or ("LOGIN", True) in smtp.logins
    by_rcpt = {r.rcpt_tos[0]: r.message for r in received}
    ids = {lead.contact_id: await sent_id(lead) for lead in leads}
    for lead, email in zip(leads, emails, strict=True):
        sent = by_rcpt[email]
        # The activity's Message-ID is the one that left (a long one is folded: it holds no spaces of its own).
        assert "".join(str(sent["Message-ID"]).split()) == ids[lead.contact_id]
        unsubscribe = str(sent["List-Unsubscribe"]).strip()  # folded too when long
        assert unsubscribe.startswith("<http://") and "/u/" in unsubscribe
        assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        body = sent.get_content()
        assert "https://acme.example/pricing" not in body and "/t/" in body  # tracked link
        assert "{{unsubscribeUrl}}" not in body and "/u/" in body
    reply_id, away_id, hard_id, soft_id, _ = (ids[lead.contact_id] for lead in leads)

    imap.append(
        message(
            "First0 Last0 <reply@lead.example>",
            "Re: Hello First0",
            "Yes, let's talk on Tuesday.\r\n\r\nOn Mon, 2 Mar 2026 at 10:00, Sam <sam@outbound.test> wrote:\r\n"
            "> See https://acme.example/pricing\r\n> Hello First0\r\n",
            headers=f"In-Reply-To: {reply_id}\r\nReferences: {reply_id}\r\n",
        ),
        folder,
    )
    imap.append(
        message(
            "away@lead.example",
            "Automatic reply: Hello First1",
            "I am out of the office until December 14.",
            headers=f"Auto-Submitted: auto-replied\r\nIn-Reply-To: {away_id}\r\n",
        ),
        folder,
    )
    imap.append(
        dsn("hard@lead.example", hard_id, action="failed", status="5.1.1", diagnostic="550 5.1.1 User unknown"),
        folder,
    )
    imap.append(
        dsn("soft@lead.example", soft_id, action="delayed", status="4.4.1", diagnostic="451 4.4.1 try later"),
        folder,
    )
    imap.append((FLUFL / "postfix_01.txt").read_bytes(), folder)  # Postfix's non-standard bounce, by address
    imap.append(message("news@shop.example", "Weekly deals", "Nothing to do with any lead."), folder)

    synced = (await gql(SYNC, {"id": identity_id}))["syncMailbox"]
    assert synced["errors"] == [] and synced["identity"]["mailbox"]["syncError"] is None
    assert synced["identity"]["mailbox"]["lastSyncedAt"] is not None

    reply, away, hard, soft, postfix = [await reload(lead) for lead in leads]
    assert reply.status == LeadStatus.REPLIED and reply.em_replied
    detail = (await Activity.get(lead_id=reply.id, kind=ActivityKind.REPLY_RECEIVED)).detail or ""
    assert "Yes, let's talk on Tuesday." in detail and "wrote:" not in detail and "pricing" not in detail
    assert (away.status, away.substatus) == (LeadStatus.FINISHED, LeadSubstatus.OUT_OF_OFFICE)
    assert await Activity.filter(lead_id=away.id, kind=ActivityKind.OUT_OF_OFFICE).count() == 1
    assert (hard.status, hard.substatus, hard.em_bounced) == (LeadStatus.FINISHED, LeadSubstatus.BOUNCED, True)
    assert (soft.status, soft.substatus) == (LeadStatus.IN_PROGRESS, LeadSubstatus.SCHEDULED)  # DELAYED: nothing
    assert (postfix.status, postfix.substatus) == (LeadStatus.FINISHED, LeadSubstatus.BOUNCED)
    # A final failure about the address lists it (the suppression list); a delay does not.
    listed = await Suppression.filter(workspace_id=workspace[0].id).values_list("value", "reason")
    assert "hard@lead.example" in {v for v, _ in listed} and "soft@lead.example" not in {v for v, _ in listed}
    assert {getattr(r, "value", r) for _, r in listed} == {"BOUNCED"}
    kinds = dict(await InboundMessage.filter(identity_id=identity.id).values_list("message_id", "kind"))
    assert sorted(kinds.values()) == ["BOUNCED", "BOUNCED", "DELAYED", "IGNORED", "OUT_OF_OFFICE", "REPLY"]
    stats = (await gql(STATS, {"id": to_global_id("Campaign", campaign.id)}))["node"]["stats"]["email"]
    assert stats == {"sent": 5, "replied": 1, "bounced": 2}
    await assert_counters_match(campaign.id)

    # Read again (a new message arrives meanwhile): nothing already read is applied twice.
    imap.append(message("other@example.net", "Hi", "Unrelated."), folder)
    await gql(SYNC, {"id": identity_id})
    assert await Activity.filter(campaign_id=campaign.id, kind=ActivityKind.REPLY_RECEIVED).count() == 1
    assert await InboundMessage.filter(identity_id=identity.id).count() == 7
    await assert_counters_match(campaign.id)


async def test_two_concurrent_reads_apply_each_message_once(
    gql: Any, workspace: Any, frozen: Any, pump: Pump, smtp: AuthSmtpServer, imap: PymapServer, folder: str
) -> None:
    identity = await identity_row(await connect(gql, smtp, imap, folder))
    campaign, (lead,) = await emailed(workspace, pump, identity, ["race@lead.example"])
    ours = await sent_id(lead)
    imap.append(
        message("race@lead.example", "Re: Hello", "Interested, tell me more.", headers=f"In-Reply-To: {ours}\r\n"),
        folder,
    )
    await asyncio.gather(inbox.sync_identity(identity.id), inbox.sync_identity(identity.id))
    lead = await reload(lead)
    assert lead.status == LeadStatus.REPLIED and lead.positive
    assert await Activity.filter(lead_id=lead.id, kind=ActivityKind.REPLY_RECEIVED).count() == 1
    assert await InboundMessage.filter(identity_id=identity.id).count() == 1
    await assert_counters_match(campaign.id)


async def test_a_uidvalidity_change_reprocesses_nothing(
    gql: Any, workspace: Any, frozen: Any, pump: Pump, smtp: AuthSmtpServer, imap: PymapServer, folder: str
) -> None:
    identity = await identity_row(await connect(gql, smtp, imap, folder))
    campaign, (lead,) = await emailed(workspace, pump, identity, ["valid@lead.example"])
    ours = await sent_id(lead)
    reply = message("valid@lead.example", "Re: Hello", "Sounds good.", headers=f"In-Reply-To: {ours}\r\n")
    imap.append(reply, folder)
    syncs = sample("outbound_mailbox_syncs_total", outcome="ok")
    replies = sample("outbound_mailbox_messages_total", kind="reply")
    await inbox.sync_identity(identity.id)
    # /metrics counts the read and what it brought in
    assert sample("outbound_mailbox_syncs_total", outcome="ok") == syncs + 1
    assert sample("outbound_mailbox_messages_total", kind="reply") == replies + 1
    first = await Identity.get(id=identity.id)
    assert first.imap_uidvalidity == imap.uidvalidity(folder)

    imap.recreate_folder(folder)  # a new UIDVALIDITY: the old UIDs mean nothing now
    imap.append(reply, folder)  # the same message again, under a new UID
    await inbox.sync_identity(identity.id)
    after = await Identity.get(id=identity.id)
    assert after.imap_uidvalidity == imap.uidvalidity(folder) != first.imap_uidvalidity
    assert after.mailbox_sync_error is None
    assert await Activity.filter(lead_id=lead.id, kind=ActivityKind.REPLY_RECEIVED).count() == 1
    await assert_counters_match(campaign.id)


async def test_a_wrong_password_is_stored_backed_off_and_disconnects(
    gql: Any, workspace: Any, frozen: Any, pump: Pump, smtp: AuthSmtpServer, imap: PymapServer, folder: str
) -> None:
    data = await gql(
        CREATE,
        {
            "input": {
                "name": "Sam",
                "emailAddress": SENDER,
                "mailbox": {"smtpUrl": smtp.url(), "imapUrl": imap.url(folder, password="wrong-Pass-1")},
            }
        },
    )
    identity_id = data["createIdentity"]["identity"]["id"]
    refused = sample("outbound_mailbox_syncs_total", outcome="disconnected")
    synced = (await gql(SYNC, {"id": identity_id}))["syncMailbox"]
    assert sample("outbound_mailbox_syncs_total", outcome="disconnected") == refused + 1
    assert synced["identity"]["emailConnected"] is False
    assert "login refused" in synced["identity"]["mailbox"]["syncError"]
    assert "wrong-Pass-1" not in synced["identity"]["mailbox"]["syncError"]
    row = await identity_row(identity_id)
    now = frozen.now()
    first_delay = row.mailbox_sync_due_at - now
    assert first_delay >= timedelta(seconds=60) and row.mailbox_sync_failures == 1
    await inbox.sync_identity(row.id)  # fails again: waits longer
    row = await Identity.get(id=row.id)
    assert row.mailbox_sync_due_at - now > first_delay and row.mailbox_sync_failures == 2
    # Not due: the scheduler does not claim it; once due, it does (and only once, under its lease).
    assert row.id not in await inbox.claim_due_mailboxes(now, 300)
    later = row.mailbox_sync_due_at + timedelta(seconds=1)
    assert await inbox.claim_due_mailboxes(later, 300) == [row.id]
    assert await inbox.claim_due_mailboxes(later, 300) == []

    # A lead reaching an email step meanwhile: ERROR / EMAIL_DISCONNECTED, with the hint to reconnect.
    campaign, (lead,) = await emailed(workspace, pump, row, ["waiting@lead.example"])
    lead = await reload(lead)
    assert (lead.status, lead.substatus) == (LeadStatus.ERROR, LeadSubstatus.EMAIL_DISCONNECTED)
    await assert_counters_match(campaign.id)

    # Reconnecting with the right password clears it.
    fixed = await gql(UPDATE, {"id": identity_id, "input": {"mailbox": {"imapUrl": imap.url(folder)}}})
    assert fixed["updateIdentity"]["identity"]["emailConnected"] is True
    synced = (await gql(SYNC, {"id": identity_id}))["syncMailbox"]
    assert synced["identity"]["mailbox"]["syncError"] is None


async def test_an_smtp_login_refused_disconnects_the_identity(
    gql: Any, workspace: Any, frozen: Any, pump: Pump, smtp: AuthSmtpServer, imap: PymapServer, folder: str
) -> None:
    data = await gql(
        CREATE,
        {"input": {"name": "Sam", "emailAddress": SENDER, "mailbox": {"smtpUrl": smtp.url(password="nope-Nope-1")}}},
    )
    identity = await identity_row(data["createIdentity"]["identity"]["id"])
    campaign, (first, second) = await emailed(workspace, pump, identity, ["a@lead.example", "b@lead.example"])
    leads = [await reload(lead) for lead in (first, second)]
    assert {(lead.status, lead.substatus) for lead in leads} == {(LeadStatus.ERROR, LeadSubstatus.EMAIL_DISCONNECTED)}
    assert (await Identity.get(id=identity.id)).email_connected is False
    assert not await Activity.filter(campaign_id=campaign.id, kind=ActivityKind.EMAIL_SENT).exists()
    await assert_counters_match(campaign.id)


async def test_passwords_never_come_back_nor_sit_in_clear(
    gql: Any, smtp: AuthSmtpServer, imap: PymapServer, folder: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await gql.post(
        CREATE,
        {
            "input": {
                "name": "Sam",
                "emailAddress": SENDER,
                "mailbox": {"smtpUrl": smtp.url(), "imapUrl": imap.url(folder, password="wrong-Pass-9")},
            }
        },
    )
    identity_id = response.json()["data"]["createIdentity"]["identity"]["id"]
    synced = await gql.post(SYNC, {"id": identity_id})
    everything = response.text + synced.text + caplog.text
    row = await identity_row(identity_id)
    stored = " ".join(str(v) for v in (await Identity.filter(id=row.id).values())[0].values())
    for secret in (SMTP_PASSWORD, "wrong-Pass-9"):
        assert secret not in everything
        assert secret not in stored
    assert row.smtp_url_secret and row.imap_url_secret and "smtp://" not in stored


@pytest.mark.parametrize(
    ("mailbox", "field", "words"),
    [
        ({"smtpUrl": "http://x.example"}, "smtpUrl", "unsupported scheme"),
        ({"smtpUrl": "smtp://"}, "smtpUrl", "no host"),
        ({"smtpUrl": "smtp://u:p@host.example:99999"}, "smtpUrl", "port"),
        ({"smtpUrl": "smtp://u:p@host.example:25/" + "x" * 2100}, "smtpUrl", "2000"),
        ({"imapUrl": "imap://host.example"}, "imapUrl", "user and a password"),
        ({"imapUrl": "smtp://u:p@host.example"}, "imapUrl", "expected an imap URL"),
    ],
)
async def test_bad_mailbox_urls_are_refused_with_their_path(gql: Any, mailbox: dict, field: str, words: str) -> None:
    data = await gql(CREATE, {"input": {"name": "Sam", "emailAddress": SENDER, "mailbox": mailbox}})
    payload = data["createIdentity"]
    assert payload["identity"] is None
    (error,) = payload["errors"]
    assert error["code"] == "INVALID_INPUT" and error["field"] == ["input", "mailbox", field]
    assert words in error["message"]
    assert not await Identity.exists()


async def test_sync_mailbox_without_an_inbox_is_refused(gql: Any) -> None:
    data = await gql(CREATE, {"input": {"name": "Plain", "emailAddress": SENDER}})
    identity = data["createIdentity"]["identity"]
    assert identity["mailbox"] is None
    payload = (await gql(SYNC, {"id": identity["id"]}))["syncMailbox"]
    assert payload["identity"] is None and payload["errors"][0]["code"] == "INVALID_INPUT"
    missing = (await gql(SYNC, {"id": to_global_id("Identity", 999999)}))["syncMailbox"]
    assert missing["errors"][0]["code"] == "NOT_FOUND"


async def test_the_scheduler_reads_inboxes_by_itself(
    gql: Any, settings: Any, backend: Any, smtp: AuthSmtpServer, imap: PymapServer, folder: str
) -> None:
    """No syncMailbox: the scheduler's tick claims the inbox and a worker runs mailboxes.sync."""
    if backend.real:
        pytest.skip("the embedded broker runs on the embedded backend (worker processes: tests/test_engine_campaign)")
    from domain import mailkeys
    from tasks import runtime

    engine = await runtime.start(settings.model_copy(update={"scheduler": True, "mailbox_sync_seconds": 1.0}))
    try:
        data = await gql(
            CREATE, {"input": {"name": "Sam", "emailAddress": SENDER, "mailbox": {"imapUrl": imap.url(folder)}}}
        )
        row = await identity_row(data["createIdentity"]["identity"]["id"])

        from tests.engine_helpers import wait_for

        reads: set[Any] = set()

        async def read_twice() -> bool:  # the first read marks the end, the next come every second
            fresh = await Identity.get(id=row.id)
            if fresh.imap_uidvalidity is not None and fresh.mailbox_synced_at is not None:
                reads.add(fresh.mailbox_synced_at)
            return len(reads) >= 2

        await wait_for(read_twice, seconds=30)
        assert (await Identity.get(id=row.id)).mailbox_sync_error is None
    finally:
        await engine.stop()
        mailkeys.install(mailkeys.from_settings(settings))


async def test_track_clicks_off_leaves_links_alone(gql: Any, workspace: Any, frozen: Any, pump: Pump) -> None:
    from engine import channels
    from tests.engine_helpers import make_identity

    ws, _ = workspace
    identity = await make_identity(ws)
    created = await gql(
        """mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { campaign { id trackClicks } } }""",
        {
            "i": {
                "name": "No tracking",
                "identityId": to_global_id("Identity", identity.id),
                "trackClicks": False,
                "steps": [{"type": "EMAIL", "subject": "Hi", "content": f"See {PRICING} {{{{unsubscribeUrl}}}}"}],
            }
        },
    )
    campaign = created["createCampaign"]["campaign"]
    assert campaign["trackClicks"] is False
    from domain.ids import decode_id
    from models import Campaign
    from models.enums import CampaignStatus

    pk = decode_id(campaign["id"], "Campaign")
    await Campaign.filter(id=pk).update(status=CampaignStatus.ACTIVE)
    await add_leads(ws, await Campaign.get(id=pk), [person(1)])
    await pump.run()
    (sent,) = channels.email_sandbox.messages.values()
    body = sent.get_content()
    assert PRICING in body and "/t/" not in body and "/u/" in body  # the unsubscribe link is always there
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    updated = await gql(
        """mutation($id: ID!) { updateCampaign(id: $id, input: {trackClicks: true}) { campaign { trackClicks } } }""",
        {"id": campaign["id"]},
    )
    assert updated["updateCampaign"]["campaign"]["trackClicks"] is True


async def test_worker_processes_send_and_read_the_mailbox(
    gql: Any, workspace: Any, backend: Any, smtp: AuthSmtpServer, imap: PymapServer, folder: str
) -> None:
    """PostgreSQL + Redis: a scheduler process claims the lead and the inbox, a `dramatiq tasks` worker
    process sends through the identity's SMTP and reads its IMAP, with the SECRET_KEY they share."""
    if not backend.real:
        pytest.skip("worker processes need Redis")
    from tests.engine_helpers import wait_for

    env = backend.env() | {"MAILBOX_SYNC_SECONDS": "1", "OUTBOUND_LEASE_SECONDS": "3"}
    processes = _spawn_processes(env)
    try:
        hours = {
            "timezone": "UTC",
            "days": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"],
        }
        mailbox = {"smtpUrl": smtp.url(), "imapUrl": imap.url(folder)}
        data = await gql(
            CREATE,
            {
                "input": {
                    "name": "Sam",
                    "emailAddress": SENDER,
                    "workingHours": hours | {"start": "00:00", "end": "23:59"},
                    "mailbox": mailbox,
                }
            },
        )
        identity = await identity_row(data["createIdentity"]["identity"]["id"])

        async def first_read() -> bool:
            return (await Identity.get(id=identity.id)).imap_uidvalidity is not None

        await wait_for(first_read, seconds=60)
        ws, _ = workspace
        campaign, _ = await make_campaign(
            ws,
            identity,
            [
                step(StepType.EMAIL, subject="Hello", content="Hi"),
                step(StepType.EMAIL, delay=86400, subject="Again", content="Again"),
            ],
        )
        before = len(smtp.messages)
        (lead,) = await add_leads(ws, campaign, [person(1, email="worker@lead.example")])

        async def sent() -> bool:
            return len(smtp.messages) > before

        await wait_for(sent, seconds=60)
        ours = smtp.messages[-1].message["Message-ID"]
        assert ours == await sent_id(lead)
        imap.append(
            message("worker@lead.example", "Re: Hello", "Yes please.", headers=f"In-Reply-To: {ours}\r\n"), folder
        )

        async def replied() -> bool:
            return (await reload(lead)).status == LeadStatus.REPLIED

        await wait_for(replied, seconds=60)
    finally:
        _kill(processes)
    await assert_counters_match(campaign.id)


def _spawn_processes(env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """A scheduler process and a worker process, each its own process group."""
    commands = [
        [sys.executable, "-m", "tasks.scheduler"],
        [str(ROOT / ".venv" / "bin" / "dramatiq"), "tasks", "-p", "1"],
    ]
    return [
        subprocess.Popen(
            c, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        for c in commands
    ]


def _kill(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
