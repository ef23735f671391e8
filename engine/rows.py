"""The engine's hot reads as plain SQL built once per process, turned into models without the query builder.

A worker reads the same shapes for every message (a lead with its contact, campaign and identity; a
campaign's steps). Building them through Tortoise's QuerySet cost more CPU than the database spent on
them (pypika rebuilds and deep-copies the query each time). Here the SQL text is made once from the models'
own column lists, and rows become models through `Model._init_from_db`, the constructor Tortoise itself
uses for fetched rows (the same value conversions).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from tortoise.models import Model

from models import Campaign, Contact, Identity, Lead, SequenceStep
from models.sql import db, fetch, is_postgres, placeholders

M = TypeVar("M", bound=Model)

#: (alias prefix, model, table alias) of the joined lead read; identity is a LEFT JOIN (campaigns may have none).
_JOINED: tuple[tuple[str, type[Model], str], ...] = (
    ("l.", Lead, "l"),
    ("c.", Contact, "ct"),
    ("k.", Campaign, "k"),
    ("i.", Identity, "i"),
)


def _columns(model: type[Model]) -> list[str]:
    return list(model._meta.fields_db_projection.values())


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
def _lead_sql(mark: str, postgres: bool) -> str:
    digest = _STEPS_DIGEST_PG if postgres else "NULL"
    select = ", ".join(
        f'{alias}."{col}" AS "{prefix}{col}"' for prefix, model, alias in _JOINED for col in _columns(model)
    )
    return (
        f'SELECT {select}, {digest} AS "steps_digest"'
        " FROM lead l JOIN contact ct ON ct.id = l.contact_id"
        f" JOIN campaign k ON k.id = l.campaign_id LEFT JOIN identity i ON i.id = k.identity_id WHERE l.id = {mark}"
    )


def _split(row: dict[str, Any], prefix: str, model: type[M]) -> M | None:
    values = {col: row[prefix + col] for col in _columns(model)}
    if values[model._meta.db_pk_column] is None:
        return None
    return model._init_from_db(**values)


async def read_lead(lead_id: int) -> Joined | None:
    """The lead, its contact, campaign and the campaign's identity, in one query. None: no such lead.

    Contact or campaign None means the row is gone (inner joins drop the lead then: read it alone).
    """
    conn = db()
    (p,) = placeholders(conn, 1)
    rows = await fetch(conn, _lead_sql(p, is_postgres(conn)), [lead_id])
    if not rows:
        lead = await Lead.get_or_none(id=lead_id)
        return None if lead is None else Joined(lead, None, None, None, None)
    row = rows[0]
    lead = _split(row, "l.", Lead)
    assert lead is not None
    return Joined(
        lead, _split(row, "c.", Contact), _split(row, "k.", Campaign), _split(row, "i.", Identity), row["steps_digest"]
    )


async def campaign_steps(campaign_id: int) -> list[SequenceStep]:
    conn = db()
    (p,) = placeholders(conn, 1)
    cols = ", ".join(f'"{c}"' for c in _columns(SequenceStep))
    rows = await fetch(
        conn, f"SELECT {cols} FROM sequence_step WHERE campaign_id = {p} ORDER BY position", [campaign_id]
    )
    return [SequenceStep._init_from_db(**row) for row in rows]
