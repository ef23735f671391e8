"""What a newcomer's `make run` logs when the embedded engine starts: no warning about its own wiring."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tasks import runtime


async def test_the_embedded_engine_starts_without_a_warning(
    settings: Any, backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    if backend.real:
        pytest.skip("the embedded engine (in-process broker and workers) is the SQLite default")
    caplog.set_level(logging.INFO)
    engine = await runtime.start(settings.model_copy(update={"scheduler": False}))
    try:
        assert engine.worker is not None and engine.webhook_worker is not None  # both embedded workers run
    finally:
        await engine.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []
