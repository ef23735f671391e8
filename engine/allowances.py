"""An action's allowances (the identity's daily caps, InMail credits): reserved with its claim, released
when its send fails for good (engine/apply.py)."""

from __future__ import annotations

from datetime import datetime

from engine import usage
from engine.decide import limit_wait
from engine.decisions import Act, Error, Wait, error
from engine.snapshot import Snapshot
from models.enums import LeadSubstatus


class Refused(Exception):
    """An allowance ran out between the decision and the reservation: roll back, then settle `decision`."""

    def __init__(self, decision: Wait | Error) -> None:
        self.decision = decision


async def reserve(snap: Snapshot, act: Act, now: datetime) -> None:
    identity = snap.identity
    if identity is None:
        return
    assert snap.identity_view is not None
    for allowance, period in act.reserve:
        if not await usage.reserve(identity.id, allowance, period, snap.identity_view.cap(allowance)):
            raise Refused(limit_wait(act.step, snap.identity_view, allowance, now))
    if act.spend_inmail and not await usage.spend_inmail_credit(identity.id):
        raise Refused(error(act.step, LeadSubstatus.INMAIL_CREDITS_LIMIT))


async def release(snap: Snapshot, act: Act) -> None:
    identity = snap.identity
    if identity is None:
        return
    for allowance, period in act.reserve:
        await usage.release(identity.id, allowance, period)
    if act.spend_inmail:
        await usage.refund_inmail_credit(identity.id)
