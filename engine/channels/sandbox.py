"""The sandbox provider: LinkedIn (there is no public API) and email without SMTP.

It performs nothing outside the process; it records each action once per key, so tests and the demo can
see exactly what would have been sent. `fail_next` makes the next sends fail (provider outage tests).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from email.message import EmailMessage

from engine.channels.base import ChannelFailure, Outbound
from engine.channels.email import compose, message_id

#: A long-running worker keeps only the latest actions (exactly-once is the database's job, not this log's).
KEEP = 10_000


class SandboxProvider:
    def __init__(self, name: str) -> None:
        self.name = name
        self.actions: OrderedDict[str, Outbound] = OrderedDict()
        #: The email sandbox keeps each email as it would have left (headers, links), by key.
        self.messages: OrderedDict[str, EmailMessage] = OrderedDict()
        self._failures = 0
        self._lock = threading.Lock()

    def new_external_id(self, key: str, sender_email: str | None = None) -> str:
        if self.name == "email":  # a real Message-ID, so the demo's simulated replies can answer it
            return message_id(key, sender_email)
        return f"sandbox-{self.name}-{key}"

    async def send(self, outbound: Outbound) -> None:
        with self._lock:
            if self._failures > 0:
                self._failures -= 1
                raise ChannelFailure(f"{self.name} sandbox: simulated provider failure")
            # Keyed: a repeated key is the same action, not a second one.
            self.actions.setdefault(outbound.key, outbound)
            while len(self.actions) > KEEP:
                self.actions.popitem(last=False)
        if self.name == "email":
            message = compose(outbound)
            with self._lock:
                self.messages.setdefault(outbound.key, message)
                while len(self.messages) > KEEP:
                    self.messages.popitem(last=False)

    def fail_next(self, times: int) -> None:
        with self._lock:
            self._failures = times

    def clear(self) -> None:
        with self._lock:
            self.actions.clear()
            self.messages.clear()
            self._failures = 0
