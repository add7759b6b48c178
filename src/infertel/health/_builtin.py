"""Built-in checks: infertel's components, memory, disk, GPUs, event-loop lag, load shedding.

Each factory returns a :class:`~infertel.health.Check` whose data source is a parameter, so
tests feed canned readings (the way ``ProcessCollector(proc=...)`` does in prometheus_client).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from infertel import semconv
from infertel._internal.status import status
from infertel.health._looplag import EventLoopLagMonitor
from infertel.health._model import FAIL, PASS, READYZ, STARTUPZ, WARN, Check, CheckResult, worst
from infertel.health._shedding import LoadShedder, load_shedder

_STATE_STATUS = {"ok": PASS, "degraded": WARN, "failing": FAIL}
_READY = frozenset({READYZ, STARTUPZ})


def _infertel_status() -> Mapping[str, Any]:
    return status()


def _thresholds(setting: str, warn: float, fail: float) -> None:
    if not (0 < warn <= fail):
        raise ValueError(f"{setting}: warn={warn!r}, fail={fail!r}; expected 0 < warn <= fail")


def _level(value: float, warn: float, fail: float) -> str:
    return FAIL if value >= fail else WARN if value >= warn else PASS


def exporters_check(
    *,
    status: Callable[[], Mapping[str, Any]] = _infertel_status,
    backlog_warn: int = 10_000,
    backlog_fail: int | None = None,
    period_s: float = 5.0,
    critical: bool = False,
) -> Check:
    """``exporters:state``: every exporter's state from ``infertel.status()`` and the spool backlog.

    ``failing`` fails, ``degraded`` warns; a backlog (items not yet acknowledged by the collector)
    at or above ``backlog_warn`` warns, at or above ``backlog_fail`` fails. Observed value: the
    total backlog, ``{item}``. Not critical by default: a collector outage must not take the
    server out of rotation (the spool keeps the data).

    Example:
        >>> check = exporters_check(status=lambda: {})
        >>> check.fn().status
        'pass'
    """
    if backlog_fail is not None:
        _thresholds("exporters_check backlog", backlog_warn, backlog_fail)

    def run() -> CheckResult:
        found = status()
        statuses, notes, backlog = [], [], 0
        for name, component in sorted(found.items()):
            state = getattr(component, "state", "degraded")
            counts = getattr(component, "counts", {}) or {}
            backlog += int(counts.get("backlog", 0))
            statuses.append(_STATE_STATUS.get(state, WARN))
            if state != "ok":
                notes.append(f"{name} {state}")
        statuses.append(_level(backlog, backlog_warn, backlog_fail if backlog_fail is not None else float("inf")))
        if backlog >= backlog_warn:
            notes.append(f"backlog {backlog} items")
        output = "; ".join(notes) if notes else f"{len(found)} exporters ok"
        return CheckResult(worst(statuses), output, backlog, semconv.UNIT_ITEMS, "component")

    return Check("exporters:state", run, period_s=period_s, critical=critical, probes=_READY)


def store_check(
    *,
    status: Callable[[], Mapping[str, Any]] = _infertel_status,
    period_s: float = 10.0,
    critical: bool = False,
) -> Check:
    """``store:writable``: the embedded store writes (its state) and its folder is writable.

    Observed value: failed write transactions so far. Passes when no store is configured.

    Example:
        >>> store_check(status=lambda: {}).fn().output
        'no embedded store configured'
    """

    def run() -> CheckResult:
        stores = [c for c in status().values() if getattr(c, "kind", "") == "sqlite-store"]
        if not stores:
            return CheckResult(PASS, "no embedded store configured", component_type="datastore")
        statuses, notes, errors = [], [], 0
        for target in sorted({c.target for c in stores}):
            folder = os.path.dirname(os.path.abspath(target)) if target else ""
            if folder and not os.access(folder, os.W_OK):
                statuses.append(FAIL)
                notes.append(f"{folder} is not writable")
        for component in stores:
            errors += int(component.counts.get("errors", 0))
            statuses.append(_STATE_STATUS.get(component.state, WARN))
            if component.state != "ok":
                notes.append(f"{component.name} {component.state}")
        return CheckResult(worst(statuses), "; ".join(notes), errors, semconv.UNIT_ERRORS, "datastore")

    return Check("store:writable", run, period_s=period_s, critical=critical, probes=_READY)


def memory_check(
    *,
    warn: float = 0.90,
    fail: float = 0.95,
    source: Callable[[], Any] | None = None,
    period_s: float = 5.0,
    critical: bool = False,
) -> Check:
    """``memory:utilization``: the host's used memory fraction against thresholds.

    Args:
        warn: Fraction at which it warns.
        fail: Fraction at which it fails.
        source: Returns an object with ``percent`` (0-100), like ``psutil.virtual_memory``.
        period_s: See :class:`Check`.
        critical: See :class:`Check`.

    Example:
        >>> from types import SimpleNamespace
        >>> memory_check(source=lambda: SimpleNamespace(percent=93.0)).fn().status
        'warn'
    """
    _thresholds("memory_check", warn, fail)
    read = source if source is not None else _psutil("virtual_memory")

    def run() -> CheckResult:
        used = float(read().percent) / 100
        return CheckResult(_level(used, warn, fail), f"{used:.0%} used", round(used, 4), semconv.UNIT_RATIO, "system")

    return Check("memory:utilization", run, period_s=period_s, critical=critical, probes=_READY)


def disk_check(
    path: str | os.PathLike[str] | None = None,
    *,
    warn: float = 0.85,
    fail: float = 0.95,
    source: Callable[[str], Any] | None = None,
    period_s: float = 30.0,
    critical: bool = False,
) -> Check:
    """``disk:utilization``: the used fraction of the file system holding ``path`` (default: the store's).

    Example:
        >>> from types import SimpleNamespace
        >>> disk_check("/", source=lambda p: SimpleNamespace(percent=97.0)).fn().status
        'fail'
    """
    _thresholds("disk_check", warn, fail)
    read = source if source is not None else _psutil("disk_usage")

    def run() -> CheckResult:
        where = os.fspath(path) if path is not None else _store_folder()
        used = float(read(where).percent) / 100
        return CheckResult(
            _level(used, warn, fail), f"{used:.0%} used on {where}", round(used, 4), semconv.UNIT_RATIO, "system"
        )

    return Check("disk:utilization", run, period_s=period_s, critical=critical, probes=_READY)


def gpu_check(
    *,
    source: Any = None,
    memory_warn: float = 0.95,
    period_s: float = 10.0,
    critical: bool = True,
) -> Check:
    """``gpu:status``: every GPU answers (``hw.status``) and none is nearly out of memory.

    A device that stopped answering fails; memory at or above ``memory_warn`` warns. Without a
    GPU or NVML it passes ("no GPU"). Observed value: the number of GPUs that answer.

    Args:
        source: A :class:`infertel.resources.GpuSource` (default: NVML, initialised on the first run).
        memory_warn: Memory fraction at which it warns.
        period_s: See :class:`Check`.
        critical: See :class:`Check`.

    Example:
        >>> class NoGpu:
        ...     def devices(self): return ()
        >>> gpu_check(source=NoGpu()).fn().output
        'no GPU'
    """
    from infertel._internal.resources.nvml import GpuReadError, NvmlSource

    gpu_source = source if source is not None else NvmlSource()  # NVML itself starts on the first run

    def run() -> CheckResult:
        devices = list(gpu_source.devices())
        if not devices:
            return CheckResult(PASS, "no GPU", 0, "{gpu}", "system")
        statuses, notes, answering = [], [], 0
        for device in devices:
            try:
                reading = gpu_source.read(device)
            except GpuReadError:
                statuses.append(FAIL)
                notes.append(f"{device.name} does not answer")
                continue
            if reading.status != "ok":
                statuses.append(FAIL)
                notes.append(f"{device.name} {reading.status}")
                continue
            answering += 1
            used = reading.memory_utilization
            if used is not None and used >= memory_warn:
                statuses.append(WARN)
                notes.append(f"{device.name} memory {used:.0%}")
        return CheckResult(worst(statuses), "; ".join(notes), answering, "{gpu}", "system")

    return Check("gpu:status", run, period_s=period_s, critical=critical, probes=_READY)


def event_loop_lag_check(
    monitor: EventLoopLagMonitor,
    *,
    warn_s: float = 0.1,
    fail_s: float = 1.0,
    period_s: float = 1.0,
    critical: bool = False,
) -> Check:
    """``event_loop:lag``: how late the server's event loop runs (see :class:`EventLoopLagMonitor`).

    Passes with "not watching an event loop" until the monitor is started on one.

    Example:
        >>> event_loop_lag_check(EventLoopLagMonitor()).fn().output
        'not watching an event loop'
    """
    _thresholds("event_loop_lag_check", warn_s, fail_s)

    def run() -> CheckResult:
        lag = monitor.lag_s
        if lag is None:
            return CheckResult(PASS, "not watching an event loop", component_type="component")
        status = _level(lag, warn_s, fail_s)
        return CheckResult(status, f"{lag * 1000:.0f} ms late" if status != PASS else "", round(lag, 6), "s", "system")

    return Check("event_loop:lag", run, period_s=period_s, critical=critical, probes=_READY)


def load_shedding_check(shedder: LoadShedder = load_shedder) -> Check:
    """``load_shedding:active``: warns while load shedding refuses inference requests.

    Example:
        >>> load_shedding_check(LoadShedder()).fn().status
        'pass'
    """

    def run() -> CheckResult:
        if not shedder.active:
            return CheckResult(PASS, observed_value=shedder.rejected, observed_unit="{request}")
        holders = ", ".join(shedder.holders())
        return CheckResult(WARN, f"shedding load for {holders}", shedder.rejected, "{request}", "component")

    return Check("load_shedding:active", run, period_s=1.0, critical=False, probes=_READY)


def default_checks(
    *, monitor: EventLoopLagMonitor | None = None, shedder: LoadShedder = load_shedder, gpu: bool = True
) -> list[Check]:
    """The built-in checks: exporters, store, memory, disk, GPUs, event-loop lag, load shedding.

    Example:
        >>> sorted(check.name for check in default_checks(gpu=False))[:2]
        ['disk:utilization', 'event_loop:lag']
    """
    checks = [exporters_check(), store_check(), memory_check(), disk_check(), load_shedding_check(shedder)]
    checks.append(event_loop_lag_check(monitor or EventLoopLagMonitor()))
    if gpu:
        checks.append(gpu_check())
    return checks


def _store_folder() -> str:
    for component in _infertel_status().values():
        if getattr(component, "kind", "") == "sqlite-store" and component.target:
            return os.path.dirname(os.path.abspath(component.target))
    return os.path.abspath(os.sep)


def _psutil(name: str) -> Any:
    # Called by the check factories, on the thread that builds the checks, not by the checks on the
    # registry's threads: a fork() during an import on another thread leaves that module's lock held.
    import psutil

    return getattr(psutil, name)


def names(checks: Iterable[Check]) -> list[str]:
    """The names of ``checks``, sorted.

    Example:
        >>> names([load_shedding_check(LoadShedder())])
        ['load_shedding:active']
    """
    return sorted(check.name for check in checks)
