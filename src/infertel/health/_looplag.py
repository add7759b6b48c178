"""Event-loop lag: how late a coroutine that asked to sleep ``interval`` wakes up.

Started on the server's own loop (the health router does it on its first request, or the
application calls :meth:`EventLoopLagMonitor.start` from a coroutine), read by the built-in
``event_loop:lag`` check from another thread.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any


class EventLoopLagMonitor:
    """Measures the lag of one asyncio event loop.

    Threading: :meth:`start` runs on the loop to watch; :attr:`lag_s` is read from any thread.

    Args:
        interval_s: Seconds between two measurements.
        window: The reported lag is the largest of the last ``window`` measurements.

    Example:
        >>> monitor = EventLoopLagMonitor()
        >>> async def main():
        ...     monitor.start()          # on the loop to watch
        >>> monitor.lag_s is None       # until the first measurement
        True
    """

    def __init__(self, *, interval_s: float = 0.25, window: int = 8) -> None:
        if not interval_s > 0:
            raise ValueError(f"EventLoopLagMonitor.interval_s: {interval_s!r}; expected a number > 0")
        if window < 1:
            raise ValueError(f"EventLoopLagMonitor.window: {window!r}; expected an integer >= 1")
        self.interval_s = interval_s
        self._samples: deque[float] = deque(maxlen=window)
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def lag_s(self) -> float | None:
        """The largest recent lag in seconds (``None`` before the first measurement)."""
        samples = tuple(self._samples)
        return max(samples) if samples else None

    @property
    def watching(self) -> bool:
        """Whether a loop is being watched (its task is alive)."""
        task = self._task
        return task is not None and not task.done()

    def start(self) -> None:
        """Watch the running event loop (idempotent; call it from a coroutine on that loop).

        Example:
            >>> async def lifespan_start(): EventLoopLagMonitor().start()
        """
        if self.watching:
            return
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._watch(), name="infertel-event-loop-lag")

    def stop(self) -> None:
        """Stop watching (call it on the watched loop).

        Example:
            >>> EventLoopLagMonitor().stop()
        """
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            self._samples.append(max(time.perf_counter() - before - self.interval_s, 0.0))
