"""Load shedding: a process-wide switch the FastAPI instrumentation honours on the inference routes.

While active, ``infertel-instrumentation-fastapi`` answers the inference routes with HTTP 503
and ``Retry-After`` before the application sees the request (health, metrics and every other
route keep working). The remediation action ``shed_load`` turns it on while an alert fires.
Reading it is one attribute access: it sits on the request path.
"""

from __future__ import annotations

import math
import threading
import time


class LoadShedder:
    """A switch for shedding load, with who turned it on and how many requests it refused.

    Threading: thread-safe; :attr:`active` is a plain attribute read (the request path reads it
    without a lock). Several holders may activate it (two alerts, say): it stays active until
    every holder has released it.

    Example:
        >>> shedder = LoadShedder()
        >>> shedder.activate("HighLatency", retry_after_s=30)
        >>> shedder.active, shedder.retry_after_header
        (True, b'30')
        >>> shedder.release("HighLatency")
        >>> shedder.active
        False
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: dict[str, float] = {}
        self.active = False
        """Whether requests to the inference routes are refused now."""
        self.retry_after_header = b"1"
        """The ``Retry-After`` value sent with each 503 (whole seconds, ASCII)."""
        self.rejected = 0
        """Requests refused so far (approximate under concurrent requests: not locked)."""
        self.since_unix_nano: int | None = None
        """When shedding last became active, Unix nanoseconds."""

    def activate(self, holder: str, *, retry_after_s: float = 30.0) -> None:
        """Start shedding on behalf of ``holder`` (an alert's name or fingerprint).

        Raises:
            ValueError: ``retry_after_s`` is not a positive number.

        Example:
            >>> LoadShedder().activate("manual", retry_after_s=5)
        """
        if not isinstance(retry_after_s, (int, float)) or not retry_after_s > 0 or math.isinf(retry_after_s):
            raise ValueError(f"retry_after_s: {retry_after_s!r}; expected a positive number of seconds")
        with self._lock:
            if not self._holders:
                self.since_unix_nano = time.time_ns()
            self._holders[holder] = float(retry_after_s)
            self.retry_after_header = str(math.ceil(max(self._holders.values()))).encode()
            self.active = True

    def release(self, holder: str) -> None:
        """Stop shedding on behalf of ``holder``; shedding ends when no holder is left.

        Example:
            >>> LoadShedder().release("never-held")
        """
        with self._lock:
            self._holders.pop(holder, None)
            if self._holders:
                self.retry_after_header = str(math.ceil(max(self._holders.values()))).encode()
            else:
                self.active = False
                self.since_unix_nano = None

    def holders(self) -> list[str]:
        """Who holds shedding active now.

        Example:
            >>> LoadShedder().holders()
            []
        """
        with self._lock:
            return sorted(self._holders)


load_shedder = LoadShedder()
"""The process-wide switch the FastAPI instrumentation reads unless given another."""
