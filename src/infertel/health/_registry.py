"""The registry of health checks: runs them in the background and keeps each probe's report ready.

Probes never run a check: a daemon thread starts each check when its period is due (on a small
thread pool; an async check runs on an event loop of that worker thread), marks a run that
outlives its timeout as failed, and re-renders the three probe reports whenever a result or a
gate changes. A probe reads one attribute.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from infertel.health._looplag import EventLoopLagMonitor
from infertel.health._model import (
    FAIL,
    LIVEZ,
    PASS,
    PROBES,
    READYZ,
    STARTUPZ,
    Check,
    CheckFunction,
    CheckResult,
    Observation,
    coerce_result,
)
from infertel.health._render import ProbeReport, build_report

_logger = logging.getLogger(__name__)

_TICK_S = 0.05
"""Longest sleep of the scheduler thread (also its heartbeat period)."""
_HEARTBEAT_STALE_S = 5.0
"""``livez`` fails when the scheduler thread has not beaten for this long (a wedged process)."""
_OUTPUT_MAX = 300


class _State:
    __slots__ = ("check", "observation", "future", "started", "timed_out", "next_due")

    def __init__(self, check: Check) -> None:
        self.check = check
        self.observation = Observation(check, None)
        self.future: Future[Any] | None = None
        self.started = 0.0
        self.timed_out = False
        self.next_due = 0.0


class HealthRegistry:
    """Health checks, refreshed in the background, and the cached verdicts of the three probes.

    Threading: every method is thread-safe. Checks run on the registry's own threads; a check
    that raises counts as ``fail`` (its exception type and message, cut to 300 characters, are the
    output), one that outlives ``timeout_millis`` counts as ``fail`` ("timed out") and is not
    started again until it returns. Probes (:meth:`report`) only read what is cached.

    Args:
        checks: Checks to start with (see :meth:`add`).
        gates: Gates to start with, closed (see :meth:`add_gate`).
        max_workers: Threads running checks at the same time.
        service: ``version``, ``serviceId``, ``releaseId`` for the JSON body.
        event_loop_monitor: The monitor the ``event_loop:lag`` check reads; the HTTP views start
            it on the server's loop.

    Example:
        >>> registry = HealthRegistry()
        >>> registry.add(lambda: True, name="cache:size")  # doctest: +ELLIPSIS
        Check(name='cache:size', ...)
        >>> registry.add_gate("model-loaded")
        >>> registry.start()
        >>> registry.open_gate("model-loaded")              # the app, once its model is loaded
        >>> registry.report("readyz").http_status           # doctest: +SKIP
        200
        >>> registry.stop()
        True
    """

    def __init__(
        self,
        *,
        checks: Iterable[Check] = (),
        gates: Iterable[str] = (),
        max_workers: int = 4,
        service: Mapping[str, str] | None = None,
        event_loop_monitor: EventLoopLagMonitor | None = None,
    ) -> None:
        if not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"HealthRegistry.max_workers: {max_workers!r}; expected an integer >= 1")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._states: dict[str, _State] = {}
        self._gates: dict[str, tuple[bool, bool]] = {}
        self._draining = False
        self._service = dict(service or {})
        self.event_loop_monitor = event_loop_monitor
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._heartbeat = time.monotonic()
        self._reports: dict[str, ProbeReport] = {}
        self._dead_livez: ProbeReport | None = None
        for check in checks:
            self.add_check(check)
        for gate in gates:
            self.add_gate(gate)
        self._render()

    # -- definition ---------------------------------------------------------------------------
    def add_check(self, check: Check) -> Check:
        """Register ``check`` (replacing one of the same name); it runs at the next tick.

        Example:
            >>> HealthRegistry().add_check(Check("disk:free", lambda: True)).name
            'disk:free'
        """
        if not isinstance(check, Check):
            raise ValueError(f"HealthRegistry.add_check: expected a Check, got {type(check).__name__}")
        with self._lock:
            self._states[check.name] = _State(check)
        self._changed()
        return check

    def add(
        self,
        fn: CheckFunction | None = None,
        *,
        name: str | None = None,
        timeout_millis: float = 1_000,
        period_s: float = 10.0,
        critical: bool = True,
        probes: Iterable[str] = (READYZ, STARTUPZ),
    ) -> Any:
        """Register a check function; also usable as a decorator (``@registry.add(name=...)``).

        Args:
            fn: The check (sync or async, no argument), returning a :class:`CheckResult` or a bool.
            name: Its key (default: the function's name).
            timeout_millis: See :class:`Check`.
            period_s: See :class:`Check`.
            critical: See :class:`Check`.
            probes: See :class:`Check`.

        Example:
            >>> registry = HealthRegistry()
            >>> @registry.add(name="queue:depth", period_s=5, critical=False)
            ... def queue_depth():
            ...     return CheckResult("pass", observed_value=3, observed_unit="{request}")
        """

        def register(function: CheckFunction) -> Any:
            self.add_check(
                Check(
                    str(name or getattr(function, "__name__", "check")),
                    function,
                    timeout_millis=timeout_millis,
                    period_s=period_s,
                    critical=critical,
                    probes=frozenset(probes),
                )
            )
            return function

        if fn is None:
            return register
        register(fn)
        return self._states[str(name or getattr(fn, "__name__", "check"))].check

    def remove(self, name: str) -> None:
        """Forget the check ``name`` (no error if unknown).

        Example:
            >>> HealthRegistry().remove("disk:free")
        """
        with self._lock:
            self._states.pop(name, None)
        self._changed()

    def add_gate(self, name: str) -> None:
        """Declare a gate, closed: ``readyz`` and ``startupz`` fail until :meth:`open_gate`.

        A gate is how the application says "my model is loaded" (or warmed up, or migrated).

        Example:
            >>> HealthRegistry().add_gate("model-loaded")
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"HealthRegistry.add_gate: {name!r}; expected a non-empty name")
        with self._lock:
            self._gates.setdefault(name, (False, False))
        self._render()

    def open_gate(self, name: str) -> None:
        """Open a gate (declaring it if needed): readiness may pass, startup latches once all opened.

        Example:
            >>> HealthRegistry(gates=["model-loaded"]).open_gate("model-loaded")
        """
        with self._lock:
            self._gates[name] = (True, True)
        self._render()

    def close_gate(self, name: str) -> None:
        """Close a gate again (reloading a model): readiness fails; startup stays passed.

        Example:
            >>> HealthRegistry(gates=["model-loaded"]).close_gate("model-loaded")
        """
        with self._lock:
            _, opened_once = self._gates.get(name, (False, False))
            self._gates[name] = (False, opened_once)
        self._render()

    def drain(self) -> None:
        """Fail ``readyz`` from now on (a graceful shutdown: stop receiving traffic first).

        Example:
            >>> HealthRegistry().drain()
        """
        with self._lock:
            self._draining = True
        self._render()

    # -- running ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the background refresher runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called after the last :meth:`start` (a registry never started is not)."""
        return self._stopping.is_set()

    def start(self) -> None:
        """Start refreshing in the background (idempotent).

        Example:
            >>> registry = HealthRegistry(); registry.start(); registry.stop()
            True
        """
        with self._lock:
            if self.running:
                return
            self._stopping.clear()
            self._heartbeat = time.monotonic()
            self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="infertel-health-check")
            self._thread = threading.Thread(target=self._loop, name="infertel-health", daemon=True)
            self._thread.start()

    def stop(self, timeout_millis: float = 5_000) -> bool:
        """Stop refreshing; ``False`` when a check was still running at the deadline.

        Example:
            >>> HealthRegistry().stop()
            True
        """
        self._stopping.set()
        self._wake.set()
        thread, executor = self._thread, self._executor
        deadline = time.monotonic() + max(timeout_millis, 0) / 1000
        if thread is not None:
            thread.join(max(deadline - time.monotonic(), 0))
        clean = True
        with self._lock:
            for state in self._states.values():
                if state.future is not None and not state.future.done():
                    clean = False
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        self._thread = self._executor = None
        return clean and (thread is None or not thread.is_alive())

    def refresh(self, timeout_millis: float = 10_000) -> bool:
        """Run every check now and wait for the results (startup code and tests); ``False`` on timeout.

        Example:
            >>> registry = HealthRegistry(checks=[Check("x:y", lambda: True)])
            >>> registry.start(); registry.refresh(); registry.stop()
            True
            True
        """
        if not self.running:
            self.start()
        with self._lock:
            for state in self._states.values():
                state.next_due = 0.0
            names = list(self._states)
        self._wake.set()
        deadline = time.monotonic() + timeout_millis / 1000
        requested = time.time_ns()
        while time.monotonic() < deadline:
            with self._lock:
                pending = [
                    n for n in names if n in self._states and self._states[n].observation.time_unix_nano < requested
                ]
            if not pending:
                return True
            time.sleep(0.005)
        return False

    # -- probes -------------------------------------------------------------------------------
    def report(self, probe: str) -> ProbeReport:
        """The cached verdict of ``probe`` (``livez``, ``readyz`` or ``startupz``); nothing runs.

        ``livez`` also fails when the refresher thread has not beaten for 5 s while it should run
        (a wedged process).

        Example:
            >>> HealthRegistry().report("livez").status
            'pass'
        """
        if probe == LIVEZ and self._thread is not None and time.monotonic() - self._heartbeat > _HEARTBEAT_STALE_S:
            return self._stale_livez()
        return self._reports[probe]

    def observations(self) -> dict[str, Observation]:
        """The latest observation of every check, by name (for pages and APIs).

        Example:
            >>> HealthRegistry().observations()
            {}
        """
        with self._lock:
            return {name: state.observation for name, state in self._states.items()}

    # -- internals ----------------------------------------------------------------------------
    def _stale_livez(self) -> ProbeReport:
        if self._dead_livez is None:
            self._dead_livez = build_report(
                LIVEZ, (), {}, extra={"infertel:refresher": (FAIL, "the health refresher stopped beating")}
            )
        return self._dead_livez

    def _changed(self) -> None:
        self._render()
        self._wake.set()

    def _render(self) -> None:
        with self._lock:
            observations = [state.observation for state in self._states.values()]
            gates = dict(self._gates)
            draining = self._draining
        reports = {}
        for probe in PROBES:
            considered = [o for o in observations if probe in o.check.probes]
            extra = {"infertel:draining": (FAIL, "shutting down")} if draining and probe == READYZ else None
            reports[probe] = build_report(probe, considered, gates, extra=extra, service=self._service)
        self._reports = reports  # one assignment: a probe sees the old or the new set, whole

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._heartbeat = now = time.monotonic()
            changed = False
            with self._lock:
                states = list(self._states.values())
            for state in states:
                changed |= self._tend(state, now)
            if changed:
                self._render()
            with self._lock:
                next_due = min((s.next_due for s in self._states.values()), default=now + _TICK_S)
            self._wake.wait(min(max(next_due - time.monotonic(), 0.0), _TICK_S))
            self._wake.clear()

    def _tend(self, state: _State, now: float) -> bool:
        future = state.future
        if future is not None:
            if future.done():
                state.future = None
                if not state.timed_out:
                    self._record(state, _outcome(future), now - state.started)
                    return True
                return False
            if not state.timed_out and now - state.started > state.check.timeout_millis / 1000:
                state.timed_out = True
                ms = state.check.timeout_millis
                self._record(state, CheckResult(FAIL, f"timed out after {ms:g} ms"), now - state.started)
                return True
            return False
        if now >= state.next_due and self._executor is not None:
            state.started, state.timed_out = now, False
            state.next_due = now + state.check.period_s
            try:
                state.future = self._executor.submit(_run, state.check)
            except RuntimeError:  # shutting down
                return False
        return False

    def _record(self, state: _State, result: CheckResult, duration_s: float) -> None:
        with self._lock:
            previous = state.observation
            state.observation = Observation(
                state.check,
                result,
                time_unix_nano=time.time_ns(),
                duration_s=duration_s,
                passed_once=previous.passed_once or result.status == PASS,
            )
        if previous.result is None or previous.result.status != result.status:
            _logger.info("infertel health: %s is %s%s", state.check.name, result.status, _suffix(result))


def _suffix(result: CheckResult) -> str:
    return f" ({result.output})" if result.output else ""


def _run(check: Check) -> Any:
    value = check.fn()
    if inspect.isawaitable(value):
        value = asyncio.run(_await(value, check.timeout_millis / 1000))
    return value


async def _await(awaitable: Any, timeout_s: float) -> Any:
    return await asyncio.wait_for(awaitable, timeout_s)


def _outcome(future: Future[Any]) -> CheckResult:
    exc = future.exception()
    if exc is None:
        try:
            return coerce_result(future.result())
        except TypeError as error:
            return CheckResult(FAIL, str(error))
    if isinstance(exc, asyncio.TimeoutError):
        return CheckResult(FAIL, "timed out")
    text = f"{type(exc).__name__}: {exc}"
    return CheckResult(FAIL, text if len(text) <= _OUTPUT_MAX else text[: _OUTPUT_MAX - 1] + "…")
