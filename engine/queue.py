"""Handing a lead to a worker: `sequences.run_step(lead_id, version)` through the broker.

The engine says only *what* must run (`RunSteps`); the process wiring (tasks/runtime.py, installed by the
API's lifespan or a worker's middleware) sends the messages. So the engine never imports the broker
wiring, which depends on the engine.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain.tx import deliver

#: How long a claim holds a lead: a lead whose worker died, or whose message was lost, is claimed again once it
#: passes and no run_step message is left for a live worker to finish (engine/scheduler.py).
LEASE_SECONDS = float(os.environ.get("OUTBOUND_LEASE_SECONDS", "30"))
#: How long a claim holds while run_step messages still wait for workers: a backlog drains first, since the
#: lead's own message is most likely among them; past this age the lead is claimed again anyway (a backstop).
BACKLOG_LEASE_SECONDS = float(os.environ.get("OUTBOUND_BACKLOG_LEASE_SECONDS", str(10 * LEASE_SECONDS)))

#: Reads how many run_step messages live workers have yet to finish (waiting, delayed, prefetched, running);
#: None when the broker did not answer. Installed by the process wiring (tasks/broker.py), like a handler.
Outstanding = Callable[[], Awaitable[int | None]]
_outstanding: Outstanding | None = None


@dataclass(frozen=True, slots=True)
class RunSteps:
    """One `sequences.run_step(lead_id, version)` message per claim."""

    claims: list[tuple[int, int]]


#: How long the scheduler's claim on an inbox holds while one read runs (mail.imap's timeouts are per command).
MAILBOX_LEASE_SECONDS = float(os.environ.get("OUTBOUND_MAILBOX_LEASE_SECONDS", "300"))


@dataclass(frozen=True, slots=True)
class SyncMailboxes:
    """One `mailboxes.sync(identity_id)` message per inbox claimed for a read."""

    identity_ids: list[int]


async def enqueue_run_steps(claims: list[tuple[int, int]]) -> None:
    """Send one message per claimed lead. Only after the claim is committed (the DB is the truth)."""
    if not claims:
        return
    await deliver(RunSteps(claims))


def watch_outstanding(probe: Outstanding | None) -> Outstanding | None:
    """Process wiring: read the run_step messages still to be run with `probe` (None: no queue known).
    Returns the probe it replaces."""
    global _outstanding
    previous, _outstanding = _outstanding, probe
    return previous


async def outstanding_run_steps() -> int | None:
    """How many run_step messages live workers have yet to finish; 0 in a process with no queue (nothing can
    wait there), None when the broker did not answer (unknown: treat as waiting)."""
    if _outstanding is None:
        return 0
    return await _outstanding()
