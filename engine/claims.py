"""An outbound action's claim: the row (models/claim.py) that decides which delivery sends, apart from the log.

The Activity log says what happened; so an EMAIL_SENT is written only once the provider accepted the
email (engine/apply.py `advance`). What keeps a redelivered message from sending again is this row,
inserted before the send under the key (lead, step, attempt):

- `insert` (ON CONFLICT DO NOTHING) in `claim`'s transaction: whoever inserts it sends; it is SENDING.
- `mark(key, SENT)` in the transaction that records the activity and the lead's flags after the send.
- `mark(key, INTERRUPTED)` by a later delivery that finds it SENDING for longer than any send can take
  (engine/send.py `interrupted_after`): the worker died mid-send. Both marks are compare-and-set from
  SENDING, so of a late finish and an interruption exactly one wins.
- `release` in `fail`: the provider refused for good; the row goes, so a later run may send.

Every transaction that writes a claim writes its lead first (lock order lead -> claim), so the finish and
the interruption of one send never deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine import channels
from models import ActionClaim, Lead
from models.enums import ActivityKind, ClaimState
from models.sql import db, execute, fetch, placeholders


@dataclass(frozen=True)
class Claimed:
    """An action's claim, committed. `inserted`: this delivery made the claim (or, for a task, recorded its
    activity), so it is the one to send; else the action was already performed by an earlier delivery."""

    key: str
    kind: ActivityKind
    inserted: bool
    provider: channels.Provider | None
    external_id: str | None
    step_id: int = 0
    #: The activity's detail (the subject, the note...), recorded with it once the provider accepted.
    detail: str | None = None

    @property
    def must_send(self) -> bool:
        return self.inserted and self.provider is not None


#: What was being handed over, and to whom, in the message of an interrupted action.
_WHAT: dict[ActivityKind, tuple[str, str]] = {
    ActivityKind.EMAIL_SENT: ("this email", "the mail server"),
    ActivityKind.INVITATION_SENT: ("this invitation", "LinkedIn"),
    ActivityKind.LINKEDIN_MESSAGE_SENT: ("this message", "LinkedIn"),
    ActivityKind.INMAIL_SENT: ("this InMail", "LinkedIn"),
    ActivityKind.INVITATION_WITHDRAWN: ("this withdrawal", "LinkedIn"),
    ActivityKind.PROFILE_VISITED: ("this profile visit", "LinkedIn"),
    ActivityKind.POST_LIKED: ("this like", "LinkedIn"),
}
INTERRUPTED_HINT = "Retry the lead to send it again."


def interrupted_message(kind: ActivityKind) -> str:
    """What the lead's error says after a crash mid-send: plainly, that it may or may not have gone out."""
    what, where = _WHAT.get(kind, ("this action", "its provider"))
    return (
        f"The worker stopped while {what} was being handed to {where}: it may not have gone out and is not "
        "counted as sent. Retry sends it again."
    )


async def insert(
    lead: Lead, step_id: int, kind: ActivityKind, key: str, external_id: str | None, now: datetime
) -> bool:
    """Claim the action (SENDING); False if the key is taken (another delivery claimed it)."""
    conn = db()
    marks = ", ".join(placeholders(conn, 6))
    rows = await fetch(
        conn,
        "INSERT INTO action_claim (dedupe_key, lead_id, step_id, kind, external_id, claimed_at, state)"
        f" VALUES ({marks}, '{ClaimState.SENDING.value}') ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        [key, lead.id, step_id, ActivityKind(kind).value, external_id, now],
    )
    return bool(rows)


async def mark(key: str, state: ClaimState) -> bool:
    """SENDING -> `state` by compare-and-set: False if another delivery marked it first."""
    conn = db()
    a, b = placeholders(conn, 2)
    sql = f"UPDATE action_claim SET state = {a} WHERE dedupe_key = {b} AND state = '{ClaimState.SENDING.value}'"
    return await execute(conn, sql, [state.value, key]) > 0


async def release(key: str) -> bool:
    """Take back a SENDING claim whose send failed for good; False if it was no longer SENDING."""
    return await ActionClaim.filter(dedupe_key=key, state=ClaimState.SENDING).delete() > 0


async def get(key: str) -> ActionClaim | None:
    return await ActionClaim.get_or_none(dedupe_key=key)
