"""The Activity log, written through one function (saleor's `events.py` pattern).

Exactly-once: an entry may carry a `dedupe_key`; a second entry with the same key is not written
(INSERT ... ON CONFLICT DO NOTHING), and the caller learns it was a duplicate (None).

What counts activities is kept here, in the writing transaction: Campaign.series' slots (domain/slots.py)
and Campaign.funnel's performed/clicked/bounced counters (domain/funnel.py), both on the lead's counter
shard and written just before COMMIT (domain.tx.batch): after the lead's own counter rows in every
transaction, whichever of the lead and the entry it writes first, so the lock order never crosses.
Entries are never deleted: an action enters the log only once its provider accepted it (engine/claims.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from domain import events, funnel, slots, webhooks
from models import Lead
from models.enums import ActivityKind, Channel
from models.sql import db, fetch, placeholders

COLUMNS = (
    "workspace_id",
    "campaign_id",
    "lead_id",
    "contact_id",
    "step_id",
    "kind",
    "channel",
    "occurred_at",
    "detail",
    "external_id",
    "dedupe_key",
)


async def record_activity(
    lead: Lead,
    kind: ActivityKind,
    *,
    channel: Channel | None = None,
    step_id: int | None = None,
    detail: str | None = None,
    external_id: str | None = None,
    dedupe_key: str | None = None,
    occurred_at: datetime | None = None,
) -> int | None:
    """Append one entry; returns its id, or None if an entry with this dedupe_key already exists.

    Call inside the transaction that changes the lead, so the log and the lead agree.
    """
    conn = db()
    at = occurred_at or datetime.now(UTC)
    values = [
        lead.workspace_id,
        lead.campaign_id,
        lead.id,
        lead.contact_id,
        step_id,
        ActivityKind(kind).value,
        Channel(channel).value if channel else None,
        at,
        detail,
        external_id,
        dedupe_key,
    ]
    marks = ", ".join(placeholders(conn, len(values)))
    rows = await fetch(
        conn,
        f"INSERT INTO activity ({', '.join(COLUMNS)}) VALUES ({marks})"
        " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        values,
    )
    if not rows:
        return None
    activity_id = int(rows[0]["id"])
    kind_value = ActivityKind(kind).value
    slots.add(lead.campaign_id, lead.id, at, slots.columns_of(kind_value, detail), 1)
    funnel.count(lead.campaign_id, lead.id, await funnel.recorded(lead, kind_value, step_id, activity_id))
    events.activity_recorded(lead.workspace_id, lead.campaign_id, activity_id)
    webhooks.activity_recorded(lead, kind, activity_id, at)
    return activity_id

