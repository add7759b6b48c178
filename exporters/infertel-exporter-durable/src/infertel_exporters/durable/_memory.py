"""Where encoded records wait while the spool cannot be written: bounded in bytes, oldest evicted first."""

from __future__ import annotations

import collections
import threading


class MemoryBuffer:
    """Encoded records ``(payload, items, created)`` in arrival order, at most ``max_bytes`` of payload.

    Threading: every method may be called from any thread (one lock); the pipeline's sender is
    the only consumer. Exceptions: none.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size_bytes = 0
        self._records: collections.deque[tuple[bytes, int, float]] = collections.deque()
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._records)

    @property
    def items(self) -> int:
        """Items held."""
        with self._lock:
            return sum(count for _, count, _ in self._records)

    def add(self, payload: bytes, items: int, created: float) -> int:
        """Keep a record (the caller checks it fits in ``max_bytes``); the items evicted to make room."""
        lost = 0
        with self._lock:
            while self._records and self.size_bytes + len(payload) > self.max_bytes:
                old, count, _ = self._records.popleft()
                self.size_bytes -= len(old)
                lost += count
            self._records.append((payload, items, created))
            self.size_bytes += len(payload)
        return lost

    def oldest(self) -> tuple[bytes, int, float] | None:
        """The oldest record, left in place."""
        with self._lock:
            return self._records[0] if self._records else None

    def pop_oldest(self) -> None:
        """Remove the record :meth:`oldest` returned."""
        with self._lock:
            payload, _, _ = self._records.popleft()
            self.size_bytes -= len(payload)

    def clear(self) -> int:
        """Empty the buffer; the items it held."""
        with self._lock:
            lost = sum(count for _, count, _ in self._records)
            self._records.clear()
            self.size_bytes = 0
        return lost
