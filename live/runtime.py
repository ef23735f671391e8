"""Start and stop this process's live machinery: its bus (in-process or Redis) and its hub (the fan-out)."""

from __future__ import annotations

from config import Settings
from live.bus import LocalBus, bus_for, get_bus, set_bus
from live.hub import Hub, get_hub, set_hub


async def start(settings: Settings) -> Hub:
    """Install a bus and a hub. The hub listens first, so the bus knows it must hold a subscription."""
    bus = bus_for(settings.redis_url, settings.namespace)
    set_bus(bus)
    hub = Hub()
    set_hub(hub)
    await hub.start(bus)
    await bus.start()
    return hub


async def stop() -> None:
    """Complete every open stream (clients get `complete`), then drop the bus subscription."""
    hub = get_hub()
    await hub.stop()
    set_hub(None)
    bus = get_bus()
    set_bus(LocalBus())
    await bus.stop()
