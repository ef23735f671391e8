"""Start and stop the background machinery that a process runs: broker, embedded workers, scheduler.

The API server starts one `Runtime` in its lifespan and keeps it in the app's state; `python -m
tasks.scheduler` starts one for a scheduler alone. Redis mode: the API only enqueues (and runs the
scheduler if settings.scheduler); workers are `dramatiq tasks` processes. Embedded mode: worker threads
and the scheduler run inside this process, on its event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import dramatiq
from dramatiq.common import q_name

from config import Settings
from domain import mailkeys, webhooks
from engine import channels
from engine.scheduler import Scheduler
from tasks.broker import install, send_jobs_on, stop_sending_jobs

log = logging.getLogger("outbound.tasks")

WEBHOOK_QUEUE = "webhooks"
#: How many receivers may be at their in-flight cap at once with the embedded webhook threads still free
#: for another one (threads = this x WEBHOOK_CONCURRENCY_PER_RECEIVER + 1).
SLOW_RECEIVERS = 3


def webhook_threads(settings: Settings) -> int:
    """Threads of the embedded `webhooks` worker. A delivery holds its thread while it waits for the receiver
    (up to 10 s) though the wait itself is on the event loop, so the threads are cheap and must outnumber
    what slow receivers can hold: each holds at most its cap, so with SLOW_RECEIVERS of them at their cap a
    thread is still free for everyone else (13 by default)."""
    return max(settings.embedded_workers, SLOW_RECEIVERS * settings.webhook_concurrency_per_receiver + 1)


@dataclass(slots=True)
class Runtime:
    broker: dramatiq.Broker
    worker: dramatiq.Worker | None = None
    #: Embedded: the `webhooks` queue's own threads, so slow receivers never hold up the engine's.
    webhook_worker: dramatiq.Worker | None = None
    scheduler: Scheduler | None = None

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
            self.scheduler = None
        for worker in (self.worker, self.webhook_worker):
            if worker is not None:
                # Off the loop: worker threads may be waiting on coroutines that this loop must still finish.
                await asyncio.to_thread(worker.stop)
        self.worker = self.webhook_worker = None
        stop_sending_jobs()


class _SameWorkerTwice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "middleware of the same type twice" not in record.getMessage()


@contextlib.contextmanager
def _second_worker_quiet(broker: dramatiq.Broker) -> Iterator[None]:
    """A second Worker on one broker (the webhook worker beside the engine's) adds its own worker middleware as
    it starts, and Dramatiq warns of a middleware added twice. Each Worker's middleware serves only that worker's
    queues, so it is expected here: the warning would only tell a newcomer running `make run` something
    false."""
    quiet = _SameWorkerTwice()
    broker.logger.addFilter(quiet)
    try:
        yield
    finally:
        broker.logger.removeFilter(quiet)


async def start(settings: Settings, *, workers: bool = True) -> Runtime:
    loop = asyncio.get_running_loop()
    runtime = Runtime(install(settings, loop if settings.embedded else None))
    send_jobs_on(runtime.broker)
    channels.configure(settings.smtp_url)
    webhooks.configure(
        allow_private=settings.webhook_allow_private, per_receiver=settings.webhook_concurrency_per_receiver
    )
    mailkeys.install(mailkeys.from_settings(settings))
    if settings.embedded and workers:
        engine_queues = {q_name(q) for q in runtime.broker.get_declared_queues()} - {WEBHOOK_QUEUE}
        runtime.worker = dramatiq.Worker(
            runtime.broker, queues=engine_queues, worker_threads=settings.embedded_workers, worker_timeout=100
        )
        runtime.worker.start()
        runtime.webhook_worker = dramatiq.Worker(
            runtime.broker, queues={WEBHOOK_QUEUE}, worker_threads=webhook_threads(settings), worker_timeout=100
        )
        with _second_worker_quiet(runtime.broker):
            runtime.webhook_worker.start()
    if settings.scheduler:
        runtime.scheduler = Scheduler()
        runtime.scheduler.start()
    broker_name = "redis" if settings.redis_url else "in-process"
    if not workers:  # a process that only enqueues (the standalone scheduler): it logs what it runs itself
        log.info("engine: %s broker, enqueue only", broker_name)
    else:
        log.info(
            "engine: %s broker, %s, %s",
            broker_name,
            "embedded workers" if runtime.worker else "external workers",
            "scheduler in this process" if runtime.scheduler else "scheduler elsewhere (SCHEDULER=false)",
        )
    return runtime
