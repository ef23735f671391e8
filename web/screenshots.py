"""`make screenshots`: the demo served by a real server, its pages driven in Chromium, PNGs in docs/screenshots.

The server runs in a temporary directory (its own SQLite file and demo key), so the developer's own demo
database and key file are left alone. Needs Playwright and /usr/bin/chromium, like tests/browser.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.async_api import Page, async_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
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
WARM_UP = float(os.environ.get("SCREENSHOTS_WARM_UP", "25"))  # seconds of demo (days, at its speed) before the pictures


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_demo(tmp: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite://{tmp / 'demo.sqlite3'}",
        "PORT": str(port),
        "DEMO": "true",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    log = open(tmp / "server.log", "wb")  # lives as long as the server
    proc = subprocess.Popen([sys.executable, str(ROOT / "server.py")], cwd=tmp, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: see {tmp / 'server.log'}")
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            key_file = tmp / "outbound.demo-key"
            if key_file.exists():
                return proc, base, key_file.read_text().strip()
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not start")


async def shoot(base: str, key: str) -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(base + "/")
        await page.get_by_label("API key").fill(key)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_selector("#campaign[data-loaded]")
        await page.wait_for_selector("#live-status[data-status=live]")
        await page.wait_for_timeout(1500)
        shots.append(await save(page, "overview"))

        await page.get_by_role("tab", name="Audience").click()
        await page.locator("#audience-chips [data-status=ERROR]").click()
        await page.locator("#audience-rows [data-lead-id] button").first.click()
        await page.locator("#lead-panel .lead-error").wait_for()
        await page.wait_for_timeout(300)
        shots.append(await save(page, "audience", full_page=False))
        await page.get_by_role("button", name="Close").click()

        await page.get_by_role("tab", name="Activity").click()
        await page.locator("#activity-rows [data-activity-id]").first.wait_for()
        await page.wait_for_timeout(300)
        shots.append(await save(page, "activity", full_page=False))

        await page.set_viewport_size({"width": 375, "height": 800})
        await page.get_by_role("tab", name="Overview").click()
        await page.wait_for_timeout(300)
        shots.append(await save(page, "phone-overview"))

        graphiql = await browser.new_page(viewport={"width": 1280, "height": 800})
        await graphiql.goto(base + "/graphql")
        await graphiql.locator('input[name="apiKey"]').fill(key)
        await graphiql.get_by_role("button", name="Use key").click()
        editor = ".graphiql-query-editor .CodeMirror"
        await graphiql.locator(editor).wait_for()
        query = (
            "query Campaigns {\n  campaigns {\n    nodes {\n      name status\n"
            "      stats { allChannels { totalContacts contacted replied positive } }\n    }\n  }\n}\n"
        )
        await graphiql.evaluate("([sel, q]) => document.querySelector(sel).CodeMirror.setValue(q)", [editor, query])
        await graphiql.wait_for_timeout(500)
        await graphiql.locator(".graphiql-execute-button").click()
        await graphiql.wait_for_function(
            "document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('campaigns')"
        )
        shots.append(await save(graphiql, "graphiql", full_page=False))
        await browser.close()
    return shots


async def save(page: Page, name: str, full_page: bool = True) -> Path:
    path = OUT / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="outbound-screenshots-") as tmp:
        proc, base, key = start_demo(Path(tmp))
        try:
            print(f"demo at {base}; letting it run {WARM_UP:.0f} s", flush=True)
            time.sleep(WARM_UP)
            for path in asyncio.run(shoot(base, key)):
                print(f"wrote {path.relative_to(ROOT)}")
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
