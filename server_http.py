"""uvicorn's side of the limits: a deadline and a size cap for each request's head, and the options for
uvicorn.run (header and idle timeouts, connection cap, websocket message size). README.md, "Limits".

uvicorn's only timer is the keep-alive one, which any byte received resets: a client that sent its headers
a byte at a time (or connected and sent nothing) held its connection for good.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from config import Settings, get_settings
from server_limits import error_body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size cap for each request's head.

    uvicorn's only timer is the keep-alive one, which any byte received resets: a client that sends its
    headers slowly (or connects and sends nothing) held its connection for good. Here each request's head
    (from the connection, or from the previous response) has HEADER_TIMEOUT seconds to be complete, and at
    most MAX_HEADER_BYTES; past either the connection is answered 408 or 431 and closed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._header_timeout = settings.header_timeout
        self._max_head = settings.max_header_bytes
        self._head_bytes = 0
        self._in_head = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self._max_head and not self.transport.is_closing():
            message = f"The request's head is over {self._max_head:,} bytes (limit MAX_HEADER_BYTES)."
            self._refuse(431, "Request Header Fields Too Large", "HEADERS_TOO_LARGE", message)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()  # the next request on this connection gets the same time for its head

    def _await_head(self) -> None:
        self._stop_head_timer()
        self._in_head = True
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self._header_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            if self._head_bytes:
                message = f"The request's headers took over {self._header_timeout:g} s (limit HEADER_TIMEOUT)."
                self._refuse(408, "Request Timeout", "REQUEST_TIMEOUT", message)
            else:
                self.transport.close()  # an idle connection: nothing to answer

    def _refuse(self, status: int, phrase: str, code: str, message: str) -> None:
        self._stop_head_timer()
        body = error_body(message, code)
        head = (
            f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What `uvicorn.run` gets for these limits (server.py's `serve`)."""
    return {
        "http": GuardedHttpToolsProtocol,
        "timeout_keep_alive": settings.timeout_keep_alive,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        # A websocket message is a request too: the same size limit as a body.
        "ws_max_size": settings.max_body_bytes,
    }
