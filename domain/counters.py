"""A campaign's counters: a projection of its leads' state, kept in the same transaction.

Each lead contributes 1 to a set of keys (`lead_keys`). A change to a lead applies the difference
between the keys before and after (`lead_delta`); adding a lead applies its keys, removing it takes them
away. `reconcile` recomputes every number from the leads and tasks and repairs any drift.

Campaign.funnel's numbers are keys here too, `funnel:<what>:<step id>` (domain/funnel.py says how they are
kept): replied/positive are lead keys (`Lead.reply_step_id`); performed/clicked/bounced are written with
the activities, without counting a change (CampaignStats.version is the Overview's, which they are not
part of). `recompute` counts all of them afresh with domain/funnel_count.py.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from domain import funnel_count
from models import LEAD_FLAGS, Lead
from models.enums import LeadStatus, TaskStatus
from models.sql import db, execute, fetch, placeholders

SHARDS = 8
#: Counts committed changes: the sum over shards is CampaignStats.version.
CHANGES = "changes"
TOTAL = "total"
STARTED = "started"
POSITIVE = "positive"
LI_POSITIVE = "li_positive"
EM_POSITIVE = "em_positive"
#: Each per-lead fact the Overview counts is also a counter key of the same name.
FLAG_KEYS = LEAD_FLAGS


def status_key(status: LeadStatus | str) -> str:
    return f"status:{LeadStatus(status).value}"


def substatus_key(substatus: Any) -> str:
    return f"sub:{getattr(substatus, 'value', substatus)}"


def step_key(step_id: int) -> str:
    return f"step:{step_id}"


def task_key(status: TaskStatus | str) -> str:
    return f"tasks:{TaskStatus(status).value}"


def lead_keys(lead: Lead | Mapping[str, Any] | None) -> Counter[str]:
    """The keys one lead counts under, as it stands. A removed lead (or None) counts under none."""
    if lead is None:
        return Counter()
    get: Callable[[str], Any] = lead.get if isinstance(lead, Mapping) else lead.__getattribute__
    if get("removed_at") is not None:
        return Counter()
    keys: Counter[str] = Counter({TOTAL: 1, status_key(get("status")): 1})
    if get("substatus") is not None:
        keys[substatus_key(get("substatus"))] = 1
    if get("current_step_id") is not None:
        keys[step_key(get("current_step_id"))] = 1
    if get("started_at") is not None:
        keys[STARTED] = 1
    for flag in FLAG_KEYS:
        if get(flag):
            keys[flag] = 1
    if get("positive"):
        if get("replied"):
            keys[POSITIVE] = 1
        if get("li_replied"):
            keys[LI_POSITIVE] = 1
        if get("em_replied"):
            keys[EM_POSITIVE] = 1
    reply_step = get("reply_step_id")
    if get("replied") and reply_step is not None:
        keys[funnel_count.key("replied", reply_step)] = 1
        if get("positive"):
            keys[funnel_count.key("positive", reply_step)] = 1
    return keys


def lead_delta(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    """What to add to the counters when a lead goes from `before` to `after` keys."""
    delta: dict[str, int] = {}
    for key in before.keys() | after.keys():
        change = after.get(key, 0) - before.get(key, 0)
        if change:
            delta[key] = change
    return delta


def merge(deltas: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for delta in deltas:
        total.update(delta)
    return {k: v for k, v in total.items() if v}


def upsert_rows(
    campaign_id: int, delta: Mapping[str, int], shard: int | None, *, count_change: bool = True
) -> list[tuple[Any, ...]]:
    """(campaign_id, shard, key, change, updated_at) rows for a non-empty delta, plus one change counted.

    Sorted by key: two transactions upserting the same rows lock them in the same order (no deadlock).
    """
    shard = random.randrange(SHARDS) if shard is None else shard % SHARDS
    now = datetime.now(UTC)
    rows = {**delta, CHANGES: 1} if count_change else dict(delta)
    return [(campaign_id, shard, key, change, now) for key, change in sorted(rows.items())]


#: The upsert's conflict clause, shared by `apply` and the lead CAS of domain/leads.py.
ON_CONFLICT_ADD = (
    " ON CONFLICT (campaign_id, shard, key) DO UPDATE SET"
    " value = campaign_counter.value + excluded.value, updated_at = excluded.updated_at"
)


async def apply(
    campaign_id: int,
    delta: Mapping[str, int],
    connection: BaseDBAsyncClient | None = None,
    *,
    shard: int | None = None,
    count_change: bool = True,
) -> bool:
    """Add `delta` to a campaign's counters and count one change. Call inside the changing transaction.

    Returns whether anything changed (an empty delta is not a change and bumps no version).
    `count_change=False`: numbers outside the Overview (the funnel's) move without a new version.
    """
    delta = {k: v for k, v in delta.items() if v}
    if not delta:
        return False
    conn = db(connection)
    values: list[Any] = []
    tuples = []
    for row in upsert_rows(campaign_id, delta, shard, count_change=count_change):
        marks = placeholders(conn, 5, start=len(values) + 1)
        tuples.append(f"({', '.join(marks)})")
        values += row
    sql = (
        "INSERT INTO campaign_counter (campaign_id, shard, key, value, updated_at) VALUES "
        + ", ".join(tuples)
        + ON_CONFLICT_ADD
    )
    await execute(conn, sql, values)
    return True


async def read(
    campaign_id: int, connection: BaseDBAsyncClient | None = None
) -> tuple[dict[str, int], int, datetime | None]:
    """(numbers by key, version, updated_at) of one campaign, in one consistent statement."""
    numbers, versions = await read_many([campaign_id], connection)
    return numbers.get(campaign_id, {}), *versions.get(campaign_id, (0, None))


async def read_many(
    campaign_ids: list[int], connection: BaseDBAsyncClient | None = None
) -> tuple[dict[int, dict[str, int]], dict[int, tuple[int, datetime | None]]]:
    """Counters of several campaigns in one query: ({campaign: {key: value}}, {campaign: (version, at)})."""
    if not campaign_ids:
        return {}, {}
    conn = db(connection)
    marks = ", ".join(placeholders(conn, len(campaign_ids)))
    rows = await fetch(
        conn,
        "SELECT campaign_id, key, SUM(value) AS value, MAX(updated_at) AS updated_at"
        f" FROM campaign_counter WHERE campaign_id IN ({marks}) GROUP BY campaign_id, key",
        list(campaign_ids),
    )
    numbers: dict[int, dict[str, int]] = {cid: {} for cid in campaign_ids}
    versions: dict[int, tuple[int, datetime | None]] = {}
    for row in rows:
        cid = row["campaign_id"]
        if row["key"] == CHANGES:
            at = row["updated_at"]
            if isinstance(at, str):  # SQLite returns text
                at = datetime.fromisoformat(at)
            versions[cid] = (int(row["value"]), at)
        else:
            numbers[cid][row["key"]] = int(row["value"])
    return numbers, versions


async def recompute(campaign_id: int, connection: BaseDBAsyncClient | None = None) -> dict[str, int]:
    """Every number of a campaign counted afresh from its leads, tasks and activities (the slow, certain
    way). The funnel's from its activities (funnel_count.recount), not from `Lead.reply_step_id`: a
    reconcile repairs that column's drift too (`rebuild` rewrites it)."""
    conn = db(connection)
    totals: Counter[str] = Counter()
    fields = ["removed_at", "status", "substatus", "current_step_id", "started_at", "positive", *FLAG_KEYS]
    async for lead in _iter_leads(campaign_id, fields):
        totals.update(lead_keys(lead))
    totals.update(await funnel_count.recount(campaign_id))
    mark = placeholders(conn, 1)[0]
    rows = await fetch(
        conn,
        "SELECT t.status AS status, COUNT(*) AS n FROM task t JOIN lead l ON l.id = t.lead_id"
        f" WHERE t.campaign_id = {mark} AND l.removed_at IS NULL GROUP BY t.status",
        [campaign_id],
    )
    for row in rows:
        totals[task_key(row["status"])] += int(row["n"])
    return {k: v for k, v in totals.items() if v}


async def _iter_leads(campaign_id: int, fields: list[str]):
    last_id = 0
    while True:
        batch = (
            await Lead.filter(campaign_id=campaign_id, id__gt=last_id).order_by("id").limit(5000).values("id", *fields)
        )
        if not batch:
            return
        for row in batch:
            yield row
        last_id = batch[-1]["id"]


async def reconcile(campaign_id: int, connection: BaseDBAsyncClient | None = None) -> dict[str, int]:
    """Repair a campaign's counters to the recomputed numbers. Returns the drift that was found."""
    expected = await recompute(campaign_id, connection)
    actual, _, _ = await read(campaign_id, connection)
    drift = lead_delta(Counter(actual), Counter(expected))
    if drift:
        await apply(campaign_id, drift, connection, shard=0)
    return drift
