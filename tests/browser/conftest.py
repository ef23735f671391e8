"""Browser tests: Playwright for Python driving Debian's Chromium against a real uvicorn.

Skipped, with the reason, on a machine without Playwright or /usr/bin/chromium; in CI (CI=true) that is a
failure instead, so the browser tests can never silently stop running there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Backend
from tests.test_live_subscriptions import ROOT, Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    problem = _missing()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {problem}", pytrace=False)
        pytest.skip(f"browser tests skipped: {problem}")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    if call.when == "call":
        item.failed_call = outcome.get_result().failed  # type: ignore[attr-defined]


@pytest.fixture
async def page(browser: Any, request: pytest.FixtureRequest, backend: Backend) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    errors: list[str] = []
    console: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    yield page
    if getattr(request.node, "failed_call", False):
        # what the browser showed when the test failed, for a run nobody watched (CI)
        shot = backend.tmp / f"{request.node.name}.png"
        await page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of the failure: {shot}\nbrowser console:\n" + "\n".join(console))
    await context.close()
    assert not errors, f"the page threw: {errors}"


@pytest.fixture(scope="module")
def engine(backend: Backend) -> Iterator[None]:
    """On the real backend the engine's actors run in a Dramatiq worker (on embedded, inside the server)."""
    if not backend.real:
        yield
        return
    log = (backend.tmp / "browser-worker.log").open("ab")
    worker = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "dramatiq"), "tasks", "-p", "1", "-t", "4"],
        cwd=ROOT,
        env=backend.env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped with its forked worker process
    )
    try:
        yield
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)  # the tests are over: no graceful drain needed
        worker.wait()
        log.close()


@pytest.fixture(scope="module")
async def server(backend: Backend, database: None, engine: None) -> AsyncIterator[Server]:
    # the scheduler ticks in the server: the seeded campaign sends, errs and waits by itself
    srv = Server(backend, SCHEDULER="true")
    try:
        await srv.ready()
        yield srv
    finally:
        srv.stop()


async def until(check: Callable[[], Awaitable[Any]], wait: float = 15, what: str = "condition") -> Any:
    """Polls `check` until it returns something truthy."""
    deadline = time.monotonic() + wait
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)
