"""Sequence actors: one line each over the engine's async domain functions."""

from __future__ import annotations

import dramatiq

from engine import chain


@dramatiq.actor(actor_name="sequences.run_step", queue_name="sequences", max_retries=3, min_backoff=1000)
async def run_step(lead_id: int, version: int | None = None) -> None:
    # Steps due at once run on in this message (engine/chain.py), not one message each.
    await chain.run_chain(lead_id, version)
