"""Start and stop this process's live machinery: its bus (in-process or Redis) and its hub (the fan-out).

The API server starts one `Live` in its lifespan and keeps it in the app's state (resolvers reach the hub
through their context); a Dramatiq worker starts only a bus, in its middleware (tasks/broker.py). Either
way the bus becomes where this process's committed `CampaignEvent`s are published (domain/tx.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from domain.auth import KeyCache, KeyRevoked
from domain.events import CampaignEvent
from domain.tx import set_handler
from live.bus import Bus, bus_for
from live.hub import Hub
from live.keys import KeyWatch


@dataclass(slots=True)
class Live:
    bus: Bus
    hub: Hub
    #: Revoked keys: evicted from the auth cache and their websockets closed, on every API process.
    keys: KeyWatch

    async def stop(self) -> None:
        """Complete every open stream (clients get `complete`), then drop the bus subscription."""
        set_handler(KeyRevoked, None)
        self.keys.stop()
        await self.hub.stop()
        await stop_publishing(self.bus)


async def start(settings: Settings) -> Live:
    """Make a bus, a hub and a key watch (holding the process's auth cache). They listen first, so the bus
    knows it must hold a subscription."""
    bus = bus_for(settings.redis_url, settings.namespace)
    hub = Hub()
    await hub.start(bus)
    keys = KeyWatch(KeyCache())
    await keys.start(bus)
    await bus.start()
    publish_on(bus)
    set_handler(KeyRevoked, keys.publish)
    return Live(bus, hub, keys)


def publish_on(bus: Bus) -> None:
    """Publish this process's committed campaign events on `bus` from now on."""

    async def publish(event: CampaignEvent) -> None:
        await bus.publish(event.channel, event.message)

    set_handler(CampaignEvent, publish)


async def stop_publishing(bus: Bus) -> None:
    """Stop publishing on `bus`, send what is still queued on it, and close it."""
    set_handler(CampaignEvent, None)
    await bus.stop()
