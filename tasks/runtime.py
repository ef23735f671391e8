"""Start and stop the background machinery that a process runs: broker, embedded workers, scheduler.

The API server calls these from its lifespan. Redis mode: the API only enqueues (and runs the scheduler
if settings.scheduler); workers are `dramatiq tasks` processes. Embedded mode: worker threads and the
scheduler run inside this process, on its event loop.
"""

from __future__ import annotations

import asyncio
import logging

import dramatiq

from config import Settings
from engine import channels
from engine.scheduler import Scheduler

log = logging.getLogger("outbound.tasks")


class _Runtime:
    worker: dramatiq.Worker | None = None
    scheduler: Scheduler | None = None


_state = _Runtime()


async def start(settings: Settings, *, workers: bool = True) -> None:
    from tasks.broker import install

    loop = asyncio.get_running_loop()
    broker = install(settings, loop if settings.embedded else None)
    channels.configure(settings.smtp_url)
    if settings.embedded and workers:
        _state.worker = dramatiq.Worker(broker, worker_threads=settings.embedded_workers, worker_timeout=100)
        _state.worker.start()
    if settings.scheduler:
        _state.scheduler = Scheduler()
        _state.scheduler.start()
    log.info(
        "engine: %s broker, %s, scheduler %s",
        "redis" if settings.redis_url else "in-process",
        "embedded workers" if _state.worker else "external workers",
        "on" if _state.scheduler else "off",
    )


async def stop() -> None:
    if _state.scheduler is not None:
        await _state.scheduler.stop()
        _state.scheduler = None
    if _state.worker is not None:
        # Off the loop: worker threads may be waiting on coroutines that this loop must still finish.
        await asyncio.to_thread(_state.worker.stop)
        _state.worker = None
