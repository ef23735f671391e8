"""Sending an action's message through its channel: step 4 of a lead's step, outside any transaction.

Only the delivery whose claim inserted the activity sends (engine/apply.py `Claimed.must_send`), so a
redelivered message never sends twice. A provider fault is retried a few times here; if it persists, the
runner hands the failure to `apply.fail`, which takes the claim back and puts the lead in ERROR.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from engine import channels
from engine.apply import Claimed
from engine.snapshot import Snapshot
from engine.views import Rendered
from mail.errors import MailboxAuthError

log = logging.getLogger("outbound.engine")

SEND_ATTEMPTS = 3
SEND_BACKOFF = 0.2  # seconds, doubled per attempt


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
            await provider.send(outbound)
            return None
        except MailboxAuthError as exc:
            log.warning("send %s: the mailbox refused its login: %s", outbound.key, exc)
            return Failure(f"{provider.name}: {exc}", disconnected=True)
        except Exception as exc:  # any provider fault counts: it is retried, then reported on the lead
            problem = f"{provider.name}: {exc}"
            log.warning("send %s failed (attempt %s): %s", outbound.key, attempt + 1, exc)
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
