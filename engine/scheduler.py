"""The scheduler: every tick, claim due leads and enqueue one `sequences.run_step` per claimed lead.

A claim is one conditional UPDATE that sets `claimed_until` (a lease). On PostgreSQL the candidates are
locked with `FOR UPDATE SKIP LOCKED`, so any number of schedulers share the work without blocking or
taking the same lead; a lead whose worker died is claimed again when its lease passes. Messages are sent
after the claim commits, and carry ids only: the worker re-reads the truth.

    python -m tasks.scheduler         run the scheduler alone (API processes then set SCHEDULER=false)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from domain import webhook_delivery
from domain.tx import deliver
from engine import clock, inbox, queue
from models.sql import db, fetch, is_postgres, placeholders

log = logging.getLogger("outbound.scheduler")

TICK_SECONDS = 1.0
BATCH = 500


async def claim_due_leads(now: datetime, lease: float | None = None, limit: int = BATCH) -> list[tuple[int, int]]:
    """Claim up to `limit` due leads of active campaigns: [(lead id, state_version)]."""
    conn = db()
    until = now + timedelta(seconds=queue.LEASE_SECONDS if lease is None else lease)
    a, b, b2, c = placeholders(conn, 4)
    lock = " FOR UPDATE OF l SKIP LOCKED" if is_postgres(conn) else ""
    rows = await fetch(
        conn,
        f"UPDATE lead SET claimed_until = {a} WHERE id IN ("
        " SELECT l.id FROM lead l JOIN campaign c ON c.id = l.campaign_id"
        f" WHERE l.next_action_at <= {b} AND (l.claimed_until IS NULL OR l.claimed_until <= {b2})"
        " AND l.removed_at IS NULL AND l.status IN ('NOT_STARTED', 'IN_PROGRESS') AND c.status = 'ACTIVE'"
        f" ORDER BY l.next_action_at LIMIT {c}{lock})"
        " RETURNING id, state_version",
        [until, now, now, limit],
    )
    return [(int(row["id"]), int(row["state_version"])) for row in rows]


async def tick(now: datetime | None = None, lease: float | None = None) -> int:
    """One pass: claim, then enqueue; then the webhook deliveries due. Returns how many leads were handed
    to workers.

    The inboxes due for a read are claimed the same way (a lease each) and handed on as `mailboxes.sync`
    messages, so reading inboxes scales with the workers too."""
    now = now or clock.now()
    mailboxes = await inbox.claim_due_mailboxes(now, queue.MAILBOX_LEASE_SECONDS)
    if mailboxes:
        await deliver(queue.SyncMailboxes(mailboxes))
    total = 0
    while True:
        claims = await claim_due_leads(now, lease)
        await queue.enqueue_run_steps(claims)
        total += len(claims)
        if len(claims) < BATCH:
            break
    await webhook_delivery.send_due(now)
    return total


class Scheduler:
    """Runs `tick` (or the given `work`) every TICK_SECONDS on the current event loop until stopped."""

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

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbound-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._work()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad tick (DB restart...) must not stop the scheduler
                log.exception("scheduler tick failed")
            await asyncio.sleep(self.interval)

