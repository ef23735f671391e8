"""Campaign.series' pre-count: a campaign's SeriesPoint counts per 15-minute UTC slot (table activity_slot).

A series then sums one row per slot (and writer shard), whatever the number of activities: every local
hour, day and week of an IANA zone (offsets in multiples of 15 minutes since 1972) is a union of whole
slots. Rows are kept where activities are written (domain/activity.py; entries are never deleted), in the same
transaction (written just before its COMMIT), on the lead's counter shard; `compact` (the scheduler's
tick) folds a closed slot's shards into shard 0, so the past is one row per slot; `rebuild` recounts a
campaign from the activity table (bulk loads that bypass record_activity, drift repair).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.tx import batch, transaction
from models.enums import ActivityKind
from models.sql import db, execute, fetch, is_postgres, placeholders

SLOT = timedelta(minutes=15)
SLOT_SECONDS = 900
SHARDS = 8

K = ActivityKind
#: SeriesPoint field (a column of activity_slot) -> the Activity kinds it counts. INMAIL_SENT is a LinkedIn
#: message (as in linkedin.contacted). UNSUBSCRIBED is revision 2's kind: counted once it is recorded.
#: POST_LIKED, INVITATION_WITHDRAWN and TASK_CREATED have no field.
POINT_KINDS: dict[str, tuple[str, ...]] = {
    "profile_visits": (K.PROFILE_VISITED.value,),
    "invitations_sent": (K.INVITATION_SENT.value,),
    "invitations_accepted": (K.INVITATION_ACCEPTED.value,),
    "linkedin_messages_sent": (K.LINKEDIN_MESSAGE_SENT.value, K.INMAIL_SENT.value),
    "emails_sent": (K.EMAIL_SENT.value,),
    "emails_clicked": (K.EMAIL_CLICKED.value,),
    "emails_bounced": (K.EMAIL_BOUNCED.value,),
    "replies": (K.REPLY_RECEIVED.value,),
    "unsubscribes": ("UNSUBSCRIBED",),
    "tasks_completed": (K.TASK_COMPLETED.value,),
    "errors": (K.LEAD_ERROR.value,),
}
del K
COLUMN_OF_KIND = {kind: name for name, kinds in POINT_KINDS.items() for kind in kinds}
POSITIVE = "positive_replies"
COLUMNS = (*POINT_KINDS, POSITIVE)
#: A reply is marked positive by the label recordLeadEvent puts first in its detail (domain/inbound._detail):
#: "(positive)" or "(simulated, positive)", alone or followed by a space and the message.
POSITIVE_LABELS = ("(positive)", "(simulated, positive)")

_KEY = "(campaign_id, slot_start, shard)"


def slot_of(at: datetime) -> datetime:
    """The UTC start of the 15-minute slot holding `at`."""
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def is_positive(kind: str, detail: str | None) -> bool:
    if kind != ActivityKind.REPLY_RECEIVED.value or detail is None:
        return False
    return any(detail == label or detail.startswith(label + " ") for label in POSITIVE_LABELS)


def columns_of(kind: str, detail: str | None) -> list[str]:
    """The columns one activity counts in: its kind's (none for a kind without a field), and
    positive_replies for a positive reply."""
    column = COLUMN_OF_KIND.get(kind)
    if column is None:
        return []
    return [column, POSITIVE] if is_positive(kind, detail) else [column]


def _add_all(table: str) -> str:
    return ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COLUMNS)


def add(campaign_id: int, shard: int, at: datetime, columns: list[str], change: int) -> None:
    """Count `change` (+1 written, -1 deleted) in `columns` of the slot of `at`, written just before the
    transaction commits (domain.tx.batch): after every counter row the transaction locks, so the lock order
    is counters -> slots in every transaction, and one statement per transaction whatever its activities."""
    if columns:
        batch("activity_slot", _flush).append((campaign_id, slot_of(at), shard % SHARDS, columns, change))


async def _flush(items: list[tuple[int, datetime, int, list[str], int]]) -> None:
    rows: dict[tuple[int, datetime, int], dict[str, int]] = {}
    for campaign_id, slot, shard, columns, change in items:
        row = rows.setdefault((campaign_id, slot, shard), dict.fromkeys(COLUMNS, 0))
        for column in columns:
            row[column] += change
    conn = db()
    values: list[Any] = []
    tuples = []
    # Sorted: two transactions upserting the same rows lock them in the same order (no deadlock).
    for key in sorted(rows):
        marks = placeholders(conn, 3 + len(COLUMNS), start=len(values) + 1)
        tuples.append(f"({', '.join(marks)})")
        values += [*key, *(rows[key][c] for c in COLUMNS)]
    await execute(
        conn,
        f"INSERT INTO activity_slot (campaign_id, slot_start, shard, {', '.join(COLUMNS)}) VALUES "
        + ", ".join(tuples)
        + f" ON CONFLICT {_KEY} DO UPDATE SET {_add_all('activity_slot')}",
        values,
    )


def _slot_sql(postgres: bool) -> str:
    """SQL of the slot start of activity.occurred_at, in the form the column stores."""
    if postgres:
        return "date_bin('15 minutes', occurred_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
    # SQLite keeps Tortoise's ISO text (`2026-03-01 10:15:00+00:00`): the same text keeps comparisons right.
    return (
        "strftime('%Y-%m-%d %H:', occurred_at) || printf('%02d', (CAST(strftime('%M', occurred_at) AS INTEGER)"
        " / 15) * 15) || ':00+00:00'"
    )


def _sums() -> str:
    """SUM(CASE ...) per column over activity rows: the slot's counts, in one pass."""
    labels = " OR ".join(f"detail = '{label}' OR detail LIKE '{label} %'" for label in POSITIVE_LABELS)
    parts = [
        f"SUM(CASE WHEN kind IN ({', '.join(repr(k) for k in kinds)}) THEN 1 ELSE 0 END)"
        for kinds in POINT_KINDS.values()
    ]
    parts.append(f"SUM(CASE WHEN kind = '{ActivityKind.REPLY_RECEIVED.value}' AND ({labels}) THEN 1 ELSE 0 END)")
    return ", ".join(parts)


async def rebuild(campaign_id: int, *, shards: int = 1) -> int:
    """Recount a campaign's slots from its activities (one INSERT ... SELECT ... GROUP BY); returns the rows.

    `shards` > 1 spreads the counts over shard = lead_id % shards, as the live writers leave an open slot
    (a bench can measure that state, or fold it with `compact`)."""
    conn = db()
    mark = placeholders(conn, 1)[0]
    await execute(conn, f"DELETE FROM activity_slot WHERE campaign_id = {mark}", [campaign_id])
    return await execute(conn, fill_sql(is_postgres(conn), f"campaign_id = {mark}", shards), [campaign_id])


def fill_sql(postgres: bool, where: str = "TRUE", shards: int = 1) -> str:
    """The INSERT ... SELECT that counts the slots of the activities matching `where` (into an empty
    activity_slot for them): `rebuild`'s, and bench/seed.py's after its COPY."""
    kinds = ", ".join(f"'{k}'" for k in COLUMN_OF_KIND)
    return (
        f"INSERT INTO activity_slot (campaign_id, slot_start, shard, {', '.join(COLUMNS)})"
        f" SELECT campaign_id, {_slot_sql(postgres)} AS s, lead_id % {shards} AS h, {_sums()} FROM activity"
        f" WHERE ({where}) AND kind IN ({kinds}) GROUP BY campaign_id, s, h"
    )


async def compact(now: datetime, since: timedelta = timedelta(days=1)) -> int:
    """Fold the shards of every slot closed in the last `since` into shard 0 (all campaigns); returns the
    slots folded. The sums do not change, in one statement (PostgreSQL) or one transaction (the caller's,
    SQLite): a series read sees the slot before or after, never half. A writer of a late activity (an
    occurred_at in a closed slot) writes a shard again; the next fold takes it."""
    conn = db()
    marks = placeholders(conn, 2)
    window = f"shard > 0 AND slot_start >= {marks[0]} AND slot_start < {marks[1]}"
    values = [slot_of(now) - since, slot_of(now)]
    insert = f"INSERT INTO activity_slot (campaign_id, slot_start, shard, {', '.join(COLUMNS)})"
    sums = ", ".join(f"SUM({c})" for c in COLUMNS)
    upsert = f" ON CONFLICT {_KEY} DO UPDATE SET {_add_all('activity_slot')}"
    if is_postgres(conn):
        return await execute(
            conn,
            f"WITH moved AS (DELETE FROM activity_slot WHERE {window} RETURNING *)"
            f" {insert} SELECT campaign_id, slot_start, 0, {sums} FROM moved GROUP BY campaign_id, slot_start"
            + upsert
            + " RETURNING 1",  # the slots written, counted the same way on every driver
            values,
        )
    # SQLite: two statements, in one transaction (a SELECT before an upsert's ON CONFLICT needs a WHERE,
    # which it has, and GROUP BY ... HAVING keeps the parser from reading ON as a join's).
    async with transaction():
        conn = db()
        moved = await execute(
            conn,
            f"{insert} SELECT campaign_id, slot_start, 0, {sums} FROM activity_slot WHERE {window}"
            " GROUP BY campaign_id, slot_start HAVING 1" + upsert,
            values,
        )
        await execute(conn, f"DELETE FROM activity_slot WHERE {window}", values)
    return moved


async def differences(campaign_id: int) -> list[dict[str, Any]]:
    """(slot, column, stored, counted) where the slots disagree with the activity table: a test's and an
    operator's check. Empty when exact."""
    conn = db()
    mark = placeholders(conn, 1)[0]
    rows = await fetch(
        conn,
        f"SELECT slot_start, {', '.join(f'SUM({c}) AS {c}' for c in COLUMNS)} FROM activity_slot"
        f" WHERE campaign_id = {mark} GROUP BY slot_start",
        [campaign_id],
    )
    stored = {(_epoch(r["slot_start"]), c): int(r[c]) for r in rows for c in COLUMNS if r[c]}
    counted: dict[tuple[int, str], int] = {}
    sql = f"SELECT occurred_at, kind, detail FROM activity WHERE campaign_id = {mark}"
    acts = await fetch(conn, sql, [campaign_id])
    for a in acts:
        at = a["occurred_at"]
        at = datetime.fromisoformat(at) if isinstance(at, str) else at
        for column in columns_of(a["kind"], a["detail"]):
            key = (int(slot_of(at).timestamp()), column)
            counted[key] = counted.get(key, 0) + 1
    return [
        {"slot": k[0], "column": k[1], "stored": stored.get(k, 0), "counted": counted.get(k, 0)}
        for k in sorted(stored.keys() | counted.keys())
        if stored.get(k, 0) != counted.get(k, 0)
    ]


def _epoch(value: Any) -> int:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return int(at.timestamp())
