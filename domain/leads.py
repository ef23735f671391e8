"""Changing leads. Every write to a lead's counted state goes through here, so counters never drift.

- `update_lead`: compare-and-set on `state_version`, counters adjusted by the difference of the lead's
  counter keys, a live `stats` event after commit. Returns False (and changes nothing) if the lead moved
  meanwhile: the caller re-reads and decides again.
- `insert_leads` / counted bulk changes: the same projection for many leads at once.

Call these inside `domain.tx.transaction()`. Lock order, to stay deadlock-free on PostgreSQL: campaign row
(conditional UPDATE of a transition) -> lead rows -> counter rows (domain/counters.py sorts its keys).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain import counters
from domain.sql import db, execute, placeholders
from live import events
from models import Lead


async def update_lead(lead: Lead, **changes: Any) -> bool:
    """CAS-update one lead from the state it was read in; keep its campaign's counters exact."""
    before = counters.lead_keys(lead)
    expected_version = lead.state_version
    rows = await _cas_update(lead.id, expected_version, changes)
    if rows == 0:
        return False
    for name, value in changes.items():
        setattr(lead, name, value)
    lead.state_version = expected_version + 1
    delta = counters.lead_delta(before, counters.lead_keys(lead))
    if await counters.apply(lead.campaign_id, delta, shard=lead.id):
        events.stats_changed(lead.workspace_id, lead.campaign_id)
    return True


async def _cas_update(lead_id: int, expected_version: int, changes: dict[str, Any]) -> int:
    """UPDATE lead SET ... WHERE id AND state_version, as plain SQL with the values converted the way
    Tortoise's UpdateQuery converts them (`field.to_db_value(value, None)`). The query builder cost more CPU
    than the statement on the engine's path, where this runs for every step."""
    fields = Lead._meta.fields_map
    columns = Lead._meta.fields_db_projection
    if any(name not in columns or fields[name].pk for name in changes):  # a relation object, or a typo: the ORM
        return await Lead.filter(id=lead_id, state_version=expected_version).update(
            **changes, state_version=expected_version + 1
        )
    conn = db()
    marks = placeholders(conn, len(changes) + 3)
    sets = [f'"{columns[name]}" = {mark}' for name, mark in zip(changes, marks, strict=False)]
    a, b, c = marks[-3:]
    values = [fields[name].to_db_value(value, None) for name, value in changes.items()]
    return await execute(
        conn,
        f"UPDATE lead SET {', '.join(sets)}, state_version = {a} WHERE id = {b} AND state_version = {c}",
        [*values, expected_version + 1, lead_id, expected_version],
    )


async def count_leads(
    workspace_id: int, campaign_id: int, leads: Iterable[Lead | dict[str, Any]], sign: int = 1
) -> None:
    """Add (sign=1) or take away (sign=-1) whole leads from the counters, e.g. after a bulk insert/remove."""
    delta = counters.merge({k: sign * v for k, v in counters.lead_keys(lead).items()} for lead in leads)
    if await counters.apply(campaign_id, delta):
        events.stats_changed(workspace_id, campaign_id)


async def apply_bulk_delta(workspace_id: int, campaign_id: int, delta: dict[str, int]) -> None:
    """Counters for a bulk UPDATE whose per-lead key changes the caller computed (e.g. the pause cascade)."""
    if await counters.apply(campaign_id, delta):
        events.stats_changed(workspace_id, campaign_id)
