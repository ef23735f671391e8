"""A bounded LRU of response bytes (entries and bytes), holding answers of the current data version only."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    size: int = 0

    def __post_init__(self) -> None:
        # + the key (query digest, variables) and bookkeeping, roughly
        self.size = len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 300


class Store:
    """Keys carry the data version they were read at. A version never recurs once it has changed
    (readcache/version.py), so when a new one is seen every entry is dead: they are all dropped at once
    instead of waiting for the LRU to push them out."""

    def __init__(self, max_entries: int = 4096, max_bytes: int = 64 * 1024 * 1024, max_entry_bytes: int = 1 << 20):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._bytes = 0
        self._version: Hashable = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def observe(self, version: Hashable) -> None:
        """Versions are observed in the order they were read (one read in flight at a time)."""
        if version != self._version:
            self._version = version
            self.clear()

    def get(self, key: Hashable) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, version: Hashable, key: Hashable, entry: Entry, key_bytes: int = 0) -> bool:
        """Store unless the answer was read at a version that is no longer current or is too big."""
        entry.size += key_bytes
        if version != self._version or entry.size > self.max_entry_bytes:
            return False
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        self._entries[key] = entry
        self._bytes += entry.size
        while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size
        return True

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0
