"""Scheduled actions: the remediation machinery on a clock (interval or daily time).

Proactive maintenance (store compaction, spool cleanup) and any user callback run on the
scheduler's daemon thread, each run under its time limit and recorded like a remediation: a
span (``infertel.remediation <name>``, trigger ``schedule``), an entry in the alert history
(``engine.record("schedule:<name>", "scheduled_action", ...)``) and :attr:`Scheduler.runs`.

Example:
    >>> from infertel.alerting.schedule import Scheduler, compact_store
    >>> scheduler = Scheduler()
    >>> _ = scheduler.add("compact-store", compact_store("/var/lib/infertel/telemetry.db"), daily_at="03:30")
    >>> _ = scheduler.add("warm-cache", lambda: "warmed", every_s=600)
    >>> scheduler.start()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import fcntl
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import trace

from infertel import semconv
from infertel._internal.errors import warn_rate_limited
from infertel.alerting._runs import BUSY, FAILED, TIMEOUT, Run, execute
from infertel.version import __version__

_logger = logging.getLogger(__name__)

_TICK_S = 0.5


def _parse_daily(value: str) -> datetime.time:
    try:
        hours, minutes = value.split(":")
        return datetime.time(int(hours), int(minutes))
    except (ValueError, AttributeError):
        raise ValueError(f"daily_at: {value!r}; expected 'HH:MM' (24-hour clock)") from None


@dataclass
class ScheduledAction:
    """One scheduled action (see :meth:`Scheduler.add`).

    Attributes:
        name: Its name (span, history).
        fn: Called with no argument; its return value (as text) is the run's message.
        every_s: Seconds between runs (interval schedule), or ``None``.
        daily_at: Time of day of a daily run, or ``None``.
        timezone: The time zone of ``daily_at``.
        timeout_millis: Time limit of one run.
        dry_run: Record what would be done, do nothing.
        next_due: Wall-clock Unix seconds of the next run.
    """

    name: str
    fn: Callable[[], Any]
    every_s: float | None = None
    daily_at: datetime.time | None = None
    timezone: datetime.tzinfo = datetime.timezone.utc
    timeout_millis: float = 60_000
    dry_run: bool = False
    next_due: float = 0.0
    worker_busy: list[bool] = field(default_factory=lambda: [False])

    def following(self, now: float) -> float:
        """The first due time strictly after ``now`` (wall-clock Unix seconds)."""
        if self.every_s is not None:
            return now + self.every_s
        assert self.daily_at is not None
        local = datetime.datetime.fromtimestamp(now, tz=self.timezone)
        candidate = local.replace(hour=self.daily_at.hour, minute=self.daily_at.minute, second=0, microsecond=0)
        if candidate.timestamp() <= now:
            candidate += datetime.timedelta(days=1)
        return candidate.timestamp()


class Scheduler:
    """Runs scheduled actions on a daemon thread, recording each run.

    Threading and exceptions: :meth:`add`, :meth:`start`, :meth:`run_now` and :meth:`shutdown`
    may be called from any thread. Runs are sequential on the scheduler's thread, each on a fresh
    thread under its time limit (a run past it is ``timeout``; while it still runs, the action's
    next run is ``busy``). An action raising is a ``failed`` run, logged (rate-limited) and
    recorded; nothing is raised. Under a prefork server, a scheduler given an ``engine`` that does
    not lead (another process of the host holds the alert engines' lock, ``engine.leading``) leaves
    its due runs to the leading process, so each runs once per host; :meth:`run_now` always runs.

    Args:
        engine: An object with ``record(subject, kind, message)`` (the :class:`AlertEngine`) for the
            history, or ``None``.
        tracer_provider: Where the spans go (default: the global provider).
        clock: Wall-clock seconds (injected in tests).

    Example:
        >>> scheduler = Scheduler()
        >>> _ = scheduler.add("hello", lambda: "hi", every_s=3600)
        >>> scheduler.run_now("hello").outcome
        'ok'
    """

    def __init__(
        self, *, engine: Any = None, tracer_provider: Any = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._record = getattr(engine, "record", None)
        self._engine = engine
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(
            semconv.INSTRUMENTATION_SCOPE, __version__, schema_url=semconv.SCHEMA_URL
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._actions: dict[str, ScheduledAction] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs: deque[Run] = deque(maxlen=200)
        """The newest runs of every action, oldest first."""

    def add(
        self,
        name: str,
        fn: Callable[[], Any],
        *,
        every_s: float | None = None,
        daily_at: str | None = None,
        timezone: datetime.tzinfo = datetime.timezone.utc,
        timeout_millis: float = 60_000,
        dry_run: bool = False,
    ) -> ScheduledAction:
        """Schedule ``fn`` every ``every_s`` seconds or daily at ``daily_at`` (``"HH:MM"`` in ``timezone``).

        Raises:
            ValueError: Neither or both of ``every_s`` and ``daily_at``, a bad value, a duplicate name.

        Example:
            >>> Scheduler().add("spool-cleanup", lambda: None, every_s=3600).every_s
            3600
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"scheduled action name: {name!r}; expected a non-empty string")
        if not callable(fn):
            raise ValueError(f"scheduled action {name!r}: fn must be callable")
        if (every_s is None) == (daily_at is None):
            raise ValueError(f"scheduled action {name!r}: give exactly one of every_s and daily_at")
        if every_s is not None and not (isinstance(every_s, (int, float)) and every_s > 0):
            raise ValueError(f"scheduled action {name!r}: every_s={every_s!r}; expected a number > 0")
        if not (isinstance(timeout_millis, (int, float)) and timeout_millis > 0):
            raise ValueError(f"scheduled action {name!r}: timeout_millis={timeout_millis!r}; expected a number > 0")
        action = ScheduledAction(
            name,
            fn,
            every_s,
            _parse_daily(daily_at) if daily_at is not None else None,
            timezone,
            timeout_millis,
            dry_run,
        )
        action.next_due = action.following(self._clock())
        with self._lock:
            if name in self._actions:
                raise ValueError(f"scheduled action {name!r} already exists")
            self._actions[name] = action
        return action

    def start(self) -> None:
        """Start the scheduler's thread (idempotent).

        Example:
            >>> scheduler = Scheduler(); scheduler.start(); scheduler.shutdown()
            True
        """
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="infertel-scheduler", daemon=True)
            self._thread.start()

    def shutdown(self, timeout_millis: float = 5_000) -> bool:
        """Stop the thread; ``True`` when it stopped in time.

        Example:
            >>> Scheduler().shutdown()
            True
        """
        self._stop.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_millis / 1000)
        return not thread.is_alive()

    def run_now(self, name: str) -> Run:
        """Run the action ``name`` now on this thread and record it (also what the clock does).

        Raises:
            KeyError: No such action.

        Example:
            >>> scheduler = Scheduler(); _ = scheduler.add("x", lambda: 1, every_s=60)
            >>> scheduler.run_now("x").message
            '1'
        """
        with self._lock:
            action = self._actions[name]
        subject = f"schedule:{action.name}"
        if action.worker_busy[0]:
            run = Run(action.name, "schedule", subject, BUSY, "the previous run is still going", time.time_ns(), 0.0)
        else:
            busy = action.worker_busy

            def guarded() -> Any:
                busy[0] = True
                try:
                    return action.fn()
                finally:
                    busy[0] = False

            run = execute(
                guarded,
                name=action.name,
                trigger="schedule",
                subject=subject,
                timeout_s=action.timeout_millis / 1000,
                tracer=self._tracer,
                attributes={},
                dry_run=action.dry_run,
                what=f"run {action.name}",
            )
        self.runs.append(run)
        if run.outcome in (FAILED, TIMEOUT):
            warn_rate_limited(
                ("scheduled-failed", action.name),
                "infertel alerting: scheduled action %s: %s: %s",
                action.name,
                run.outcome,
                run.message,
            )
        if self._record is not None:
            try:
                self._record(
                    subject,
                    "scheduled_action",
                    f"{action.name}: {run.outcome}" + (f": {run.message}" if run.message else ""),
                )
            except Exception as exc:  # the history store failing must not stop the schedule
                warn_rate_limited(
                    ("scheduled-history",), "infertel alerting: recording a scheduled run failed: %r", exc
                )
        return run

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = self._clock()
            with self._lock:
                due = [a for a in self._actions.values() if a.next_due <= now]
            leads = bool(getattr(self._engine, "leading", True))  # else another process of the host runs them
            for action in sorted(due, key=lambda a: a.next_due):
                action.next_due = action.following(max(now, action.next_due))
                if leads:
                    self.run_now(action.name)
            self._stop.wait(_TICK_S)


# --- built-in maintenance --------------------------------------------------------------------


def compact_store(path: str | os.PathLike[str], *, timeout_millis: float = 30_000) -> Callable[[], str]:
    """A job that compacts an SQLite store: incremental vacuum, then a WAL checkpoint (truncate).

    Safe beside running writers (SQLite's own locking; it waits up to ``timeout_millis``).

    Example:
        >>> job = compact_store("/tmp/infertel.db")
    """
    target = os.fspath(path)

    def run() -> str:
        before = _size(target)
        connection = sqlite3.connect(target, timeout=timeout_millis / 1000, isolation_level=None)
        try:
            freelist = connection.execute("PRAGMA freelist_count").fetchone()[0]
            # executescript steps the pragma to the end (execute() frees one page per step).
            connection.executescript("PRAGMA incremental_vacuum;")
            # In WAL mode the file shrinks when the WAL is checkpointed: after the vacuum.
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            connection.close()
        after = _size(target)
        note = " (checkpoint blocked by a reader)" if busy else ""
        return f"freed {freelist} pages; {before} -> {after} bytes{note}"

    return run


def clean_spool(directory: str | os.PathLike[str] | None = None) -> Callable[[], str]:
    """A job that removes the spool lanes of ended processes that hold no data any more.

    A lane whose ``lock`` no live process holds and whose segments are all empty is deleted;
    a lane with data is left for the durable exporter to adopt and send. Default directory: the
    durable exporter's (``INFERTEL_SPOOL_DIR``).

    Example:
        >>> job = clean_spool("/var/lib/infertel/spool")
    """
    # Imported here, not in run() on the scheduler's thread: a fork() during an import on another
    # thread leaves the child's lock of that module held for ever.
    from infertel_exporters.durable import default_spool_dir

    def run() -> str:
        root = Path(directory) if directory is not None else Path(default_spool_dir())
        removed = 0
        for lock in sorted(root.rglob("lock")) if root.exists() else []:
            lane = lock.parent
            if any(segment.stat().st_size > 0 for segment in lane.glob("*.seg")):
                continue
            try:
                with open(lock, "a") as handle:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    shutil.rmtree(lane)
                removed += 1
            except OSError:
                continue  # a live process owns it
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0
        return f"removed {removed} empty lane(s) of ended processes; the spool holds {size} bytes"

    return run


def _size(path: str) -> int:
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += os.path.getsize(path + suffix)
        except OSError:
            pass
    return total
