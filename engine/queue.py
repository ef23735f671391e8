"""Handing a lead to a worker: `sequences.run_step(lead_id, version)` through the broker.

Imported lazily so the engine does not depend on the broker wiring (tasks/ depends on the engine).
"""

from __future__ import annotations

import asyncio
import os

#: How long a claim holds a lead: a lead whose worker died is claimed again once it passes.
LEASE_SECONDS = float(os.environ.get("OUTBOUND_LEASE_SECONDS", "30"))


async def enqueue_run_steps(claims: list[tuple[int, int]]) -> None:
    """Send one message per claimed lead. Only after the claim is committed (the DB is the truth)."""
    if not claims:
        return
    from tasks.sequences import run_step

    def send_all() -> None:  # a Redis round trip each: off the event loop
        for lead_id, version in claims:
            run_step.send(lead_id, version)

    await asyncio.to_thread(send_all)
