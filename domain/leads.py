"""Changing leads. Every write to a lead's counted state goes through here, so counters never drift.

- `update_lead`: compare-and-set on `state_version`, counters adjusted by the difference of the lead's
  counter keys, a live `stats` event after commit. Returns False (and changes nothing) if the lead moved
  meanwhile: the caller re-reads and decides again.
- `insert_leads` / counted bulk changes: the same projection for many leads at once.

Call these inside `domain.tx.transaction()`. Lock order, to stay deadlock-free on PostgreSQL: campaign row
(conditional UPDATE of a transition) -> lead rows -> counter rows (domain/counters.py sorts its keys).
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable
from typing import Any

from compat import model_meta
from domain import counters, events, funnel, webhooks
from models import Lead
from models.enums import LeadStatus
from models.sql import db, execute, fetch, is_postgres, placeholders


async def update_lead(lead: Lead, **changes: Any) -> bool:
    """CAS-update one lead from the state it was read in; keep its campaign's counters exact."""
    changes |= await funnel.reply_step_change(lead, changes)
    before = counters.lead_keys(lead)
    expected_version = lead.state_version
    # The keys the lead will count under if the CAS wins (lead_keys reads a mapping: changes over the row).
    delta = counters.lead_delta(before, counters.lead_keys(ChainMap(changes, lead.__dict__)))
    finishing = _finishes(lead, changes)
    conn = db()
    if delta and is_postgres(conn) and _plain(changes):
        won = await _cas_update_counted(conn, lead, expected_version, changes, delta)
    else:
        won = await _cas_update(lead.id, expected_version, changes) > 0
        if won and delta:
            await counters.apply(lead.campaign_id, delta, shard=lead.id)
    if not won:
        return False
    for name, value in changes.items():
        setattr(lead, name, value)
    lead.state_version = expected_version + 1
    if delta:
        events.stats_changed(lead.workspace_id, lead.campaign_id)
    if finishing:
        webhooks.lead_finished(lead, changes.get("finished_at"))
    return True


def _finishes(lead: Lead, changes: dict[str, Any]) -> bool:
    return changes.get("status") == LeadStatus.FINISHED and lead.status != LeadStatus.FINISHED


def one_statement(changes: dict[str, Any]) -> bool:
    """Whether `update_lead(lead, **changes)` writes with one statement (lead and counters together): then a
    caller whose only write it is may skip the transaction (domain.tx.one_statement). A finish never does:
    its webhook event is written in the same transaction (domain/webhooks.py)."""
    return is_postgres(db()) and _plain(changes) and changes.get("status") != LeadStatus.FINISHED


def _plain(changes: dict[str, Any]) -> bool:
    """Only stored columns (not a relation object, not the primary key): the plain-SQL CAS can write them."""
    columns, fields = model_meta(Lead).fields_db_projection, model_meta(Lead).fields_map
    return all(name in columns and not fields[name].pk for name in changes)


def _set_clause(changes: dict[str, Any], marks: list[str]) -> tuple[str, list[Any]]:
    """`"col" = $n, ...` with values converted as Tortoise's UpdateQuery does (`field.to_db_value(v, None)`)."""
    columns, fields = model_meta(Lead).fields_db_projection, model_meta(Lead).fields_map
    sets = ", ".join(f'"{columns[name]}" = {mark}' for name, mark in zip(changes, marks, strict=False))
    # Tortoise's UpdateQuery passes None for the instance too; its annotation leaves that out.
    return sets, [fields[name].to_db_value(value, None) for name, value in changes.items()]  # type: ignore[arg-type]


async def _cas_update(lead_id: int, expected_version: int, changes: dict[str, Any]) -> int:
    """UPDATE lead SET ... WHERE id AND state_version, as plain SQL: the query builder cost more CPU than the
    statement on the engine's path, where this runs for every step. Returns the rows changed (0 or 1)."""
    if not _plain(changes):
        return await Lead.filter(id=lead_id, state_version=expected_version).update(
            **changes, state_version=expected_version + 1
        )
    conn = db()
    marks = placeholders(conn, len(changes) + 3)
    sets, values = _set_clause(changes, marks)
    a, b, c = marks[-3:]
    return await execute(
        conn,
        f"UPDATE lead SET {sets}, state_version = {a} WHERE id = {b} AND state_version = {c}",
        [*values, expected_version + 1, lead_id, expected_version],
    )


async def _cas_update_counted(
    conn: Any, lead: Lead, expected_version: int, changes: dict[str, Any], delta: dict[str, int]
) -> bool:
    """PostgreSQL: the CAS and its counter upsert in one statement (one round trip instead of two).

    The counter rows are inserted from the UPDATE's output, so they are written only if the CAS won, and
    only after the lead row is locked: the lock order lead -> counters holds (keys sorted, as in `apply`).
    """
    marks = placeholders(conn, len(changes) + 3)
    sets, values = _set_clause(changes, marks)
    a, b, c = marks[-3:]
    values += [expected_version + 1, lead.id, expected_version]
    tuples = []
    for row in counters.upsert_rows(lead.campaign_id, delta, lead.id):
        m = placeholders(conn, 5, start=len(values) + 1)
        tuples.append(f"({m[0]}::bigint, {m[1]}::int, {m[2]}::text, {m[3]}::bigint, {m[4]}::timestamptz)")
        values += row
    sql = (
        f"WITH u AS (UPDATE lead SET {sets}, state_version = {a} WHERE id = {b} AND state_version = {c}"
        " RETURNING id)"
        " INSERT INTO campaign_counter (campaign_id, shard, key, value, updated_at)"
        f" SELECT v.campaign_id, v.shard, v.key, v.value, v.updated_at FROM u, (VALUES {', '.join(tuples)})"
        " AS v(campaign_id, shard, key, value, updated_at) ORDER BY v.key" + counters.ON_CONFLICT_ADD + " RETURNING 1"
    )
    return bool(await fetch(conn, sql, values))


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
