"""The demo workspace that `make run` seeds on first start (filled in with the read API, issue 2)."""

from __future__ import annotations

from config import Settings


async def ensure_demo(settings: Settings) -> None:
    return None
