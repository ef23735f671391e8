"""The sandbox provider: LinkedIn (there is no public API) and email without SMTP.

It performs nothing outside the process; it records each action once per key, so tests and the demo can
see exactly what would have been sent. `fail_next` makes the next sends fail (provider outage tests).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from engine.channels.base import ChannelFailure, Outbound

#: A long-running worker keeps only the latest actions (exactly-once is the database's job, not this log's).
KEEP = 10_000


class SandboxProvider:
    def __init__(self, name: str) -> None:
        self.name = name
        self.actions: OrderedDict[str, Outbound] = OrderedDict()
        self._failures = 0
        self._lock = threading.Lock()

    def new_external_id(self, key: str) -> str:
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

    def fail_next(self, times: int) -> None:
        with self._lock:
            self._failures = times

    def clear(self) -> None:
        with self._lock:
            self.actions.clear()
            self._failures = 0
