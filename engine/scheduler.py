"""The scheduler: every tick, claim due leads and enqueue one `sequences.run_step` per claimed lead.

A claim is one conditional UPDATE that sets `claimed_until` (a lease). On PostgreSQL the candidates are
locked with `FOR UPDATE SKIP LOCKED`, so any number of schedulers share the work without blocking or
taking the same lead. Messages are sent after the claim commits, and carry ids only: the worker re-reads
the truth.

A lease that ran out does not say why: the lead's worker died, its message was lost (Redis restarted
without persistence), or the message still waits behind a backlog. Only the queue can tell, so each tick
asks it (`reclaim_before`): with no run_step message left for a live worker, a run-out lease is claimed
again at once; while messages remain, only a claim older than BACKLOG_LEASE_SECONDS is (a backstop), so a
backlog is not doubled by second messages that drain as no-ops. No write per step pays for this: one read
of the broker per tick.

    python -m tasks.scheduler         run the scheduler alone (API processes then set SCHEDULER=false)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from prometheus_client import Counter

from domain import slots, webhook_delivery
from domain.tx import deliver
from engine import clock, inbox, queue
from models.sql import db, fetch, is_postgres, placeholders

log = logging.getLogger("outbound.scheduler")

TICK_SECONDS = 1.0
BATCH = 500


#: Claims of leads whose previous lease ran out without the lead moving on (a worker died or a message was
#: lost; or, past BACKLOG_LEASE_SECONDS, one still waits in a long backlog): the scheduler claims them again.
LEASES_EXPIRED = Counter(
    "outbound_scheduler_leases_expired",
    "Leads claimed again by the scheduler because their previous lease ran out.",
)

_DUE = (
    " FROM lead l JOIN campaign c ON c.id = l.campaign_id"
    " WHERE l.next_action_at <= {b} AND (l.claimed_until IS NULL OR l.claimed_until <= {b2})"
    " AND l.removed_at IS NULL AND l.status IN ('NOT_STARTED', 'IN_PROGRESS') AND c.status = 'ACTIVE'"
    " ORDER BY l.next_action_at LIMIT {c}"
)


async def reclaim_before(now: datetime, lease: float | None = None) -> datetime:
    """The lease end at or before which a claimed lead is claimed again now: `now` when no run_step message
    is left for a live worker (its message is gone: re-send it), else a claim must be BACKLOG_LEASE_SECONDS
    old (its message most likely still waits; the broker not answering counts as waiting)."""
    if await queue.outstanding_run_steps() == 0:
        return now
    held = queue.BACKLOG_LEASE_SECONDS - (queue.LEASE_SECONDS if lease is None else lease)
    return now - timedelta(seconds=max(held, 0.0))


async def claim_due_leads(
    now: datetime, lease: float | None = None, limit: int = BATCH, expired_before: datetime | None = None
) -> list[tuple[int, int]]:
    """Claim up to `limit` due leads of active campaigns: [(lead id, state_version)]. A lead claimed before
    is claimed again if its lease ended at or before `expired_before` (default `now`)."""
    conn = db()
    until = now + timedelta(seconds=queue.LEASE_SECONDS if lease is None else lease)
    expired_before = now if expired_before is None else expired_before
    a, b, b2, c = placeholders(conn, 4)
    due = _DUE.format(b=b, b2=b2, c=c)
    if is_postgres(conn):
        # The old lease is read in the same statement that replaces it (RETURNING sees only new values).
        rows = await fetch(
            conn,
            f"WITH due AS (SELECT l.id, l.claimed_until IS NOT NULL AS expired{due} FOR UPDATE OF l SKIP LOCKED)"
            f" UPDATE lead SET claimed_until = {a} FROM due WHERE lead.id = due.id"
            " RETURNING lead.id, lead.state_version, due.expired",
            [until, now, expired_before, limit],
        )
    else:
        # SQLite: one process, one scheduler, statements one at a time on the one connection (a RETURNING
        # cannot name the FROM table there): count the expired leases among the due ones, then claim.
        expired = await fetch(
            conn,
            f"SELECT count(*) AS n FROM (SELECT l.id{due}) AS d JOIN lead ON lead.id = d.id"
            f" WHERE lead.claimed_until IS NOT NULL",
            [now, expired_before, limit],
        )
        rows = await fetch(
            conn,
            f"UPDATE lead SET claimed_until = {a} WHERE id IN (SELECT l.id{due}) RETURNING id, state_version",
            [until, now, expired_before, limit],
        )
        rows = [{**row, "expired": i < int(expired[0]["n"])} for i, row in enumerate(rows)]
    LEASES_EXPIRED.inc(sum(1 for row in rows if row["expired"]))
    return [(int(row["id"]), int(row["state_version"])) for row in rows]


async def tick(now: datetime | None = None, lease: float | None = None) -> int:
    """One pass: claim, then enqueue; then the webhook deliveries due, then the series slots' fold. Returns
    how many leads were handed to workers.

    The inboxes due for a read are claimed the same way (a lease each) and handed on as `mailboxes.sync`
    messages, so reading inboxes scales with the workers too."""
    now = now or clock.now()
    mailboxes = await inbox.claim_due_mailboxes(now, queue.MAILBOX_LEASE_SECONDS)
    if mailboxes:
        await deliver(queue.SyncMailboxes(mailboxes))
    total = 0
    expired_before = await reclaim_before(now, lease)
    while True:
        claims = await claim_due_leads(now, lease, expired_before=expired_before)
        await queue.enqueue_run_steps(claims)
        total += len(claims)
        if len(claims) < BATCH:
            break
    await webhook_delivery.send_due(now)
    # Closed series slots: their writers' shards folded into one row each (domain/slots.py).
    await slots.compact(now)
    return total


class Scheduler:
    """Runs `tick` (or the given `work`) every TICK_SECONDS on the current event loop until stopped."""

    #: Seconds `stop` lets a tick in progress finish before cancelling it.
    STOP_GRACE = 10.0

    def __init__(
        self,
        interval: float = TICK_SECONDS,
        lease: float | None = None,
        work: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.interval = interval
        self.lease = lease
        self._work = work or (lambda: tick(lease=self.lease))
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="outbound-scheduler")

    async def stop(self) -> None:
        """Let the tick in progress finish (claims made are then enqueued, not left to their lease), then end."""
        if self._task is not None:
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.STOP_GRACE)
            except TimeoutError:
                log.warning("scheduler tick still running after %.0fs: cancelled", self.STOP_GRACE)
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._work()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad tick (DB restart...) must not stop the scheduler
                log.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
