"""The event bus: one interface, two implementations (in-process, Redis pub/sub).

A bus carries small events (domain/events.py) from the transaction that committed a change to every API
process that has subscribers. Each process holds ONE Redis pub/sub connection (a pattern subscription on
its namespace) and fans out in memory (live/hub.py): never one Redis subscription per websocket client.

Pub/sub is at-most-once: while the connection is down, events are lost. So when the Redis bus reconnects it
tells its listeners with a synthetic `reconnected` event, and the hub re-reads what it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

log = logging.getLogger("outbound.bus")

Listener = Callable[[str, dict[str, Any]], Awaitable[None] | None]

#: The synthetic event a bus delivers to its listeners after it (re)subscribed: events may have been lost.
RECONNECTED: dict[str, Any] = {"kind": "reconnected"}


class Bus:
    """Publish small events on named channels; listeners get (channel, message) for channels of a prefix."""

    def __init__(self) -> None:
        self._listeners: list[tuple[str, Listener]] = []

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        raise NotImplementedError

    async def publish_now(self, channel: str, message: dict[str, Any]) -> None:
        """Publish and return once the bus took it (Redis: the PUBLISH was answered, so every subscriber has
        been sent it). For the rare events a caller must not answer before: a revoked key (live/keys.py)."""
        await self.publish(channel, message)

    def add_listener(self, prefix: str, listener: Listener) -> None:
        self._listeners.append((prefix, listener))

    def remove_listener(self, listener: Listener) -> None:
        self._listeners = [(p, fn) for p, fn in self._listeners if fn is not listener]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def _deliver(self, channel: str, message: dict[str, Any]) -> None:
        """Hand one event to every listener of its channel. A failing listener never stops the others."""
        for prefix, listener in list(self._listeners):
            if channel.startswith(prefix) or message is RECONNECTED:
                try:
                    result = listener(channel, message)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:
                    log.exception("bus listener failed on %s", channel)


class LocalBus(Bus):
    """The embedded default: events never leave this process (one process does everything)."""

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self._deliver(channel, message)


class RedisBus(Bus):
    """Redis pub/sub, namespaced: channel `c` is `{namespace}:{c}` on the wire.

    Redis pub/sub channels are global to the server (not per database), so the namespace keeps deployments
    (and parallel test runs) that share a Redis apart.
    """

    def __init__(self, url: str, namespace: str, *, retry_delay: float = 0.2, max_retry_delay: float = 2.0) -> None:
        super().__init__()
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.namespace = namespace
        self._prefix = f"{namespace}:"
        # No silent retries: redis-py would otherwise reconnect and resubscribe behind our back, and we must
        # know that a gap happened (events in it are lost) to send fresh snapshots.
        self._redis = aioredis.Redis.from_url(url)
        #: The client name of the pub/sub connection (CLIENT LIST shows it; tests kill it to simulate a drop).
        self.client_name = f"{namespace}:live-bus".replace(" ", "_")
        self._listen_redis = aioredis.Redis.from_url(
            url, retry=Retry(NoBackoff(), 0), client_name=self.client_name, health_check_interval=10
        )
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        #: Events published and not yet sent (publish), and the task sending them.
        self._outbox: list[tuple[str, bytes]] = []
        self._sender: asyncio.Task[None] | None = None

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Queue the event; a sender task sends everything queued meanwhile in one pipeline (one round trip).

        A worker publishes two or three events per step, after commit, from several steps at once: sent one by
        one they were a round trip each. Order is kept (one sender, FIFO). Not awaiting the network changes no
        guarantee: pub/sub is at-most-once anyway, and a failed send is logged as a failed publish was.
        """
        self._outbox.append((self._prefix + channel, orjson.dumps(message)))
        sender = self._sender
        if sender is None or sender.done() or sender.get_loop() is not asyncio.get_running_loop():
            self._sender = asyncio.create_task(self._send(), name="live-bus-send")

    async def publish_now(self, channel: str, message: dict[str, Any]) -> None:
        await self._redis.publish(self._prefix + channel, orjson.dumps(message))

    async def _send(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for name, data in batch:
                        pipe.publish(name, data)
                    await pipe.execute()
            except Exception:  # Redis down: these events are lost, as pub/sub loses them (hub re-reads on reconnect)
                log.exception("live bus: %d event(s) not published", len(batch))

    async def start(self) -> None:
        """Subscribe (and wait until Redis confirmed it, so no event published after start() is missed).

        A process with no listeners (a worker, a test that only publishes) holds no subscription at all.
        """
        if not self._listeners:
            return
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="live-bus")
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def stop(self) -> None:
        sender = self._sender
        if sender is not None and not sender.done() and sender.get_loop() is asyncio.get_running_loop():
            with contextlib.suppress(Exception):
                await sender  # what was published before stop() still goes out
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._redis.aclose()
        await self._listen_redis.aclose()

    async def _run(self) -> None:
        delay = self._retry_delay
        first = True
        while True:
            pubsub = self._listen_redis.pubsub()
            try:
                await pubsub.psubscribe(_glob_escape(self._prefix) + "*")
                # Wait for the confirmation: only then are later events certain to reach us.
                while (await pubsub.get_message(timeout=5.0)) is None:
                    pass
                self._subscribed.set()
                delay = self._retry_delay
                if not first:
                    log.warning("live bus reconnected to Redis: refreshing every subscription")
                    await self._deliver("", RECONNECTED)
                first = False
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost / Redis restarting: retry with backoff
                log.warning("live bus lost Redis (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry_delay)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _listen(self, pubsub: Any) -> None:
        while True:
            # A bounded wait, not a blocking one: between reads redis-py PINGs an idle connection
            # (health_check_interval), so a silently dead connection is noticed and replaced.
            message = await pubsub.get_message(timeout=5.0)
            if message is None or message.get("type") != "pmessage":
                continue
            raw_channel = message["channel"]
            channel = (raw_channel.decode() if isinstance(raw_channel, bytes) else raw_channel)[len(self._prefix) :]
            try:
                data = orjson.loads(message["data"])
            except orjson.JSONDecodeError:
                log.warning("live bus: ignoring a malformed event on %s", channel)
                continue
            await self._deliver(channel, data)


def _glob_escape(text: str) -> str:
    """A namespace is matched literally in the PSUBSCRIBE pattern."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)



def bus_for(redis_url: str | None, namespace: str) -> Bus:
    """The bus a process with these settings uses: Redis when configured, else in-process."""
    return RedisBus(redis_url, namespace) if redis_url else LocalBus()
