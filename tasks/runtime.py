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
    broker_name = "redis" if settings.redis_url else "in-process"
    if not workers:  # a process that only enqueues (the standalone scheduler): it logs what it runs itself
        log.info("engine: %s broker, enqueue only", broker_name)
    else:
        log.info(
            "engine: %s broker, %s, %s",
            broker_name,
            "embedded workers" if _state.worker else "external workers",
            "scheduler in this process" if _state.scheduler else "scheduler elsewhere (SCHEDULER=false)",
        )


async def stop() -> None:
    if _state.scheduler is not None:
        await _state.scheduler.stop()
        _state.scheduler = None
    if _state.worker is not None:
        # Off the loop: worker threads may be waiting on coroutines that this loop must still finish.
        await asyncio.to_thread(_state.worker.stop)
        _state.worker = None
