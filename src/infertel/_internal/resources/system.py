"""System and process metrics through ``opentelemetry-instrumentation-system-metrics``.

We wire the upstream instrumentation rather than copy it, with a measured default set: the
full upstream set costs about 18 ms of CPU per collection, 14 ms of it counting network
connections (``system.network.connections`` walks every socket of every process). The default
set below costs about 1.6 ms on a 2-core host (see ``benchmarks/resources.py``). The rest is
opt-in by name, or ``"all"``. ``system.cpu.*`` is reported host-wide by default (one point per
state) rather than upstream's one point per state per logical CPU, whose cost grows with the
core count; ``per_cpu=True`` restores it. ``system.disk.*`` leaves out loop, ram and zram
devices (snap mounts and RAM disks, often a dozen series of noise).
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import psutil
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

from infertel import semconv
from infertel._internal.errors import handle_internal_errors
from infertel._internal.resources.host import ABSENT_ERRORS

_logger = logging.getLogger(__name__)

DEFAULT_SYSTEM_METRICS: tuple[str, ...] = (
    semconv.SYSTEM_CPU_UTILIZATION,
    semconv.SYSTEM_MEMORY_USAGE,
    semconv.SYSTEM_MEMORY_UTILIZATION,
    semconv.SYSTEM_DISK_IO,
    semconv.SYSTEM_DISK_OPERATIONS,
    semconv.SYSTEM_NETWORK_IO,
    semconv.PROCESS_CPU_UTILIZATION,
    semconv.PROCESS_CPU_TIME,
    semconv.PROCESS_MEMORY_USAGE,
    semconv.PROCESS_MEMORY_VIRTUAL,
    semconv.PROCESS_THREAD_COUNT,
    semconv.PROCESS_OPEN_FILE_DESCRIPTOR_COUNT,
    semconv.PROCESS_DISK_IO,
)
"""The system/process metrics on by default: cheap, and what inference dashboards plot.

Opt-in (by name or ``"all"``): ``system.cpu.time`` (one series per CPU and state),
``system.network.connections`` (costly), ``system.swap.*``, ``system.disk.time``,
``system.network.packets`` / ``errors`` / ``dropped.packets``, ``process.context_switches``,
``cpython.gc.*``, the deprecated ``process.runtime.*`` and ``system.thread_count``.
"""

# Keyword values accepted in place of a list.
DEFAULT = "default"
ALL = "all"

_OTEL_EXCLUDED = "OTEL_PYTHON_SYSTEM_METRICS_EXCLUDED_METRICS"


def upstream_config() -> dict[str, list[str] | None] | None:
    """Every metric the upstream instrumentation offers, with its default label values.

    ``None`` when ``opentelemetry-instrumentation-system-metrics`` is not installed.
    """
    try:
        from opentelemetry.instrumentation.system_metrics import _DEFAULT_CONFIG
    except ImportError:
        return None
    return {name: (list(labels) if labels is not None else None) for name, labels in _DEFAULT_CONFIG.items()}


def resolve_system_metrics(
    value: str | Sequence[str] | Mapping[str, Sequence[str] | None] | bool | None,
    available: Mapping[str, list[str] | None],
    *,
    setting: str = "system_metrics",
) -> dict[str, list[str] | None]:
    """Turn the user's choice into the upstream ``config`` mapping.

    ``None`` / ``"default"``: :data:`DEFAULT_SYSTEM_METRICS`; ``"all"``: everything upstream offers;
    a list of names (``"default"`` and ``"all"`` may appear in it); a mapping name -> label values
    (upstream's own ``config`` form); ``False`` or empty: none. Patterns in
    ``OTEL_PYTHON_SYSTEM_METRICS_EXCLUDED_METRICS`` are honoured as upstream does.

    Raises:
        ValueError: Naming ``setting``, an unknown metric and the accepted names.
    """
    if value is None or value is True:
        value = DEFAULT
    if value is False:
        return {}
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (Mapping, Sequence)):
        raise ValueError(f"{setting}={value!r}: expected 'default', 'all', a list of metric names, a mapping or False")
    chosen: dict[str, list[str] | None] = {}
    if isinstance(value, Mapping):
        items: Iterable[tuple[str, Any]] = value.items()
    else:
        items = []
        for name in value:
            if name == DEFAULT:
                items = [*items, *((n, available.get(n)) for n in DEFAULT_SYSTEM_METRICS if n in available)]
            elif name == ALL:
                items = [*items, *available.items()]
            else:
                items = [*items, (name, available.get(name))]
    for name, labels in items:
        if name not in available:
            accepted = ", ".join([DEFAULT, ALL, *sorted(available)])
            raise ValueError(f"{setting}: unknown system metric {name!r}; accepted: {accepted}")
        chosen[name] = list(labels) if labels is not None else None
    excluded = [p.strip() for p in os.environ.get(_OTEL_EXCLUDED, "").split(",") if p.strip()]
    return {name: labels for name, labels in chosen.items() if not any(fnmatch.fnmatch(name, p) for p in excluded)}


_VIRTUAL_DISKS = ("loop", "ram", "zram")


def _physical_disks_only(
    callback: Callable[[CallbackOptions], Iterable[Observation]],
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    """Drop loop, ram and zram devices from ``system.disk.*`` (snap mounts, RAM disks: not disks)."""

    def filtered(options: CallbackOptions) -> Iterable[Observation]:
        for observation in callback(options):
            device = (observation.attributes or {}).get("device")
            if not (isinstance(device, str) and device.startswith(_VIRTUAL_DISKS)):
                yield observation

    return filtered


def _host_wide(instrumentor: Any, which: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
    """``system.cpu.utilization`` / ``system.cpu.time`` for the whole host, one point per state."""
    key = semconv.SYSTEM_CPU_UTILIZATION if which == "utilization" else semconv.SYSTEM_CPU_TIME

    def callback(options: CallbackOptions) -> Iterable[Observation]:
        if which == "utilization":
            times, scale = psutil.cpu_times_percent(percpu=False), 0.01
        else:
            times, scale = psutil.cpu_times(percpu=False), 1.0
        for state in instrumentor._config[key] or ():
            if hasattr(times, state):
                yield Observation(getattr(times, state) * scale, {**instrumentor._labels, "state": state})

    return callback


class _UcumMeter:
    """Creates upstream's instruments with the UCUM unit of :data:`semconv.SYSTEM_METRICS_UNITS`."""

    def __init__(self, meter: Meter) -> None:
        self._meter = meter

    def _fixed(self, create: Callable[..., Any], name: str, *args: Any, **kwargs: Any) -> Any:
        unit = semconv.SYSTEM_METRICS_UNITS.get(name)
        if unit is not None:
            kwargs["unit"] = unit
        return create(name, *args, **kwargs)

    def create_observable_counter(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._fixed(self._meter.create_observable_counter, name, *args, **kwargs)

    def create_observable_gauge(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._fixed(self._meter.create_observable_gauge, name, *args, **kwargs)

    def create_observable_up_down_counter(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._fixed(self._meter.create_observable_up_down_counter, name, *args, **kwargs)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._meter, attribute)


class _UcumMeterProvider:
    """Hands upstream a :class:`_UcumMeter` (upstream asks its provider for one meter)."""

    def __init__(self, provider: MeterProvider) -> None:
        self._provider = provider

    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        return _UcumMeter(self._provider.get_meter(*args, **kwargs))


class SystemMetricsCollector:
    """The upstream ``SystemMetricsInstrumentor`` on one MeterProvider, with our guard around it.

    A private instrumentor instance is used (upstream's is a process-wide singleton), so several
    providers (tests, a reconfigure) each get their own. Every upstream callback is wrapped: it
    runs inside ``handle_internal_errors``; ``psutil.AccessDenied`` (or a call missing on this
    platform) turns that callback off for good with one log line, so the metric is absent and
    nothing is slowed; after ``os.fork()`` the child reports itself, not its parent. Instruments
    upstream creates without a unit or with a non-UCUM one get the UCUM unit
    (``process.thread.count``: ``{thread}``, ``system.disk.operations``: ``{operation}`` ...).
    Attribute names are upstream's (``state``, ``device``, ``direction``, ``cpu``).

    Threading: the callbacks run on the metric reader's thread; upstream keeps no shared state
    beyond psutil's own. Exceptions: none reach the SDK.

    Args:
        meter_provider: Where the instruments are created.
        metrics: Upstream ``config``: metric name -> label values (see :func:`resolve_system_metrics`).
        process: A ``psutil.Process``-like object for this process; default ``psutil.Process()``.
        per_cpu: Report ``system.cpu.utilization`` / ``system.cpu.time`` per logical CPU (upstream's
            ``cpu`` attribute) instead of host-wide.

    Example:
        >>> collector = SystemMetricsCollector(meter_provider, {"process.memory.usage": None})
        >>> collector.shutdown()
    """

    def __init__(
        self,
        meter_provider: MeterProvider,
        metrics: Mapping[str, list[str] | None],
        *,
        process: Any = None,
        per_cpu: bool = False,
    ) -> None:
        from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

        self._stopped = False
        self._absent: set[str] = set()
        self._injected = process is not None
        self._pid = os.getpid()
        config = dict(metrics)
        instrumentor = object.__new__(SystemMetricsInstrumentor)  # not the process-wide singleton
        SystemMetricsInstrumentor.__init__(instrumentor, config=config)
        if process is not None:
            instrumentor._proc = process
        self._instrumentor = instrumentor
        if semconv.PROCESS_CONTEXT_SWITCHES in config or "process.runtime.context_switches" in config:
            # Upstream probes this at setup and only expects NotImplementedError.
            try:
                instrumentor._proc.num_ctx_switches()
            except ABSENT_ERRORS as exc:
                _logger.info("infertel: process context switches are absent on this host: %r", exc)
                config.pop(semconv.PROCESS_CONTEXT_SWITCHES, None)
                config.pop("process.runtime.context_switches", None)
        if not per_cpu:
            # Upstream reports system.cpu.* per logical CPU: with 4 states that is 4 series per
            # core, over 500 on a 128-core host and the bulk of the collection cost. One
            # host-wide figure per state is the default; per_cpu=True restores upstream's.
            setattr(instrumentor, "_get_system_cpu_utilization", _host_wide(instrumentor, "utilization"))  # noqa: B010
            setattr(instrumentor, "_get_system_cpu_time", _host_wide(instrumentor, "time"))  # noqa: B010
        for attribute in ("_get_system_disk_io", "_get_system_disk_operations", "_get_system_disk_time"):
            setattr(instrumentor, attribute, _physical_disks_only(getattr(instrumentor, attribute)))
        for attribute in dir(instrumentor):
            if attribute.startswith("_get_"):
                setattr(instrumentor, attribute, self._guard(attribute, getattr(instrumentor, attribute)))
        instrumentor._instrument(meter_provider=_UcumMeterProvider(meter_provider))
        self.metrics: tuple[str, ...] = tuple(config)
        """The upstream metric names (config keys) this collector reports."""

    def shutdown(self) -> None:
        """Stop reporting (instruments cannot be removed from a MeterProvider; they go quiet)."""
        self._stopped = True

    def _guard(
        self, name: str, callback: Callable[[CallbackOptions], Iterable[Observation]]
    ) -> Callable[[CallbackOptions], list[Observation]]:
        what = name[len("_get_") :].replace("_", " ")

        def guarded(options: CallbackOptions) -> list[Observation]:
            if self._stopped or name in self._absent:
                return []
            with handle_internal_errors:
                if not self._injected and os.getpid() != self._pid:
                    self._pid = os.getpid()
                    self._instrumentor._proc = psutil.Process()
                try:
                    return list(callback(options))
                except ABSENT_ERRORS as exc:
                    self._absent.add(name)
                    _logger.warning("infertel: the %s metric is absent on this host: %r", what, exc)
            return []

        return guarded
