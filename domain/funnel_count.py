"""Campaign.funnel counted afresh: the certain recount behind the funnel counters (domain/funnel.py).

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

from collections import Counter
from typing import Any

from models.enums import ActivityKind
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


def key(what: str, step_id: int) -> str:
    """The counter key of one funnel number: `funnel:<what>:<step id>`, what one of WHATS."""
    return f"funnel:{what}:{step_id}"


WHATS = ("performed", "replied", "positive", "clicked", "bounced")
PREFIX = "funnel:"


async def recount(campaign_id: int, lead_ids: list[int] | None = None) -> Counter[str]:
    """Every funnel key of a campaign counted afresh from its activities and leads (the slow, certain way),
    or only the `lead_ids`' contributions to performed, clicked and bounced (a removal takes them away;
    replied and positive are lead keys, which the removal takes away itself)."""
    rows = await _performed(campaign_id, lead_ids) + await _email_events(campaign_id, lead_ids)
    if lead_ids is None:
        rows += await _replied(campaign_id)
    counts: Counter[str] = Counter()
    for row in rows:
        if row["step_id"] is not None:
            counts[key(row["what"], int(row["step_id"]))] += int(row["n"])
    return counts


async def reply_steps(campaign_id: int) -> dict[int, int | None]:
    """{lead: the step its reply counts under} for every replied lead of a campaign (`Lead.reply_step_id`
    for leads written in bulk)."""
    conn = db()
    marks = placeholders(conn, 1 + len(PERFORMED_KINDS))
    rows = await fetch(
        conn,
        f"SELECT l.id AS lead_id, ({_last_action(marks[:-1])}) AS step_id FROM lead l"
        f" WHERE l.campaign_id = {marks[-1]} AND l.replied",
        [*PERFORMED_KINDS, campaign_id],
    )
    return {int(r["lead_id"]): None if r["step_id"] is None else int(r["step_id"]) for r in rows}


def _last_action(kinds: list[str]) -> str:
    """The step of lead `l`'s last action at or before its first reply (any, when it has no replied_at)."""
    return (
        "SELECT a.step_id FROM activity a WHERE a.lead_id = l.id"
        f" AND a.kind IN {_in(kinds)} AND (l.replied_at IS NULL OR a.occurred_at <= l.replied_at)"
        " ORDER BY a.occurred_at DESC, a.id DESC LIMIT 1"
    )


def _leads(conn: Any, column: str, lead_ids: list[int] | None, start: int) -> tuple[str, list[Any]]:
    if lead_ids is None:
        return "", []
    marks = placeholders(conn, len(lead_ids), start=start)
    return f" AND {column} IN {_in(marks)}", list(lead_ids)


def _in(marks: list[str]) -> str:
    return f"({', '.join(marks)})"


async def _performed(campaign_id: int, lead_ids: list[int] | None = None) -> list[dict]:
    conn = db()
    marks = placeholders(conn, 1 + len(PERFORMED_KINDS))
    only, values = _leads(conn, "lead_id", lead_ids, len(marks) + 1)
    return await fetch(
        conn,
        # DISTINCT before the join: one row per (step, lead) meets the leads, not one per activity.
        "SELECT d.step_id, 'performed' AS what, COUNT(*) AS n FROM ("
        " SELECT DISTINCT step_id, lead_id FROM activity"
        f" WHERE campaign_id = {marks[0]} AND kind IN {_in(marks[1:])} AND step_id IS NOT NULL{only}"
        ") d JOIN lead l ON l.id = d.lead_id AND l.removed_at IS NULL GROUP BY d.step_id",
        [campaign_id, *PERFORMED_KINDS, *values],
    )


async def _replied(campaign_id: int) -> list[dict]:
    conn = db()
    # SQLite's `?` are taken in the order they appear: the subquery's kinds come before the campaign.
    marks = placeholders(conn, 1 + len(PERFORMED_KINDS))
    last_action = _last_action(marks[:-1])
    return await fetch(
        conn,
        "SELECT step_id, what, COUNT(*) AS n FROM ("
        f" SELECT ({last_action}) AS step_id, l.positive FROM lead l"
        f" WHERE l.campaign_id = {marks[-1]} AND l.removed_at IS NULL AND l.replied"
        ") r CROSS JOIN (SELECT 'replied' AS what UNION ALL SELECT 'positive') w"
        " WHERE w.what = 'replied' OR r.positive GROUP BY step_id, what",
        [*PERFORMED_KINDS, campaign_id],
    )


#: The EMAIL step an email event `e` concerns (module docstring). One index lookup per event: the emails
#: sent to its lead up to it, its own step's first, else the latest. (SQLite resolves no outer column in a
#: subquery's ORDER BY: the preference is a column of its own.)
EMAIL_STEP = (
    "SELECT step_id FROM (SELECT s.step_id, s.occurred_at, s.id,"
    " CASE WHEN s.step_id = e.step_id THEN 0 ELSE 1 END AS other FROM activity s"
    f" WHERE s.lead_id = e.lead_id AND s.kind = '{ActivityKind.EMAIL_SENT.value}'"
    " AND s.occurred_at <= e.occurred_at) sent"
    " ORDER BY other, occurred_at DESC, id DESC LIMIT 1"
)


async def _email_events(campaign_id: int, lead_ids: list[int] | None = None) -> list[dict]:
    conn = db()
    marks = placeholders(conn, 1)
    only, values = _leads(conn, "e.lead_id", lead_ids, 2)
    email_step = EMAIL_STEP
    return await fetch(
        conn,
        "SELECT step_id, what, COUNT(DISTINCT lead_id) AS n FROM ("
        f" SELECT e.lead_id, ({email_step}) AS step_id,"
        f" CASE WHEN e.kind = '{ActivityKind.EMAIL_CLICKED.value}' THEN 'clicked' ELSE 'bounced' END AS what"
        " FROM activity e JOIN lead l ON l.id = e.lead_id AND l.removed_at IS NULL"
        f" WHERE e.campaign_id = {marks[0]}{only}"
        f" AND e.kind IN ('{ActivityKind.EMAIL_CLICKED.value}', '{ActivityKind.EMAIL_BOUNCED.value}')"
        ") x GROUP BY step_id, what",
        [campaign_id, *values],
    )
