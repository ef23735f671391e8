"""Campaign.funnel: how the leads now in a campaign fared at each action step (StepFunnel's descriptions).

Counted from the Activity log and the leads, in three grouped statements (never one per step or lead):
- performed: leads with an activity of the step's action (the kinds the engine records when it performs
  one; a send that failed for good was taken back, so it is not there);
- replied / positive: leads that replied (`lead.replied`, the Overview's fact), under the step of the last
  action performed for them at or before their first reply (`lead.replied_at`); a reply before any action
  counts under no step; positive: those of them whose reply is marked positive (`lead.positive`);
- clicked / bounced: leads with an EMAIL_CLICKED / EMAIL_BOUNCED under the EMAIL step whose email it
  concerns: the activity's own step when that step's email was sent to the lead, else the last email sent
  to the lead before it (an event recorded through recordLeadEvent carries the lead's current step, which is
  already the step after the email).
Removed leads are left out, as from every Overview number.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from models import SequenceStep
from models.enums import ActivityKind, StepType
from models.sql import db, fetch, placeholders

K = ActivityKind
#: The kinds that record a step's action performed (engine/decide.py's ACTION_KIND, per step type).
PERFORMED_KINDS = tuple(
    k.value
    for k in (
        K.PROFILE_VISITED,
        K.POST_LIKED,
        K.INVITATION_SENT,
        K.LINKEDIN_MESSAGE_SENT,
        K.INMAIL_SENT,
        K.EMAIL_SENT,
        K.TASK_CREATED,
    )
)
del K


@dataclass(slots=True)
class StepFunnel:
    step: SequenceStep
    performed: int = 0
    replied: int = 0
    positive: int = 0
    clicked: int = 0
    bounced: int = 0

    @property
    def reply_rate(self) -> float:
        return self.replied / self.performed if self.performed else 0.0


async def funnel(campaign_id: int, steps: list[SequenceStep]) -> list[StepFunnel]:
    """One entry per action step of `steps` (the campaign's, in position order)."""
    entries = [StepFunnel(step=s) for s in steps if StepType(s.type).is_action]
    if not entries:
        return entries
    by_step = {e.step.id: e for e in entries}
    counts: dict[tuple[int, str], int] = defaultdict(int)
    for row in await _performed(campaign_id) + await _replied(campaign_id) + await _email_events(campaign_id):
        if row["step_id"] is not None:
            counts[(int(row["step_id"]), row["what"])] += int(row["n"])
    for (step_id, what), n in counts.items():
        entry = by_step.get(step_id)
        if entry is not None:
            setattr(entry, what, n)
    # An EMAIL step's own counts: elsewhere 0 (a click or bounce is always placed on an EMAIL step anyway).
    for entry in entries:
        if entry.step.type != StepType.EMAIL:
            entry.clicked = entry.bounced = 0
    return entries


def _in(marks: list[str]) -> str:
    return f"({', '.join(marks)})"


async def _performed(campaign_id: int) -> list[dict]:
    conn = db()
    marks = placeholders(conn, 1 + len(PERFORMED_KINDS))
    return await fetch(
        conn,
        # DISTINCT before the join: one row per (step, lead) meets the leads, not one per activity.
        "SELECT d.step_id, 'performed' AS what, COUNT(*) AS n FROM ("
        " SELECT DISTINCT step_id, lead_id FROM activity"
        f" WHERE campaign_id = {marks[0]} AND kind IN {_in(marks[1:])} AND step_id IS NOT NULL"
        ") d JOIN lead l ON l.id = d.lead_id AND l.removed_at IS NULL GROUP BY d.step_id",
        [campaign_id, *PERFORMED_KINDS],
    )


async def _replied(campaign_id: int) -> list[dict]:
    conn = db()
    # SQLite's `?` are taken in the order they appear: the subquery's kinds come before the campaign.
    marks = placeholders(conn, 1 + len(PERFORMED_KINDS))
    last_action = (
        "SELECT a.step_id FROM activity a WHERE a.lead_id = l.id"
        f" AND a.kind IN {_in(marks[:-1])} AND (l.replied_at IS NULL OR a.occurred_at <= l.replied_at)"
        " ORDER BY a.occurred_at DESC, a.id DESC LIMIT 1"
    )
    return await fetch(
        conn,
        "SELECT step_id, what, COUNT(*) AS n FROM ("
        f" SELECT ({last_action}) AS step_id, l.positive FROM lead l"
        f" WHERE l.campaign_id = {marks[-1]} AND l.removed_at IS NULL AND l.replied"
        ") r CROSS JOIN (SELECT 'replied' AS what UNION ALL SELECT 'positive') w"
        " WHERE w.what = 'replied' OR r.positive GROUP BY step_id, what",
        [*PERFORMED_KINDS, campaign_id],
    )


async def _email_events(campaign_id: int) -> list[dict]:
    conn = db()
    marks = placeholders(conn, 1)
    sent = ActivityKind.EMAIL_SENT.value
    # One index lookup per event: the emails sent to its lead up to it, its own step's first, else the latest.
    # (SQLite resolves no outer column in a subquery's ORDER BY: the preference is a column of its own.)
    email_step = (
        "SELECT step_id FROM (SELECT s.step_id, s.occurred_at, s.id,"
        " CASE WHEN s.step_id = e.step_id THEN 0 ELSE 1 END AS other FROM activity s"
        f" WHERE s.lead_id = e.lead_id AND s.kind = '{sent}' AND s.occurred_at <= e.occurred_at) sent"
        " ORDER BY other, occurred_at DESC, id DESC LIMIT 1"
    )
    return await fetch(
        conn,
        "SELECT step_id, what, COUNT(DISTINCT lead_id) AS n FROM ("
        f" SELECT e.lead_id, ({email_step}) AS step_id,"
        f" CASE WHEN e.kind = '{ActivityKind.EMAIL_CLICKED.value}' THEN 'clicked' ELSE 'bounced' END AS what"
        " FROM activity e JOIN lead l ON l.id = e.lead_id AND l.removed_at IS NULL"
        f" WHERE e.campaign_id = {marks[0]}"
        f" AND e.kind IN ('{ActivityKind.EMAIL_CLICKED.value}', '{ActivityKind.EMAIL_BOUNCED.value}')"
        ") x GROUP BY step_id, what",
        [campaign_id],
    )
