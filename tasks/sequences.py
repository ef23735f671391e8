"""Sequence actors: one line each over the engine's async domain functions."""

from __future__ import annotations

import dramatiq

from engine import runner


@dramatiq.actor(actor_name="sequences.run_step", queue_name="sequences", max_retries=3, min_backoff=1000)
async def run_step(lead_id: int, version: int | None = None) -> None:
    await runner.run_step(lead_id, version)
