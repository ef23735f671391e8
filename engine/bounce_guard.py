"""The bounce guard: when too many of an identity's recent emails hard-bounced, its email steps stop, so a
bad list cannot burn the sender's domain (issue 13.6).

Judged when a hard bounce is recorded (engine/inbound.py), never on the send path: bounces are rare, sends
are not. Over the identity's last BOUNCE_GUARD_WINDOW emails (once it has sent BOUNCE_GUARD_MIN_SENDS),
more than BOUNCE_GUARD_PERCENT of their leads bounced: `Identity.bounce_guard_at` is set. From then on a
lead reaching an EMAIL step of that identity goes to ERROR / EMAIL_DISCONNECTED with a hint saying so
(engine/decide.py); LinkedIn and task steps go on. Retrying such a lead (engine/retry.py) is the person
saying "I checked the list": the guard lifts and the window starts again from that moment, so the bounces
already counted do not trip it again at once.

Why ERROR / EMAIL_DISCONNECTED and not a paused campaign: the harm is to the sender, not to one campaign
(one identity sends for several), only its email steps need to stop, and the contract has no substatus of
its own for this; EMAIL_DISCONNECTED already means "this identity cannot send email now, fix it and retry".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from config import Settings, get_settings
from models import Activity, Campaign, Identity, Lead
from models.enums import ActivityKind

log = logging.getLogger("outbound.engine")

#: The demo's simulated bounces are drawn at about 5 in 100: its guard sits higher, or it would stall itself.
DEMO_PERCENT = 20.0


@dataclass(frozen=True, slots=True)
class Limits:
    percent: float = 5.0
    window: int = 100
    min_sends: int = 20

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        percent = settings.bounce_guard_percent
        if settings.demo and "bounce_guard_percent" not in settings.model_fields_set:
            percent = DEMO_PERCENT
        return cls(percent, settings.bounce_guard_window, settings.bounce_guard_min_sends)


_limits: Limits | None = None


def configure(limits: Limits | None) -> None:
    """Set by the process wiring, or a test; None: read from the settings on first use."""
    global _limits
    _limits = limits


def limits() -> Limits:
    global _limits
    if _limits is None:
        _limits = Limits.of(get_settings())
    return _limits


async def rate(identity: Identity) -> tuple[int, int]:
    """(emails in the window, how many of their leads bounced since the window's start)."""
    sent = Activity.filter(kind=ActivityKind.EMAIL_SENT, campaign__identity_id=identity.id)
    bounced = Activity.filter(kind=ActivityKind.EMAIL_BOUNCED)
    if identity.bounce_guard_since is not None:
        sent = sent.filter(occurred_at__gte=identity.bounce_guard_since)
        bounced = bounced.filter(occurred_at__gte=identity.bounce_guard_since)
    leads = await sent.order_by("-id").limit(limits().window).values_list("lead_id", flat=True)
    if not leads:
        return 0, 0
    hit = set(await bounced.filter(lead_id__in=set(leads)).values_list("lead_id", flat=True))
    return len(leads), len(hit)


async def after_bounce(lead: Lead, now: datetime) -> None:
    """A hard bounce was recorded for `lead` (in the caller's transaction): stop its identity if need be."""
    identity_id = await Campaign.filter(id=lead.campaign_id).first().values_list("identity_id", flat=True)
    identity = await Identity.get_or_none(id=identity_id) if identity_id else None
    if identity is None or identity.bounce_guard_at is not None:
        return
    sends, bounced = await rate(identity)
    if sends < limits().min_sends or bounced * 100 <= limits().percent * sends:
        return
    await Identity.filter(id=identity.id, bounce_guard_at=None).update(bounce_guard_at=now)
    log.warning("identity %s: %s of its last %s emails bounced, its email steps stop", identity.id, bounced, sends)


async def lift(identity_id: int, now: datetime) -> None:
    """The person checked the list (a retry): email steps run again, and sends count from now."""
    await (
        Identity.filter(id=identity_id)
        .exclude(bounce_guard_at=None)
        .update(bounce_guard_at=None, bounce_guard_since=now)
    )
