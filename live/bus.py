"""The event bus: one interface, two implementations (in-process, Redis pub/sub).

Placeholder wiring: the in-process bus delivers to local listeners. The Redis bus and the subscriber
fan-out live in live/ as well (issue 5).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("outbound.bus")

Listener = Callable[[str, dict[str, Any]], Awaitable[None] | None]


class Bus:
    """Publish small events on named channels; listeners get (channel, message)."""

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        raise NotImplementedError

    def add_listener(self, prefix: str, listener: Listener) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class LocalBus(Bus):
    """The embedded default: events never leave this process."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = defaultdict(list)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        for prefix, listeners in list(self._listeners.items()):
            if channel.startswith(prefix):
                for listener in listeners:
                    result = listener(channel, message)
                    if asyncio.iscoroutine(result):
                        await result

    def add_listener(self, prefix: str, listener: Listener) -> None:
        self._listeners[prefix].append(listener)


_bus: Bus = LocalBus()


def get_bus() -> Bus:
    return _bus


def set_bus(bus: Bus) -> None:
    global _bus
    _bus = bus
