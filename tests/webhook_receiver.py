"""A real webhook receiver for tests: a Starlette app on uvicorn (in a thread) on a free port.

It verifies every request's signature with `standardwebhooks` and the webhook's secret, answers as told
(`fail_next` failures first, with `fail_status`; a path of /redirect answers 302, /slow waits), and records
every arrival, verified or not, with when it came and how many requests to its path were open at once.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Arrival:
    path: str
    headers: dict[str, str]
    body: str
    verified: bool
    answered: int
    at: float = field(default_factory=time.monotonic)  # when its body had arrived (time.monotonic)

    @property
    def json(self) -> dict[str, Any]:
        return orjson.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def type(self) -> str:
        return self.json["type"]


@dataclass
class Receiver:
    secrets: dict[str, str] = field(default_factory=dict)  # path -> whsec_...
    arrivals: list[Arrival] = field(default_factory=list)
    fail_next: int = 0
    fail_status: int = 503
    slow_seconds: float = 2.0
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    open: dict[str, int] = field(default_factory=dict)  # path -> requests being answered now
    peak: dict[str, int] = field(default_factory=dict)  # path -> most requests open at once

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.path == path]

    async def wait_for(self, count: int, path: str | None = None, within: float = 20) -> list[Arrival]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            got = self.at(path) if path else list(self.arrivals)
            if len(got) >= count:
                return got
            await asyncio.sleep(0.05)
        raise AssertionError(f"expected {count} arrivals at {path or 'any path'}, got {len(got)}")

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        with self.lock:
            self.open[path] = self.open.get(path, 0) + 1
            self.peak[path] = max(self.peak.get(path, 0), self.open[path])
        try:
            return await self._answer(request)
        finally:
            with self.lock:
                self.open[path] -= 1

    async def _answer(self, request: Request) -> Response:
        body = (await request.body()).decode()
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = request.url.path
        secret = self.secrets.get(path)
        verified = False
        if secret is not None:
            try:
                Webhook(secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        with self.lock:
            if path == "/redirect":
                status = 302
            elif self.fail_next > 0:
                self.fail_next -= 1
                status = self.fail_status
            else:
                status = 204 if verified else 401
            self.arrivals.append(Arrival(path, headers, body, verified, status))
        if path == "/slow":
            await asyncio.sleep(self.slow_seconds)
        if status == 302:
            return Response(status_code=302, headers={"location": self.url("/elsewhere")})
        return Response(status_code=status)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReceiverServer:
    """Starts the receiver's uvicorn in a thread of its own (so it answers whatever the test's loop does)."""

    def __init__(self) -> None:
        self.receiver = Receiver(port=_free_port())
        app = Starlette(routes=[Route("/{path:path}", self.receiver.handle, methods=["POST", "GET"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.receiver.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="webhook-receiver", daemon=True)

    def start(self) -> Receiver:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise AssertionError("the webhook receiver did not start")
            time.sleep(0.02)
        return self.receiver

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
