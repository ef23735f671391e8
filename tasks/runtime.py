"""Start and stop the background machinery (broker, workers, scheduler) that a process runs.

Filled in by the engine (issue 4); the API server calls these from its lifespan.
"""

from __future__ import annotations

from config import Settings


async def start(settings: Settings) -> None:
    return None


async def stop() -> None:
    return None
