"""Sending an action's message through its channel: step 4 of a lead's step, outside any transaction.

Only the delivery that inserted the action's claim sends (engine/claims.py `Claimed.must_send`), so a
redelivered message never sends twice. A provider fault is retried a few times here; if it persists, the
runner hands the failure to `apply.fail`, which takes the claim back and puts the lead in ERROR.

Each attempt has a deadline (ATTEMPT_SECONDS, whatever the provider's own per-command timeouts add up
to), so a send has a longest duration: a claim still SENDING well after it (`interrupted_after`) belongs
to a worker that died mid-send, and the next delivery says so on the lead instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import timedelta

from engine import channels
from engine.claims import Claimed
from engine.snapshot import Snapshot
from engine.views import Rendered
from mail.errors import MailboxAuthError

log = logging.getLogger("outbound.engine")

SEND_ATTEMPTS = 3
SEND_BACKOFF = 0.2  # seconds, doubled per attempt
#: The most one attempt may take, from connecting to the server's acceptance (SMTP: mail/smtp.py's 30 s
#: are per command, so a slow server could otherwise take minutes).
ATTEMPT_SECONDS = float(os.environ.get("OUTBOUND_SEND_ATTEMPT_SECONDS", "60"))


def longest_send() -> timedelta:
    """The longest `deliver` can take: every attempt to its deadline, and the backoffs between them."""
    backoffs = sum(SEND_BACKOFF * 2**attempt for attempt in range(SEND_ATTEMPTS - 1))
    return timedelta(seconds=SEND_ATTEMPTS * ATTEMPT_SECONDS + backoffs)


def interrupted_after() -> timedelta:
    """How old a SENDING claim must be to be called interrupted: the longest send, plus one more attempt's
    time as a margin for the commit that follows the send and for clocks that differ between workers."""
    return longest_send() + timedelta(seconds=ATTEMPT_SECONDS)


@dataclass(frozen=True, slots=True)
class Failure:
    message: str
    #: The identity's mailbox refused its login: not retried, the lead is EMAIL_DISCONNECTED.
    disconnected: bool = False


async def deliver(snap: Snapshot, claimed: Claimed, rendered: Rendered) -> Failure | None:
    """None when sent; else what went wrong, after SEND_ATTEMPTS tries (a refused login: at once)."""
    provider = claimed.provider
    assert provider is not None
    outbound = _outbound(snap, claimed, rendered)
    problem = "unknown failure"
    for attempt in range(SEND_ATTEMPTS):
        try:
            async with asyncio.timeout(ATTEMPT_SECONDS):
                await provider.send(outbound)
            return None
        except MailboxAuthError as exc:
            log.warning("send %s: the mailbox refused its login: %s", outbound.key, exc)
            return Failure(f"{provider.name}: {exc}", disconnected=True)
        except Exception as exc:  # any provider fault counts: it is retried, then reported on the lead
            said = f"no answer within {ATTEMPT_SECONDS:g} s" if isinstance(exc, TimeoutError) else exc
            problem = f"{provider.name}: {said}"
            log.warning("send %s failed (attempt %s): %s", outbound.key, attempt + 1, said)
            if attempt + 1 < SEND_ATTEMPTS:
                await asyncio.sleep(SEND_BACKOFF * 2**attempt)
    return Failure(problem)


def _outbound(snap: Snapshot, claimed: Claimed, rendered: Rendered) -> channels.Outbound:
    identity, contact = snap.identity, snap.contact
    return channels.Outbound(
        key=claimed.key,
        kind=claimed.kind,
        external_id=claimed.external_id or "",
        sender_name=identity.name if identity else "",
        sender_email=identity.email_address if identity else None,
        sender_linkedin=identity.linkedin_url if identity else None,
        recipient_name=contact.full_name,
        recipient_email=contact.email,
        recipient_linkedin=contact.linkedin_url,
        subject=rendered.subject,
        body=rendered.body,
        lead_id=snap.lead.id,
        step_id=claimed.step_id,
        track_clicks=snap.campaign.track_clicks,
    )
