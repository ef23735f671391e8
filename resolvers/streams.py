"""Every row of a list, chunk by chunk: what the CSV export (export.py) streams.

A list is streamed under the very filter its connection pages through (`audience_filter`,
`activity_filter` in resolvers/reads.py) and in the connection's order, by the same keyset: each chunk is
one query, the filter's `copy()` plus "after the last row sent", `LIMIT chunk`. So memory holds one chunk
whatever the list's size, no transaction stays open while a slow client downloads, and page 1000 costs what
page 1 costs. The chunk's contacts come in the same query (a join on the limited rows), its steps from one
read of the campaign's sequence. The rows are instances built by models/fastread.py, as a page's are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from compat import model_meta
from domain.ids import decode_id
from models import Activity, Campaign, Contact, Lead, SequenceStep, fastread
from models.db import db
from resolvers.reads import activity_after, activity_filter, audience_filter

#: Rows per query: large enough that the round trips do not matter, small enough to be a few MB.
CHUNK = 1000


@dataclass(slots=True)
class Row:
    """One exported row: a lead or an activity, with its contact and (if any) its step."""

    item: Any
    contact: Contact
    step: SequenceStep | None


async def find_campaign(workspace_id: int, global_id: str) -> Campaign | None:
    """The campaign of this ID in this workspace; None for a foreign, malformed or unknown ID alike."""
    pk = decode_id(global_id, "Campaign")
    if pk is None:
        return None
    return await Campaign.get_or_none(id=pk, workspace_id=workspace_id)


async def _steps(campaign_id: int) -> dict[int, SequenceStep]:
    return {step.id: step for step in await SequenceStep.filter(campaign_id=campaign_id)}


def _order(columns: tuple[str, ...], alias: str = "") -> str:
    """An ORDER BY list from columns each optionally prefixed with '-' (descending), as fastread.select takes."""
    return ", ".join(f'{alias}"{c[1:]}" DESC' if c.startswith("-") else f'{alias}"{c}"' for c in columns)


@dataclass(frozen=True, slots=True)
class Reads:
    """The attributes an exporter reads of the rows and of their contacts (None: all); the pk always."""

    item: frozenset[str] | None = None
    contact: frozenset[str] | None = None


async def _chunk(
    model: type[Any], condition: fastread.Where, order: tuple[str, ...], chunk: int, reads: Reads
) -> list[tuple[Any, Contact]]:
    """`chunk` rows of `model` matching `condition` in `order`, each with its contact. The LIMIT applies to
    `model`'s rows alone (the derived table), so the filter's unqualified column names stay unambiguous."""
    table = model_meta(model).db_table
    sql = (
        f"SELECT {fastread.columns(model, 'r', reads.item)}, {fastread.columns(Contact, 'c', reads.contact)}"
        f' FROM (SELECT * FROM "{table}" WHERE {condition.sql()} ORDER BY {_order(order)} LIMIT {int(chunk)}) AS r'
        f' JOIN "contact" AS c ON c."id" = r."contact_id" ORDER BY {_order(order, "r.")}'
    )
    _, rows = await db().execute_query(sql, condition.values)
    width = fastread.width(model, reads.item)
    out = []
    for row in rows:
        values = tuple(row)  # a driver's record may not slice
        item = fastread.build(model, values[:width], reads.item)
        contact = fastread.build(Contact, values[width:], reads.contact)
        assert item is not None and contact is not None  # an inner join on two primary keys
        out.append((item, contact))
    return out


async def stream_audience(
    campaign: Campaign, workspace_id: int, filter: Any, reads: Reads = Reads(), *, chunk: int | None = None
) -> AsyncIterator[list[Row]]:
    """The rows of `campaign.audience(filter:)`, oldest first (by id), `chunk` (default CHUNK) at a time."""
    chunk = chunk or CHUNK
    built = audience_filter(campaign, workspace_id, filter)
    if built is None:
        return
    condition, _ = built
    steps = await _steps(campaign.id)
    after: int | None = None
    while True:
        page = condition.copy()
        if after is not None:
            page.add('"id" > {}', after)
        rows = await _chunk(Lead, page, ("id",), chunk, reads)
        if rows:
            after = rows[-1][0].id
            yield [Row(lead, contact, steps.get(lead.current_step_id)) for lead, contact in rows]
        if len(rows) < chunk:
            return


async def stream_activity(
    campaign: Campaign, workspace_id: int, filter: Any, reads: Reads = Reads(), *, chunk: int | None = None
) -> AsyncIterator[list[Row]]:
    """The rows of `campaign.activity(filter:)`, newest first by (occurred_at, id), `chunk` (default CHUNK) at
    a time."""
    chunk = chunk or CHUNK
    condition = activity_filter(campaign.id, workspace_id, filter)
    if condition is None:
        return
    steps = await _steps(campaign.id)
    after: tuple[Any, int] | None = None
    while True:
        page = condition.copy()
        if after is not None:
            activity_after(page, *after)
        rows = await _chunk(Activity, page, ("-occurred_at", "-id"), chunk, reads)
        if rows:
            last = rows[-1][0]
            after = (last.occurred_at, last.id)
            yield [Row(activity, contact, steps.get(activity.step_id)) for activity, contact in rows]
        if len(rows) < chunk:
            return
