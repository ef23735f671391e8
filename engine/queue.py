"""Handing a lead to a worker: `sequences.run_step(lead_id, version)` through the broker.

The engine says only *what* must run (`RunSteps`); the process wiring (tasks/runtime.py, installed by the
API's lifespan or a worker's middleware) sends the messages. So the engine never imports the broker
wiring, which depends on the engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from domain.tx import deliver

#: How long a claim holds a lead: a lead whose worker died is claimed again once it passes.
LEASE_SECONDS = float(os.environ.get("OUTBOUND_LEASE_SECONDS", "30"))


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
