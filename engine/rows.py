"""The engine's hot reads: the SQL built once per process, its rows turned into models by models/fastread.py.

A worker reads the same shapes for every message (a lead with its contact, campaign and identity; a
campaign's steps). Building them through Tortoise's QuerySet cost more CPU than the database spent on
them (pypika rebuilds and deep-copies the query each time). The rows become models exactly as the read
pages' rows do (`fastread.build`, Tortoise's own conversions).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from tortoise.models import Model

from models import Campaign, Contact, Identity, Lead, SequenceStep, fastread
from models.db import db, is_postgres

#: (model, table alias) of the joined lead read, in the row's order; identity is a LEFT JOIN (campaigns may
#: have none).
_JOINED: tuple[tuple[type[Model], str], ...] = ((Lead, "l"), (Contact, "ct"), (Campaign, "k"), (Identity, "i"))

#: PostgreSQL: a digest of the campaign's steps as stored (every column of every row, in order), computed in the
#: lead's query. Equal digests mean identical steps, so a worker may reuse the Sequence it built (snapshot.py).
_STEPS_DIGEST_PG = (
    "(SELECT md5(string_agg(s::text, ',' ORDER BY s.position)) FROM sequence_step s WHERE s.campaign_id = k.id)"
)


@dataclass
class Joined:
    lead: Lead
    contact: Contact | None
    campaign: Campaign | None
    identity: Identity | None
    #: None where there is no digest (SQLite) or no campaign: the steps must be read.
    steps_digest: str | None


@cache
def _lead_sql(postgres: bool) -> str:
    digest = _STEPS_DIGEST_PG if postgres else "NULL"
    select = ", ".join(fastread.columns(model, alias) for model, alias in _JOINED)
    return (
        f"SELECT {select}, {digest}"
        " FROM lead l JOIN contact ct ON ct.id = l.contact_id"
        " JOIN campaign k ON k.id = l.campaign_id LEFT JOIN identity i ON i.id = k.identity_id WHERE l.id = {}"
    )


async def read_lead(lead_id: int) -> Joined | None:
    """The lead, its contact, campaign and the campaign's identity, in one query. None: no such lead.

    Contact or campaign None means the row is gone (inner joins drop the lead then: read it alone).
    """
    postgres = is_postgres(db())
    _, rows = await db().execute_query(_lead_sql(postgres).format("$1" if postgres else "?"), [lead_id])
    if not rows:
        lead = await Lead.get_or_none(id=lead_id)
        return None if lead is None else Joined(lead, None, None, None, None)
    row = tuple(rows[0])
    parts: list[Any] = []
    start = 0
    for model, _ in _JOINED:
        end = start + fastread.width(model)
        parts.append(fastread.build(model, row[start:end]))
        start = end
    lead, contact, campaign, identity = parts
    assert isinstance(lead, Lead)
    return Joined(lead, contact, campaign, identity, row[start])


async def campaign_steps(campaign_id: int) -> list[SequenceStep]:
    """The campaign's steps in position order."""
    condition = fastread.where().equals("campaign_id", campaign_id)
    return await fastread.select(SequenceStep, condition, order_by=("position",))
