"""Webhook actors: one line over domain/webhook_delivery.py, on a queue of their own.

`webhooks` is separate from `sequences`, and the embedded runtime gives it its own worker threads, so a
slow receiver (10 s per attempt at most) never holds up the engine; with Redis, run `dramatiq tasks
--queues webhooks` beside `--queues sequences mailboxes` for the same (a worker without `--queues` would
take webhook jobs on the engine's threads). A receiver holds at most WEBHOOK_CONCURRENCY_PER_RECEIVER of
these threads (domain/webhook_delivery.py). Dramatiq does not retry: the delivery row schedules
its own retries, and a job lost with its worker is claimed again when its lease runs out.
"""

from __future__ import annotations

import dramatiq

from domain import webhook_delivery
from engine import clock


@dramatiq.actor(actor_name="webhooks.deliver", queue_name="webhooks", max_retries=0, time_limit=60_000)
async def deliver(delivery_id: int) -> None:
    await webhook_delivery.attempt(delivery_id, clock.now())
