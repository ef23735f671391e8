"""The scheduler as a process of its own (API processes then set SCHEDULER=false).

    python -m tasks.scheduler

It lives with the broker wiring, not in engine/scheduler.py: the claims it makes are sent as messages,
and only this layer knows the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import logs
from config import get_settings
from models.db import close_db, init_db
from tasks import runtime

log = logging.getLogger("outbound.scheduler")


async def main() -> None:
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
    await init_db(settings.database_url)
    engine = await runtime.start(settings.model_copy(update={"scheduler": True}), workers=False)
    assert engine.scheduler is not None
    log.info("scheduler running (tick %.1fs)", engine.scheduler.interval)
    try:
        await asyncio.Event().wait()
    finally:
        await engine.stop()
        await close_db()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
