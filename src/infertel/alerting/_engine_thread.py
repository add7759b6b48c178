"""The alert engine's background thread: leadership among the host's engines, rounds at their times, shutdown."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infertel.alerting._leader import LeaderLock, lock_path
from infertel.alerting._state import RuleState

_logger = logging.getLogger("infertel.alerting._engine")


class EngineThread:
    """The part of :class:`~infertel.alerting.AlertEngine` that runs it on its own daemon thread.

    A mixin: the engine provides ``store``, ``interval_s``, ``_clock``, ``_round_lock``, ``_states``,
    ``receivers``, ``dispatcher``, ``evaluate``, ``tick``, ``_restore`` and ``_refresh_silences``.
    Threading and exceptions: see :class:`~infertel.alerting.AlertEngine`.

    Example:
        >>> from infertel.alerting import AlertEngine
        >>> engine = AlertEngine([])
        >>> engine.start(); engine.shutdown()
        True
    """

    _thread: threading.Thread | None
    _stop: threading.Event
    _leader: LeaderLock | None
    store: Any
    interval_s: float
    receivers: dict[str, Any]
    dispatcher: Any
    _round_lock: Any
    _states: list[RuleState]
    _clock: Callable[[], float]

    if TYPE_CHECKING:  # the engine's

        def evaluate(self, now: float | None = None) -> Any:
            """One round."""

        def tick(self, now: float | None = None) -> None:
            """Due notifications."""

        def _restore(self) -> None: ...

        def _refresh_silences(self, now: float) -> None: ...

    def start(self) -> None:
        """Start the evaluation thread (idempotent); with a store file it leads only while it holds the lock."""
        if self._thread is not None:
            return
        path = self.store.path if self.store is not None else ":memory:"
        if self._leader is None and path != ":memory:" and not path.startswith("file:"):
            self._leader = LeaderLock(lock_path(path))
            self._leader.try_acquire()  # the first engine of the host leads from its start
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="infertel-alerting", daemon=True)
        self._thread.start()

    def _follow(self) -> bool:
        """``True`` while another process leads: retry the lock (once per interval); take over when it is ours."""
        leader = self._leader
        if leader is None or leader.held:
            return False
        if not leader.try_acquire():
            try:
                self._refresh_silences(self._clock())  # for suppressed() and the pages of this process
            except Exception:
                _logger.exception("alerting: reading silences from the store failed")
            return True
        with self._round_lock:  # carry on from what the last leader left in the store
            self._states = [RuleState(state.spec) for state in self._states]
            self._restore()
        _logger.info("alerting: this process (pid %d) now leads alert evaluation (%s)", os.getpid(), leader.path)
        return False

    def _loop(self) -> None:
        next_round = time.monotonic()
        while not self._stop.is_set():
            if self._follow():
                self._stop.wait(self.interval_s)
                next_round = time.monotonic()
                continue
            late = time.monotonic() - next_round
            if late >= 0:
                next_round += self.interval_s
                # A round runs at its planned time, rounds exactly interval_s apart (as Prometheus evaluates at
                # aligned times): a round started a few ms late must not find `for` short by those ms, which
                # would fire one whole interval later.
                now = self._clock()
                try:
                    self.evaluate(now - late if late < self.interval_s else now)
                except Exception:
                    _logger.exception("alerting: evaluation round failed; the next round runs as planned")
            try:
                self.tick()
            except Exception:
                _logger.exception("alerting: notification dispatch failed")
            wake = next_round - time.monotonic()
            with self._round_lock:
                due = self.dispatcher.next_flush()
            if due is not None:  # a group's group_wait/group_interval ends before the next round: flush it then
                wake = min(wake, max(due - self._clock(), 0.01))
            self._stop.wait(max(0.0, min(1.0, wake)))

    def shutdown(self, timeout_millis: float = 5000) -> bool:
        """Stop the thread, then flush and stop the receivers' channels within ``timeout_millis``.

        Returns:
            ``True`` when the thread stopped in time and every channel delivered what it was given.
        """
        deadline = time.monotonic() + timeout_millis / 1000
        self._stop.set()
        thread, self._thread = self._thread, None
        ok = True
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
            ok = not thread.is_alive()
        if self._leader is not None and (thread is None or not thread.is_alive()):
            self._leader.release()
        for receiver in self.receivers.values():
            for channel in receiver.channels:
                stop = getattr(channel, "shutdown", None)
                if stop is None:
                    continue
                try:
                    ok = bool(stop(timeout_millis=max(0.0, (deadline - time.monotonic()) * 1000))) and ok
                except Exception:  # a channel's bug must not stop the others' shutdown
                    _logger.exception("alerting: channel %r failed to shut down", channel)
                    ok = False
        if self.store is not None and (thread is None or not thread.is_alive()):
            self.store.close()
        return ok
