"""Revoked API keys take effect on every API process at once: an invalidation published on the bus.

    revokeApiKey commits --> KeyRevoked (domain/auth.py, after commit) --> this process: evict, close sockets
                                                                     \\-> bus channel `auth:revoked` --> every
                                                                          other API process: the same

Each API process holds one `KeyWatch` (made in the lifespan, live/runtime.py) and, in it, the process's
`KeyCache` (domain/auth.py) that requests authenticate through. Websockets register the key they
authenticated with (schema/transport.py); when a key is revoked its sockets are closed with 4403, and its
entry leaves the cache, so the next HTTP request with it is a 401.

Pub/sub is at-most-once. After the bus reconnects (events may have been lost meanwhile), the whole auth
cache is dropped and the keys of the open sockets are checked again in one query.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from domain import auth
from domain.auth import KeyCache, KeyRevoked
from live.bus import RECONNECTED, Bus

log = logging.getLogger("outbound.keys")

#: The bus channel of auth events (the campaign channels start with "ws:": the hub never sees these).
AUTH_PREFIX = "auth:"
REVOKED_CHANNEL = AUTH_PREFIX + "revoked"

#: Closes one websocket (with 4403).
Closer = Callable[[], Awaitable[None]]


class KeyWatch:
    """The open websockets of this process by key id, and the bus listener that evicts and closes."""

    def __init__(self, cache: KeyCache) -> None:
        #: The process's auth cache: what this watch evicts from.
        self.cache = cache
        self._sockets: dict[int, set[Closer]] = {}
        self._bus: Bus | None = None

    async def start(self, bus: Bus) -> None:
        """Listen before the bus starts (a bus with listeners holds a subscription)."""
        self._bus = bus
        bus.add_listener(AUTH_PREFIX, self._on_event)

    def stop(self) -> None:
        if self._bus is not None:
            self._bus.remove_listener(self._on_event)
            self._bus = None

    def register(self, key_id: int, close: Closer) -> Callable[[], None]:
        """Close this socket if `key_id` is revoked. Returns the function that forgets it (on disconnect)."""
        self._sockets.setdefault(key_id, set()).add(close)

        def forget() -> None:
            closers = self._sockets.get(key_id)
            if closers is not None:
                closers.discard(close)
                if not closers:
                    del self._sockets[key_id]

        return forget

    def open_sockets(self, key_id: int) -> int:
        return len(self._sockets.get(key_id, ()))

    async def revoked(self, key_id: int) -> None:
        """`key_id` was revoked (here or on another process): evict it and close its sockets."""
        self.cache.forget_key(key_id)
        closers = self._sockets.pop(key_id, set())
        if closers:
            log.info("API key %s revoked: closing %d websocket(s)", key_id, len(closers))
        await asyncio.gather(*(_close(close) for close in closers))

    async def publish(self, event: KeyRevoked) -> None:
        """This process's handler of KeyRevoked: act here at once, then tell the other processes."""
        await self.revoked(event.key_id)
        if self._bus is not None:
            # Awaited: revokeApiKey answers only once every other process has been sent the revocation.
            await self._bus.publish_now(REVOKED_CHANNEL, {"kind": "revoked", "key_id": event.key_id})

    async def _on_event(self, channel: str, message: dict[str, Any]) -> None:
        if message is RECONNECTED:
            await self._recheck()
            return
        if channel == REVOKED_CHANNEL and isinstance(message.get("key_id"), int):
            await self.revoked(message["key_id"])

    async def _recheck(self) -> None:
        """After a gap in the bus: forget every cached key, and close the sockets of keys revoked meanwhile."""
        self.cache.clear()
        for key_id in await auth.revoked_among(set(self._sockets)):
            await self.revoked(key_id)


async def _close(close: Closer) -> None:
    try:
        await close()
    except Exception:  # the socket went away by itself meanwhile
        log.debug("closing a revoked key's websocket failed", exc_info=True)
