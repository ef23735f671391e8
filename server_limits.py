"""Size, time and rate limits at the edge of the API: what a client meets before the GraphQL layer runs.

- `BodyLimit`: a body over MAX_BODY_BYTES is answered 413 (PAYLOAD_TOO_LARGE) as soon as its Content-Length
  says so, or as soon as the bytes read pass the limit while streaming: a 100 MB body is never read whole.
- `CancelOnDisconnect`: an HTTP request whose client went away has its execution cancelled.
- `RateLimit`: each API key has a request rate with a burst (the `limits` library's moving window, in Redis
  when REDIS_URL is set so every API process shares it); over it, 429 with Retry-After (RATE_LIMITED).
  Over a websocket, each `subscribe` counts against the same key, and a key's open sockets are capped
  (closed 4429).

The header deadline, header size and connection cap are uvicorn's part: server_http.py.

The limiter is made by the app's lifespan (`RateLimiter.start`) and reached through the request's state.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections import Counter
from typing import Any

import orjson
from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from prometheus_client import Counter as Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config import Settings
from domain.auth import parse_bearer

log = logging.getLogger("outbound.limits")

#: Requests whose client went away before the answer, so their execution was cancelled.
CANCELLED = Metric("outbound_requests_cancelled", "HTTP requests cancelled because the client disconnected.")
#: Requests and websocket operations refused by the per-key rate, and websockets refused by the per-key cap.
REFUSED = Metric("outbound_rate_limited", "Requests refused by a limit of the API key.", ["what"])

WS_CLOSE_TOO_MANY = 4429


def error_body(message: str, code: str, **extensions: Any) -> bytes:
    """A GraphQL-shaped JSON error, as every refusal of the API is."""
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code, **extensions}}]})


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


def rate_key(raw_key: str) -> str:
    """What a key is limited under: a digest, so the key itself is never written to Redis."""
    return hashlib.sha256(raw_key.encode()).hexdigest()[:24]


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            return parse_bearer(value.decode("latin-1"))
    return None


# ------------------------------------------------------------------------------------------ body size


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def refusal(self) -> bytes:
        return error_body(
            f"The request body is over {self.max_bytes:,} bytes (limit MAX_BODY_BYTES={self.max_bytes}).",
            "PAYLOAD_TOO_LARGE",
            limit="MAX_BODY_BYTES",
            maximum=self.max_bytes,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers") or ():
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _respond(send, 413, self.refusal(), [(b"connection", b"close")])
                return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _respond(send, 413, self.refusal(), [(b"connection", b"close")])


# ------------------------------------------------------------------------------------------ disconnects


class CancelOnDisconnect:
    """Runs each HTTP request in its own task and cancels it when the client disconnects before the answer.

    Once the request's body is read, the next `receive()` only returns when the client goes away (or the
    response is complete): a watcher waits for it, and cancels the request if no response has finished.
    A request without a body has its (empty) body read by the watcher, which hands it to the app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or ()
        bodiless = not any(
            name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0")
            for name, value in headers
        )
        body_read = asyncio.Event()
        disconnect: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        first: list[Message] = []  # a bodiless request's one message, read by the watcher
        finished = False

        async def reading() -> Message:
            if bodiless:
                await body_read.wait()
                return first.pop() if first else await asyncio.shield(disconnect)
            if body_read.is_set():
                return await asyncio.shield(disconnect)
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                body_read.set()
            if message["type"] == "http.disconnect" and not disconnect.done():
                disconnect.set_result(message)
            return message

        async def sending(message: Message) -> None:
            nonlocal finished
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True

        task = asyncio.ensure_future(self.app(scope, reading, sending))

        async def watch() -> None:
            if bodiless:
                message = await receive()
                # A client may still send its empty body in more than one message (httpx sends b"" then the
                # end): gather them into the one message the app reads, so only a disconnect ends the watch.
                chunks: list[bytes] = []
                while message["type"] == "http.request":
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body", False):
                        first.append({"type": "http.request", "body": b"".join(chunks), "more_body": False})
                        body_read.set()
                        message = await receive()
                        break
                    message = await receive()
                body_read.set()
            else:
                await body_read.wait()
                message = disconnect.result() if disconnect.done() else await receive()
            if not disconnect.done():
                disconnect.set_result(message)
            if not finished and not task.done():
                CANCELLED.inc()
                log.info("client went away: cancelled %s %s", scope.get("method"), scope.get("path"))
                task.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:  # we are cancelled ourselves (shutdown): so is the request
            task.cancel()
            raise
        finally:
            watcher.cancel()
        if not task.cancelled():
            task.result()  # the app's own exception, if any, as if it had run inline


# ------------------------------------------------------------------------------------------ rate


def _burst_item(rate: RateLimitItem, burst: int) -> RateLimitItem:
    """`burst` requests per the window in which `rate` allows that many: at most `burst` at once, and on average
    no more than `rate` (rounded to whole seconds; a burst below the rate's amount keeps the rate's window)."""
    window = max(1, round(burst * rate.get_expiry() / rate.amount))
    return RateLimitItemPerSecond(max(burst, 1), window)


class RateLimiter:
    """Each API key's request budget (moving window), shared through Redis when it is configured, and the
    number of websockets each key has open on this process."""

    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.rate = parse(settings.rate_limit)
        self.item = _burst_item(self.rate, settings.rate_limit_burst)
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self.ws_per_key = settings.ws_connections_per_key
        self.setting = f"RATE_LIMIT={settings.rate_limit}, RATE_LIMIT_BURST={settings.rate_limit_burst}"
        self.open_sockets: Counter[str] = Counter()
        self.unchecked = 0
        self.warned_at = -math.inf

    @classmethod
    def start(cls, settings: Settings) -> RateLimiter:
        if settings.redis_url:
            uri = settings.redis_url.replace("redis://", "async+redis://", 1).replace("rediss://", "async+rediss://", 1)
            storage: Storage = RedisStorage(uri, implementation="redispy", key_prefix=f"{settings.namespace}:ratelimit")
        else:
            storage = MemoryStorage()
        return cls(settings, storage)

    async def hit(self, key: str) -> int | None:
        """Counts one request of `key`: None if within its budget, else the seconds to wait before the next.

        If the storage fails (Redis unreachable), the request passes: an outage of the limiter's storage must not
        become an outage of the API. It is logged once a minute at most, with how many passed unchecked."""
        try:
            if await self.strategy.hit(self.item, key):
                return None
            stats = await self.strategy.get_window_stats(self.item, key)
        except Exception as error:
            self.unchecked += 1
            now = time.monotonic()
            if now - self.warned_at >= 60:
                log.warning("rate limit storage failed (%s): %d request(s) passed unchecked", error, self.unchecked)
                self.warned_at, self.unchecked = now, 0
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    def refusal(self, retry_after: int) -> dict[str, Any]:
        return {
            "message": f"Too many requests for this API key ({self.setting}): retry in {retry_after} s.",
            "extensions": {"code": "RATE_LIMITED", "retryAfter": retry_after},
        }


def _limiter(scope: Scope) -> RateLimiter | None:
    state = scope.get("state") or {}
    return state.get("limiter")


class RateLimit:
    """HTTP requests with a bearer key count against it; websockets are limited per operation and socket."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = _limiter(scope)
        if limiter is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await _SocketLimits(limiter, receive, send).run(self.app, scope)
            return
        raw = _bearer(scope)
        if raw is not None:
            retry_after = await limiter.hit(rate_key(raw))
            if retry_after is not None:
                REFUSED.labels("request").inc()
                body = orjson.dumps({"errors": [limiter.refusal(retry_after)]})
                await _respond(send, 429, body, [(b"retry-after", str(retry_after).encode())])
                return
        await self.app(scope, receive, send)


class _SocketLimits:
    """Reads graphql-transport-ws frames on their way in: `connection_init` names the key (capped sockets per
    key), and each `subscribe` spends one request of its budget (over it: an `error` for that operation, and
    the socket stays open)."""

    def __init__(self, limiter: RateLimiter, receive: Receive, send: Send) -> None:
        self.limiter = limiter
        self.receive = receive
        self.send = send
        self.key: str | None = None
        self.closed = False

    async def sending(self, message: Message) -> None:
        if not self.closed:  # once refused and closed here, what Strawberry still sends goes nowhere
            await self.send(message)

    async def run(self, app: ASGIApp, scope: Scope) -> None:
        try:
            await app(scope, self.receiving, self.sending)
        finally:
            if self.key is not None:
                self.limiter.open_sockets[self.key] -= 1
                if self.limiter.open_sockets[self.key] <= 0:
                    del self.limiter.open_sockets[self.key]

    async def receiving(self) -> Message:
        while True:
            message = await self.receive()
            text = message.get("text") if message["type"] == "websocket.receive" else None
            if not text:
                return message  # binary or a disconnect: Strawberry refuses what it must
            # Every frame is decoded (a few microseconds; frames are at most MAX_BODY_BYTES): a type spelled with
            # JSON escapes must not slip past the count.
            try:
                frame = orjson.loads(text)
            except orjson.JSONDecodeError:
                return message
            if not isinstance(frame, dict):
                return message
            if frame.get("type") == "connection_init" and self.key is None:
                reason = self.opened(frame.get("payload"))
                if reason is not None:
                    await self.send({"type": "websocket.close", "code": WS_CLOSE_TOO_MANY, "reason": reason})
                    self.closed = True
                    return {"type": "websocket.disconnect", "code": WS_CLOSE_TOO_MANY}
            elif frame.get("type") == "subscribe" and self.key is not None:
                retry_after = await self.limiter.hit(self.key)
                if retry_after is not None:
                    REFUSED.labels("operation").inc()
                    error = {"id": frame.get("id"), "type": "error", "payload": [self.limiter.refusal(retry_after)]}
                    await self.sending({"type": "websocket.send", "text": orjson.dumps(error).decode()})
                    continue  # the operation never reaches Strawberry
            return message

    def opened(self, payload: Any) -> str | None:
        """Counts the socket under its key; the reason to close it instead if the key has too many open."""
        raw = None
        if isinstance(payload, dict):
            header = payload.get("Authorization") or payload.get("authorization")
            raw = parse_bearer(header) if isinstance(header, str) else None
        if raw is None:
            return None  # Strawberry refuses a missing or wrong key (4403)
        key = rate_key(raw)
        if self.limiter.open_sockets[key] >= self.limiter.ws_per_key:
            REFUSED.labels("websocket").inc()
            cap = self.limiter.ws_per_key
            return f"Too many open websockets for this API key (WS_CONNECTIONS_PER_KEY={cap})."
        self.key = key
        self.limiter.open_sockets[key] += 1
        return None
