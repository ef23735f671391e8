"""Campaign.funnel: how the leads now in a campaign fared at each action step (StepFunnel's descriptions).

Read from the campaign counters (one statement, like CampaignStats), keys `funnel:<what>:<step id>`
(domain/funnel_count.key), kept in the transaction that writes what they count:
- replied / positive are keys of the lead itself (counters.lead_keys, from `Lead.reply_step_id`, which
  update_lead sets whenever a change makes the lead replied: `reply_step_change`), so a removal or a
  change of `positive` moves them like any lead key;
- performed / clicked / bounced are per (lead, step) first-time facts: `recorded` adds 1 when the first
  such activity of a lead not removed is written (entries are never deleted: an action is logged only once
  its provider accepted it), and a removal takes the lead's away (domain/audience.py,
  funnel_count.recount of its leads).
funnel_count.py is the slow, certain recount: counters.recompute/reconcile use it, so a reconcile repairs
any drift (an activity written with an earlier occurred_at than one already placed, a lead removed while
an engine transaction still held it as it was).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain import counters
from domain.funnel_count import EMAIL_STEP, PERFORMED_KINDS, key
from domain.tx import batch
from models import Lead, SequenceStep
from models.enums import ActivityKind, StepType
from models.sql import db, fetch, placeholders

_EMAIL_EVENTS = {ActivityKind.EMAIL_CLICKED.value: "clicked", ActivityKind.EMAIL_BOUNCED.value: "bounced"}


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
    numbers, _, _ = await counters.read(campaign_id)
    for entry in entries:
        for what in ("performed", "replied", "positive", "clicked", "bounced"):
            setattr(entry, what, numbers.get(key(what, entry.step.id), 0))
        # An EMAIL step's own counts: elsewhere 0 (a click or bounce is always placed on an EMAIL step anyway).
        if entry.step.type != StepType.EMAIL:
            entry.clicked = entry.bounced = 0
    return entries


def count(campaign_id: int, shard: int, delta: dict[str, int]) -> None:
    """Add `delta` to the funnel's counters just before the transaction commits (domain.tx.batch), after the
    lead's own counter rows, so every transaction locks counter rows in the same order; no version bump."""
    if delta:
        batch("funnel_counters", _flush).append((campaign_id, shard, delta))


async def _flush(items: list[tuple[int, int, dict[str, int]]]) -> None:
    merged: dict[tuple[int, int], Counter[str]] = {}
    for campaign_id, shard, delta in items:
        merged.setdefault((campaign_id, shard % counters.SHARDS), Counter()).update(delta)
    for (campaign_id, shard), delta in sorted(merged.items()):
        await counters.apply(campaign_id, dict(delta), shard=shard, count_change=False)


async def reply_step(lead_id: int, at: datetime | None) -> int | None:
    """The step a first reply at `at` counts under: the last action performed for the lead at or before it
    (without a time, its last action)."""
    conn = db()
    marks = placeholders(conn, 2 + len(PERFORMED_KINDS))
    when = f" AND occurred_at <= {marks[1]}" if at is not None else ""
    kinds = marks[2:] if at is not None else marks[1:-1]
    rows = await fetch(
        conn,
        f"SELECT step_id FROM activity WHERE lead_id = {marks[0]}{when}"
        f" AND kind IN ({', '.join(kinds)}) ORDER BY occurred_at DESC, id DESC LIMIT 1",
        [lead_id, *([at] if at is not None else []), *PERFORMED_KINDS],
    )
    return None if not rows or rows[0]["step_id"] is None else int(rows[0]["step_id"])


async def reply_step_change(lead: Lead, changes: Mapping[str, Any]) -> dict[str, Any]:
    """{"reply_step_id": ...} when `changes` make the lead replied or move its first reply (domain/leads'
    update_lead adds it), else {}: whatever path sets `replied`, the funnel's lead key follows."""
    if "reply_step_id" in changes or not ("replied" in changes or "replied_at" in changes):
        return {}
    replied, replied_at = changes.get("replied", lead.replied), changes.get("replied_at", lead.replied_at)
    if not replied:
        return {"reply_step_id": None} if lead.reply_step_id is not None else {}
    if lead.replied and replied_at == lead.replied_at:
        return {}
    return {"reply_step_id": await reply_step(lead.id, replied_at)}


async def recorded(lead: Lead, kind: str, step_id: int | None, activity_id: int) -> dict[str, int]:
    """The funnel keys a newly written activity adds (call after its INSERT, in the same transaction)."""
    if lead.removed_at is not None:
        return {}
    conn = db()
    if kind in PERFORMED_KINDS and step_id is not None:
        marks = placeholders(conn, 3 + len(PERFORMED_KINDS))
        rows = await fetch(
            conn,
            f"SELECT 1 AS x FROM activity WHERE lead_id = {marks[0]} AND step_id = {marks[1]} AND id <> {marks[2]}"
            f" AND kind IN ({', '.join(marks[3:])}) LIMIT 1",
            [lead.id, step_id, activity_id, *PERFORMED_KINDS],
        )
        return {} if rows else {key("performed", step_id): 1}
    what = _EMAIL_EVENTS.get(kind)
    if what is None:
        return {}
    # Where each of the lead's events of this kind is placed (a lead has few): the new one counts when its
    # step had none of them yet.
    marks = placeholders(conn, 2)
    rows = await fetch(
        conn,
        f"SELECT e.id AS id, ({EMAIL_STEP}) AS step_id FROM activity e"
        f" WHERE e.lead_id = {marks[0]} AND e.kind = {marks[1]}",
        [lead.id, kind],
    )
    mine = next((r["step_id"] for r in rows if int(r["id"]) == activity_id), None)
    if mine is None or any(r["step_id"] == mine for r in rows if int(r["id"]) != activity_id):
        return {}
    return {key(what, int(mine)): 1}

