"""What a durable pipeline lost and delivered: counts by reason, logged at most once per reason per 10 s."""

from __future__ import annotations

import logging
import threading
import time

_logger = logging.getLogger(__name__)

_LOG_INTERVAL_S = 10.0


class Tally:
    """Items dropped (by reason) and delivered by one pipeline.

    Threading: every method may be called from any thread (one lock). Exceptions: none.
    """

    def __init__(self, signal: str) -> None:
        self.signal = signal
        self.dropped: dict[str, int] = {}
        self.delivered = 0
        self._lock = threading.Lock()
        self._last_logged: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}
        self._dropped_since_flush = 0

    def drop(self, items: int, reason: str) -> None:
        """Count ``items`` lost for good because of ``reason``."""
        if items <= 0:
            return
        now = time.monotonic()
        with self._lock:
            self.dropped[reason] = self.dropped.get(reason, 0) + items
            self._dropped_since_flush += items
            unlogged = self._unlogged.get(reason, 0) + items
            if now - self._last_logged.get(reason, -1e9) < _LOG_INTERVAL_S:
                self._unlogged[reason] = unlogged
                return
            self._last_logged[reason] = now
            self._unlogged[reason] = 0
        # At most one line per reason per 10 s, with everything lost since the previous line.
        _logger.warning(
            "durable %s export lost %d items (%s); %d in total for this reason",
            self.signal,
            unlogged,
            reason,
            self.dropped[reason],
        )

    def undrop(self, items: int, reason: str) -> None:
        """A record counted as dropped by a bound while it was in flight was delivered after all."""
        with self._lock:
            self.dropped[reason] = max(self.dropped.get(reason, 0) - items, 0)
            if not self.dropped[reason]:
                del self.dropped[reason]
            self._dropped_since_flush = max(self._dropped_since_flush - items, 0)

    def deliver(self, items: int) -> None:
        """Count ``items`` the collector acknowledged."""
        with self._lock:
            self.delivered += items

    def take_dropped_since_flush(self) -> int:
        """Items dropped since the previous call (for ``force_flush``'s verdict)."""
        with self._lock:
            dropped, self._dropped_since_flush = self._dropped_since_flush, 0
        return dropped
