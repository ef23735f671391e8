"""A real SMTP server for tests (aiosmtpd, in a thread): every message the engine sends, as received."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Message

    @property
    def message_id(self) -> str:
        # A long Message-ID may be folded onto a second line ("\r\n <...>"): it holds no spaces, so drop them.
        return "".join(str(self.message["Message-ID"]).split())

    @property
    def body(self) -> str:
        payload = self.message.get_payload(decode=True)
        return payload.decode().strip() if isinstance(payload, bytes) else ""


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)  # a slow provider, so a worker can be killed mid-run
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.original_content))
        with self.sink.lock:
            self.sink.messages.append(received)
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        self.delay = delay
        self.port = _free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.messages)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
