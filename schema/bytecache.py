"""An LRU cache bounded by the bytes its entries take, not by their number.

The caches that keep parsed documents (the parser and validation cache, the lean executor's plans, the
subscription plans) were bounded by entries: six distinct 1 MB queries grew a process by 400 MB for good.
Here each entry is charged what it is estimated to take, a document that would take more than `max_item` is
never kept (it is parsed and validated again each time: one request's cost, not the process's), and the
least recently used entries go once the total passes `max_bytes`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

#: What a parsed and validated document takes per character of its text (measured with tracemalloc on
#: graphql-core 3.3: ~65 bytes per character for a large document, more for small ones), plus a fixed part.
BYTES_PER_CHAR = 64
ENTRY_OVERHEAD = 4096


def footprint(text_length: int) -> int:
    """The estimated bytes a parsed document of this many characters keeps alive."""
    return ENTRY_OVERHEAD + BYTES_PER_CHAR * text_length


class ByteLRU(Generic[K, V]):
    """Least recently used entries leave first once the charged total passes `max_bytes`."""

    def __init__(self, max_bytes: int, max_item: int) -> None:
        self.max_bytes = max_bytes
        self.max_item = min(max_item, max_bytes)
        self.total = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def fits(self, size: int) -> bool:
        return size <= self.max_item

    def put(self, key: K, value: V, size: int) -> bool:
        """Keep `value` (charged `size` bytes) unless it is bigger than one entry may be; True if kept."""
        if size > self.max_item:
            return False
        old = self._entries.pop(key, None)
        if old is not None:
            self.total -= old[1]
        self._entries[key] = (value, size)
        self.total += size
        while self.total > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self.total -= evicted
        return True

    def clear(self) -> None:
        self._entries.clear()
        self.total = 0
