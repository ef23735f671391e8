"""What the hub reads and shares (live/hub.py): a campaign's stats snapshot, its activity rows, by campaign.

Each read is one round trip for all of a campaign's subscribers; the objects it returns are shared
read-only by them, with a per-query-document render cache (`renders`) the transport fills once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True, eq=False)
class Snapshot:
    """One campaign's CampaignStats at one version, shared (read-only) by all its subscribers."""

    version: int
    stats: Any
    #: Serialized payloads by query document: computed once per snapshot, sent to every subscriber.
    renders: dict[Any, Any] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class Entry:
    """One activity row, shared (read-only) by all the campaign's activity subscribers."""

    id: int
    row: Any
    renders: dict[Any, Any] = field(default_factory=dict)


StatsReader = Callable[[int], Awaitable[Snapshot | None]]
ActivityReader = Callable[[int, int, list[int], int], Awaitable[list[Any]]]
MaxActivityReader = Callable[[int], Awaitable[int | None]]


async def read_snapshot(campaign_id: int) -> Snapshot | None:
    """The campaign's stats from its counters; None if the campaign is gone.

    Two statements side by side (the campaign with its step ids, and the counters): a push waits for one
    round trip, not three.
    """
    from domain import counters
    from domain.stats import build_stats
    from models.sql import db, fetch, placeholders

    conn = db()
    mark = placeholders(conn, 1)[0]
    steps_sql = (
        "SELECT c.created_at AS created_at, s.id AS step_id FROM campaign c"
        f" LEFT JOIN sequence_step s ON s.campaign_id = c.id WHERE c.id = {mark} ORDER BY s.position"
    )
    rows, (numbers, version, updated_at) = await asyncio.gather(
        fetch(conn, steps_sql, [campaign_id]), counters.read(campaign_id)
    )
    if not rows:
        return None
    created_at = rows[0]["created_at"]
    if isinstance(created_at, str):  # SQLite returns text
        created_at = datetime.fromisoformat(created_at)
    step_ids = [row["step_id"] for row in rows if row["step_id"] is not None]
    stats = build_stats(campaign_id, numbers, version, updated_at, step_ids, created_at)
    return Snapshot(stats.version, stats)


async def read_activity(campaign_id: int, after: int, extra_ids: list[int], limit: int) -> list[Any]:
    """Activity rows of a campaign with id > after, plus the given ids (late commits), oldest id first."""
    from tortoise.expressions import Q

    from models import Activity

    condition = Q(id__gt=after) | Q(id__in=extra_ids) if extra_ids else Q(id__gt=after)
    return await Activity.filter(Q(campaign_id=campaign_id), condition).order_by("id").limit(limit)


async def read_max_activity_id(campaign_id: int) -> int | None:
    """The campaign's highest activity id (0 if none yet); None if the campaign is gone."""
    from models.sql import db, fetch, placeholders

    conn = db()
    mark = placeholders(conn, 1)[0]
    rows = await fetch(
        conn,
        "SELECT c.id AS id, (SELECT MAX(a.id) FROM activity a WHERE a.campaign_id = c.id) AS last"
        f" FROM campaign c WHERE c.id = {mark}",
        [campaign_id],
    )
    if not rows:
        return None
    return int(rows[0]["last"] or 0)
