"""The broker: Redis when REDIS_URL is set (workers run as `dramatiq tasks`), else in-process.

Redis: workers are separate processes; each runs async actors on Dramatiq's AsyncIO event loop thread,
and `Database` opens Tortoise on that loop when the worker boots.

Embedded (no REDIS_URL): a StubBroker whose Worker threads live inside the server. `ServerLoop` runs the
actors' coroutines on the server's own event loop instead of a second one, so the single SQLite
connection (and its transaction lock) is shared: no "database is locked".
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from types import FrameType

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO, Middleware, default_middleware

import logs
from compat import EventLoopThread, get_event_loop_thread, redis_outstanding, set_event_loop_thread, stub_outstanding
from config import Settings
from domain import webhooks
from domain.tx import set_handler
from domain.webhooks import SendWebhooks
from engine import queue
from engine.queue import RunSteps, SyncMailboxes, watch_outstanding
from live.bus import Bus, bus_for
from live.runtime import publish_on, stop_publishing

log = logging.getLogger("outbound.tasks")


class Database(Middleware):
    """A worker process's own wiring, made when it boots and undone on shutdown: Tortoise on the worker's
    event loop, a bus for the live events its steps announce, and this broker for the steps they hand on."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bus: Bus | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Runs after AsyncIO.before_worker_boot (middleware order), so the loop thread exists.
        from domain import mailkeys
        from engine import channels
        from models.db import init_db

        # The Dramatiq CLI set up its own format on the pipe to its parent: ours instead, with summaries.
        logs.configure(self.settings.log_level, self.settings.log_format)
        channels.configure(self.settings.smtp_url)
        webhooks.configure(
            allow_private=self.settings.webhook_allow_private,
            per_receiver=self.settings.webhook_concurrency_per_receiver,
        )
        mailkeys.install(mailkeys.from_settings(self.settings))
        _one_sigterm_is_enough()
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None, "the AsyncIO middleware must come before Database"
        loop_thread.run_coroutine(init_db(self.settings.database_url))
        # A bus with no listeners holds no subscription: the worker only publishes.
        self.bus = loop_thread.run_coroutine(_make_bus(self.settings))
        publish_on(self.bus)
        send_jobs_on(broker)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        stop_sending_jobs()

    def close(self) -> None:
        """After the worker threads have finished their messages (Dramatiq announces the shutdown before
        they do: a step between its send and the commit that records it must still find the database, or
        its send would be called interrupted), and before the event loop stops (`_AsyncIO`)."""
        from models.db import close_db

        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            if self.bus is not None:
                # The live events of the last steps are queued for a pipelined send: flush them before exit.
                loop_thread.run_coroutine(stop_publishing(self.bus))
                self.bus = None
            loop_thread.run_coroutine(close_db())


#: Seconds the scheduler waits for Redis to say how many run_step messages are outstanding.
OUTSTANDING_TIMEOUT = 2.0

#: Seconds after a SIGTERM during which another one is the same request, not an insistence.
SIGTERM_ECHO = 5.0


def _one_sigterm_is_enough() -> None:
    """A `dramatiq tasks` child takes a second SIGTERM as "kill now" (sys.exit in its main thread while its
    worker threads keep consuming, then it hangs in threading._shutdown). When a service manager signals
    the whole process group, every child gets two at once: the manager's and the one its main process
    forwards. So a SIGTERM within SIGTERM_ECHO seconds of the first is dropped, and the child stops
    gracefully (its steps in flight finish, its prefetched messages go back to Redis)."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers belong to the main thread (a worker started by a test, say)
    dramatiq_handler = signal.getsignal(signal.SIGTERM)
    if not callable(dramatiq_handler):
        return
    first: list[float] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if first and now - first[0] < SIGTERM_ECHO:
            log.info("second SIGTERM (the process group's echo) ignored: stopping gracefully")
            return
        first[:] = [now]
        dramatiq_handler(signum, frame)

    signal.signal(signal.SIGTERM, handler)


async def _make_bus(settings: Settings) -> Bus:
    return bus_for(settings.redis_url, settings.namespace)


def send_jobs_on(broker: dramatiq.Broker) -> None:
    """Send this process's `RunSteps` (the scheduler's claims, a chain handed on) and `SendWebhooks` (new and
    due deliveries) through `broker`."""
    actor = broker.get_actor("sequences.run_step")
    webhook_actor = broker.get_actor("webhooks.deliver")

    async def send(jobs: RunSteps) -> None:
        def send_all() -> None:  # a Redis round trip each: off the event loop
            for lead_id, version in jobs.claims:
                actor.send(lead_id, version)

        await asyncio.to_thread(send_all)

    async def send_webhooks(jobs: SendWebhooks) -> None:
        def send_all() -> None:
            for delivery_id in jobs.delivery_ids:
                webhook_actor.send(delivery_id)

        await asyncio.to_thread(send_all)

    set_handler(RunSteps, send)
    set_handler(SendWebhooks, send_webhooks)
    sync = broker.get_actor("mailboxes.sync")

    async def send_syncs(jobs: SyncMailboxes) -> None:
        def send_all() -> None:
            for identity_id in jobs.identity_ids:
                sync.send(identity_id)

        await asyncio.to_thread(send_all)

    set_handler(SyncMailboxes, send_syncs)
    watch_outstanding(outstanding_on(broker, actor.queue_name))


def outstanding_on(broker: dramatiq.Broker, queue_name: str) -> Callable[[], Awaitable[int | None]]:
    """How many messages of `queue_name` live workers have yet to finish, read from `broker` (the scheduler's
    question before it claims a run-out lease again, engine/scheduler.py); None if Redis did not answer.

    Redis: a worker is live if it sent Redis a command (each fetch and ack is one) within a lease, or
    Dramatiq's heartbeat timeout if shorter. A worker silent that long is taken for dead sooner than
    Dramatiq's own sweep would (60 s), so a SIGKILLed worker's leads are sent again about one lease later;
    if it was only busy, the steps it finishes late or the second messages are no-ops (a step is safe twice)."""
    if isinstance(broker, RedisBroker):
        silent_ms = int(min(broker.heartbeat_timeout, queue.LEASE_SECONDS * 1000))

        async def read() -> int | None:
            try:
                counting = asyncio.to_thread(redis_outstanding, broker, queue_name, silent_ms)
                return await asyncio.wait_for(counting, OUTSTANDING_TIMEOUT)
            except Exception:  # Redis down or slow: unknown, so the scheduler treats the messages as waiting
                log.warning("run_step messages outstanding: Redis did not answer", exc_info=True)
                return None

        return read
    assert isinstance(broker, StubBroker)

    async def count() -> int | None:
        return stub_outstanding(broker, queue_name)

    return count


def stop_sending_jobs() -> None:
    watch_outstanding(None)
    set_handler(RunSteps, None)
    set_handler(SendWebhooks, None)
    set_handler(SyncMailboxes, None)


class _RunningLoop(EventLoopThread):
    """Dramatiq's event-loop-thread interface over a loop that already runs (the server's)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.interrupt_check_ival = 0.1
        self.logger = log
        self.loop = loop  # not a thread of its own: start/stop belong to the server

    def start(self, *, timeout: float | None = None) -> None:
        return None

    def stop(self) -> None:
        return None


class ServerLoop(Middleware):
    """Embedded mode: async actors run on the event loop the server (or a test) is running."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.workers = 0  # the engine's and the webhooks' workers share the loop: unset it after the last

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.workers += 1
        set_event_loop_thread(_RunningLoop(self.loop))

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.workers -= 1
        if self.workers <= 0:
            set_event_loop_thread(None)


class _AsyncIO(AsyncIO):
    """Dramatiq's event loop thread, which closes the worker's database on it once the worker threads have
    joined (after_worker_shutdown), just before it stops the loop."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        try:
            self.database.close()
        finally:
            super().after_worker_shutdown(broker, worker)


def build_broker(settings: Settings, loop: asyncio.AbstractEventLoop | None = None) -> dramatiq.Broker:
    middleware = [m() for m in default_middleware]
    if settings.redis_url:
        database = Database(settings)
        return RedisBroker(
            url=settings.redis_url,
            namespace=f"{settings.namespace}:dramatiq",
            middleware=[*middleware, _AsyncIO(database), database],
        )
    extra = [ServerLoop(loop)] if loop is not None else [AsyncIO()]
    return StubBroker(middleware=[*middleware, *extra])


def install(settings: Settings, loop: asyncio.AbstractEventLoop | None = None) -> dramatiq.Broker:
    """Make a broker current, and move the already-declared actors onto it."""
    previous = dramatiq.get_broker() if _has_broker() else None
    broker = build_broker(settings, loop)
    dramatiq.set_broker(broker)
    if previous is not None:
        for name in previous.get_declared_actors():
            actor = previous.get_actor(name)
            actor.broker = broker
            broker.declare_actor(actor)
    return broker


def _has_broker() -> bool:
    return dramatiq.broker.global_broker is not None
