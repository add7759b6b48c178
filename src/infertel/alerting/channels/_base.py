"""The machinery every channel shares: a bounded queue, a worker thread, retries with backoff.

A channel's :meth:`Channel.submit` only enqueues (never blocks, never raises): the engine's
dispatcher hands a notification over and goes on. The channel's own daemon thread delivers it
with :meth:`Channel.send`, retrying with capped exponential backoff and jitter on the errors a
retry can cure (network errors, timeouts, HTTP 429 with its ``Retry-After``, HTTP 5xx, SMTP 4xx)
and giving up at once on the others (any other 4xx, an SMTP 5xx, a refused certificate). A slow
or failing channel therefore delays nothing but itself.

Secrets: log lines name the channel and the error class and status only; never the URL with its
token, the routing key or the password (each channel's ``target`` is a redacted form).
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infertel._internal.errors import warn_rate_limited

_logger = logging.getLogger(__name__)

NOTIFY = "notify"
"""A notification (firing or resolved), as the engine submits it."""
ACKNOWLEDGE = "acknowledge"
"""An acknowledgement of the notified group (PagerDuty sends ``event_action=acknowledge``)."""


class DeliveryError(Exception):
    """One delivery attempt failed.

    Attributes:
        reason: What went wrong, safe to log (no URL, token, key or password).
        retryable: Whether another attempt may succeed.
        retry_after_s: The receiver's ``Retry-After``, when it gave one.

    Example:
        >>> DeliveryError("HTTP 503", retryable=True).retryable
        True
    """

    def __init__(self, reason: str, *, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class RetryPolicy:
    """How a channel retries: capped exponential backoff with jitter, bounded in attempts and time.

    Attributes:
        max_attempts: Attempts in all (1 = no retry).
        initial_backoff_s: Wait before the second attempt.
        max_backoff_s: The cap of any wait, ``Retry-After`` included.
        multiplier: Growth of the wait per attempt.
        jitter: Each wait is multiplied by a random factor in ``[1 - jitter, 1 + jitter]``.
        max_elapsed_s: No attempt starts later than this after the first.

    Raises:
        ValueError: A bound out of range (the message names it).

    Example:
        >>> RetryPolicy(max_attempts=3, initial_backoff_s=1, jitter=0).backoff_s(2)
        2.0
    """

    max_attempts: int = 5
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2
    max_elapsed_s: float = 120.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts: {self.max_attempts!r}; expected an integer >= 1")
        for name in ("initial_backoff_s", "max_backoff_s", "max_elapsed_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"RetryPolicy.{name}: {getattr(self, name)!r}; expected a number >= 0")
        if not self.multiplier >= 1:
            raise ValueError(f"RetryPolicy.multiplier: {self.multiplier!r}; expected a number >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"RetryPolicy.jitter: {self.jitter!r}; expected 0 <= jitter < 1")

    def backoff_s(
        self, attempt: int, retry_after_s: float | None = None, rand: Callable[[], float] = random.random
    ) -> float:
        """The wait after failed attempt number ``attempt`` (1-based).

        Example:
            >>> RetryPolicy(jitter=0, max_backoff_s=5).backoff_s(10)
            5.0
        """
        base = min(self.initial_backoff_s * self.multiplier ** (attempt - 1), self.max_backoff_s)
        wait = base * (1 + self.jitter * (2 * rand() - 1))
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return float(min(wait, self.max_backoff_s))


class Channel:
    """Base class of notification channels: subclasses implement :meth:`send` (one attempt).

    Threading and exceptions: :meth:`submit` and :meth:`acknowledge` may be called from any
    thread; they never block and never raise (``False`` when the bounded queue is full, and the
    drop is counted). :meth:`send` runs only on the channel's own worker thread, one call at a
    time; it raises :class:`DeliveryError` (or any exception, treated as not retryable) when
    an attempt fails. Delivery outcomes are counted in :attr:`status`, and a delivery that gives
    up is logged once per minute per channel, without secrets.

    Args:
        name: The channel's name in logs and status.
        timeout_millis: Time limit of one attempt (connect, send and read).
        max_queue: Notifications waiting at most; more are dropped and counted.
        retry: The retry policy.

    Example:
        >>> class Recorder(Channel):
        ...     sent = []
        ...     def send(self, payload, event="notify"):
        ...         self.sent.append(payload["status"])
        >>> channel = Recorder("recorder")
        >>> channel.submit({"status": "firing"})  # queued: send() runs on the channel's thread
        True
        >>> channel.shutdown()
        True
        >>> channel.sent
        ['firing']
    """

    target = ""
    """Where it delivers, redacted (no token, key or password)."""
    supports_acknowledge = False
    """Whether :meth:`acknowledge` sends anything (PagerDuty: yes)."""

    def __init__(
        self,
        name: str,
        *,
        timeout_millis: float = 10_000,
        max_queue: int = 1_000,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"channel name: {name!r}; expected a non-empty string")
        if not (isinstance(timeout_millis, (int, float)) and timeout_millis > 0):
            raise ValueError(f"channel {name!r}: timeout_millis={timeout_millis!r}; expected a number > 0")
        if not isinstance(max_queue, int) or max_queue < 1:
            raise ValueError(f"channel {name!r}: max_queue={max_queue!r}; expected an integer >= 1")
        self.name = name
        self.timeout_millis = float(timeout_millis)
        self.retry = retry if retry is not None else RetryPolicy()
        self._queue: queue.Queue[tuple[str, Mapping[str, Any]]] = queue.Queue(max_queue)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # queued or being delivered
        self._thread: threading.Thread | None = None
        self._counts = {"submitted": 0, "delivered": 0, "failed": 0, "dropped": 0, "retries": 0}
        self.last_error: str | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, target={self.target!r})"

    # -- for subclasses -----------------------------------------------------------------------
    def send(self, payload: Mapping[str, Any], event: str = NOTIFY) -> None:
        """Deliver ``payload`` once (worker thread); raise :class:`DeliveryError` on failure."""
        raise NotImplementedError

    # -- the engine's side --------------------------------------------------------------------
    def submit(self, payload: Mapping[str, Any]) -> bool:
        """Queue a notification (an Alertmanager webhook v4 payload); never blocks.

        Returns:
            ``False`` when the queue was full or the channel shut down (the drop is counted).

        Example:
            >>> CallableChannel(print).submit({"version": "4", "status": "firing", "alerts": []})  # doctest: +SKIP
            True
        """
        return self._enqueue(NOTIFY, payload)

    def acknowledge(self, payload: Mapping[str, Any]) -> bool:
        """Queue an acknowledgement of the group ``payload`` notified (a no-op without support).

        Example:
            >>> CallableChannel(print).acknowledge({"groupKey": "g", "alerts": []})  # doctest: +SKIP
            True
        """
        if not self.supports_acknowledge:
            return True
        return self._enqueue(ACKNOWLEDGE, payload)

    @property
    def status(self) -> dict[str, Any]:
        """Counters since creation, the queue's length now, the last error and the redacted target.

        Keys: ``name``, ``target``, ``submitted``, ``delivered``, ``failed``, ``dropped``,
        ``retries``, ``queued`` and ``last_error`` (safe to show).

        Example:
            >>> CallableChannel(print, name="p").status["dropped"]  # doctest: +SKIP
            0
        """
        with self._lock:
            counts = dict(self._counts)
        return {
            "name": self.name,
            "target": self.target,
            **counts,
            "queued": self._queue.qsize(),
            "last_error": self.last_error,
        }

    def flush(self, timeout_millis: float = 10_000) -> bool:
        """Wait until everything queued was delivered or given up; ``False`` on timeout.

        Example:
            >>> CallableChannel(print).flush()  # doctest: +SKIP
            True
        """
        deadline = time.monotonic() + timeout_millis / 1000
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.05))
        return True

    def shutdown(self, timeout_millis: float = 10_000) -> bool:
        """Deliver what is queued (within the time), then stop; ``False`` if anything was lost.

        Lost means dropped (queue full, or still queued at the deadline) or failed for good
        since the channel was created.

        Example:
            >>> CallableChannel(print).shutdown()  # doctest: +SKIP
            True
        """
        flushed = self.flush(timeout_millis)
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(max(timeout_millis / 1000, 0.1))
        leftover = 0
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            leftover += 1
        with self._lock:
            self._pending -= leftover
            self._counts["dropped"] += leftover
            clean = self._counts["dropped"] == 0 and self._counts["failed"] == 0
        return flushed and clean

    # -- internals ----------------------------------------------------------------------------
    def _enqueue(self, event: str, payload: Mapping[str, Any]) -> bool:
        with self._lock:
            self._counts["submitted"] += 1
            if self._stop.is_set():
                self._counts["dropped"] += 1
                return False
            try:
                self._queue.put_nowait((event, payload))
            except queue.Full:
                self._counts["dropped"] += 1
                full = True
            else:
                full = False
                self._pending += 1
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._work, name=f"infertel-channel-{self.name}", daemon=True
                    )
                    self._thread.start()
        if full:
            warn_rate_limited(
                ("channel-full", self.name),
                "infertel alerting: channel %s is full; a notification was dropped",
                self.name,
            )
        return not full

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                event, payload = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                self._deliver(event, payload)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, event: str, payload: Mapping[str, Any]) -> bool:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                self.send(payload, event)
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a bug or an unexpected library error: not retried
                error = DeliveryError(type(exc).__name__, retryable=False)
            else:
                with self._lock:
                    self._counts["delivered"] += 1
                return True
            wait = self.retry.backoff_s(attempt, error.retry_after_s)
            late = time.monotonic() + wait - started > self.retry.max_elapsed_s
            if not error.retryable or attempt >= self.retry.max_attempts or late or self._stop.is_set():
                self._give_up(error, attempt)
                return False
            with self._lock:
                self._counts["retries"] += 1
            if self._stop.wait(wait):
                self._give_up(error, attempt)
                return False

    def _give_up(self, error: DeliveryError, attempts: int) -> None:
        with self._lock:
            self._counts["failed"] += 1
            self.last_error = error.reason
        warn_rate_limited(
            ("channel-failed", self.name),
            "infertel alerting: channel %s (%s) gave up a notification after %d attempt(s): %s",
            self.name,
            self.target,
            attempts,
            error.reason,
        )
