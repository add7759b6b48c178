"""System and process metrics under the current semantic-convention names, fed by psutil.

Our own observable instruments through the public metrics API, one per metric, with the
convention's instrument kind, UCUM unit and attributes (see :mod:`.system_readings`). The
default set is measured: about 1.6 ms of CPU per collection on a 2-core host (see
``benchmarks/resources.py``); the rest is opt-in by name, or ``"all"``, notably
``system.network.connection.count`` (psutil walks every socket of every process, about 14 ms).
``system.cpu.*`` is reported host-wide by default (one point per ``cpu.mode``); ``per_cpu=True``
adds ``cpu.logical_number``, one series per core and mode. ``system.disk.*`` leaves out loop,
ram and zram devices.

Deprecated names (those ``opentelemetry-instrumentation-system-metrics`` emits or takes as
``config`` keys, e.g. ``process.open_file_descriptor.count``, ``system.network.connections``)
are accepted in a list, mapped to the current ones (:data:`semconv.DEPRECATED_SYSTEM_METRICS`)
with a one-time ``FutureWarning``, and never emitted.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

from infertel import semconv
from infertel._internal.errors import handle_internal_errors
from infertel._internal.resources.host import ABSENT_ERRORS
from infertel._internal.resources.system_readings import SystemReadings
from infertel.version import __version__

_logger = logging.getLogger(__name__)


class _Metric(NamedTuple):
    kind: str  # "counter", "updowncounter" or "gauge"
    unit: str
    description: str


_COUNTER, _UPDOWN, _GAUGE = "counter", "updowncounter", "gauge"

CATALOGUE: dict[str, _Metric] = {
    semconv.SYSTEM_CPU_UTILIZATION: _Metric(_GAUGE, semconv.UNIT_RATIO, "Fraction of CPU time in each mode."),
    semconv.SYSTEM_CPU_TIME: _Metric(_COUNTER, semconv.UNIT_SECONDS, "Seconds the CPUs spent in each mode."),
    semconv.SYSTEM_MEMORY_USAGE: _Metric(_UPDOWN, semconv.UNIT_BYTES, "Memory in use by state."),
    semconv.SYSTEM_MEMORY_UTILIZATION: _Metric(_GAUGE, semconv.UNIT_RATIO, "Fraction of memory by state."),
    semconv.SYSTEM_PAGING_USAGE: _Metric(_UPDOWN, semconv.UNIT_BYTES, "Swap usage by state."),
    semconv.SYSTEM_PAGING_UTILIZATION: _Metric(_GAUGE, semconv.UNIT_RATIO, "Fraction of swap by state."),
    semconv.SYSTEM_DISK_IO: _Metric(_COUNTER, semconv.UNIT_BYTES, "Disk bytes transferred."),
    semconv.SYSTEM_DISK_OPERATIONS: _Metric(_COUNTER, semconv.UNIT_OPERATIONS, "Disk operations count."),
    semconv.SYSTEM_DISK_IO_TIME: _Metric(_COUNTER, semconv.UNIT_SECONDS, "Time disk spent activated."),
    semconv.SYSTEM_DISK_OPERATION_TIME: _Metric(
        _COUNTER, semconv.UNIT_SECONDS, "Sum of the time each operation took to complete."
    ),
    semconv.SYSTEM_NETWORK_IO: _Metric(_COUNTER, semconv.UNIT_BYTES, "Bytes transmitted and received."),
    semconv.SYSTEM_NETWORK_PACKET_COUNT: _Metric(_COUNTER, semconv.UNIT_PACKETS, "Packets transferred."),
    semconv.SYSTEM_NETWORK_PACKET_DROPPED: _Metric(
        _COUNTER, semconv.UNIT_PACKETS, "Packets dropped or discarded even though there was no error."
    ),
    semconv.SYSTEM_NETWORK_ERRORS: _Metric(_COUNTER, semconv.UNIT_ERRORS, "Network errors detected."),
    semconv.SYSTEM_NETWORK_CONNECTION_COUNT: _Metric(_UPDOWN, semconv.UNIT_CONNECTIONS, "The number of connections."),
    semconv.PROCESS_CPU_UTILIZATION: _Metric(
        _GAUGE, semconv.UNIT_RATIO, "CPU time of the process over elapsed time and logical CPUs, by mode."
    ),
    semconv.PROCESS_CPU_TIME: _Metric(_COUNTER, semconv.UNIT_SECONDS, "CPU seconds of the process by mode."),
    semconv.PROCESS_MEMORY_USAGE: _Metric(_UPDOWN, semconv.UNIT_BYTES, "The amount of physical memory in use."),
    semconv.PROCESS_MEMORY_VIRTUAL: _Metric(_UPDOWN, semconv.UNIT_BYTES, "The amount of committed virtual memory."),
    semconv.PROCESS_THREAD_COUNT: _Metric(_UPDOWN, semconv.UNIT_THREADS, "Process threads count."),
    semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: _Metric(
        _UPDOWN, semconv.UNIT_FILE_DESCRIPTORS, "Number of UNIX file descriptors in use by the process."
    ),
    semconv.PROCESS_DISK_IO: _Metric(_COUNTER, semconv.UNIT_BYTES, "Disk bytes transferred by the process."),
    semconv.PROCESS_CONTEXT_SWITCHES: _Metric(
        _COUNTER, semconv.UNIT_CONTEXT_SWITCHES, "Number of times the process has been context switched."
    ),
    semconv.CPYTHON_GC_COLLECTIONS: _Metric(
        _COUNTER, semconv.UNIT_COLLECTIONS, "Times a generation was collected since interpreter start."
    ),
    semconv.CPYTHON_GC_COLLECTED_OBJECTS: _Metric(
        _COUNTER, semconv.UNIT_OBJECTS, "Objects collected since interpreter start."
    ),
    semconv.CPYTHON_GC_UNCOLLECTABLE_OBJECTS: _Metric(
        _COUNTER, semconv.UNIT_OBJECTS, "Uncollectable objects found since interpreter start."
    ),
}
"""Every system/process metric infertel offers: name -> instrument kind, UCUM unit, description."""

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
    semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
    semconv.PROCESS_DISK_IO,
)
"""The system/process metrics on by default: cheap, and what inference dashboards plot.

Opt-in (by name or ``"all"``): ``system.cpu.time``, ``system.paging.usage`` / ``utilization``,
``system.disk.io_time`` / ``operation_time``, ``system.network.packet.count`` /
``packet.dropped`` / ``errors``, ``system.network.connection.count`` (costly),
``process.context_switches``, ``cpython.gc.*``.
"""

# Keyword values accepted in place of a list.
DEFAULT = "default"
ALL = "all"

# Honoured as opentelemetry-instrumentation-system-metrics does, so an existing setting keeps working.
_OTEL_EXCLUDED = "OTEL_PYTHON_SYSTEM_METRICS_EXCLUDED_METRICS"

_warned_lock = threading.Lock()
_warned: set[str] = set()


def _warn_deprecated(setting: str, old: str, new: tuple[str, ...]) -> None:
    with _warned_lock:
        if old in _warned:
            return
        _warned.add(old)
    warnings.warn(
        f"{setting}: the system metric name {old!r} is deprecated; infertel reports it as "
        f"{', '.join(repr(n) for n in new)} (the current semantic-convention name); use that name instead",
        FutureWarning,
        stacklevel=4,
    )


def resolve_system_metrics(
    value: str | Sequence[str] | bool | None,
    *,
    setting: str = "system_metrics",
) -> tuple[str, ...]:
    """Turn the user's choice into the metric names to report, in catalogue order.

    ``None`` / ``True`` / ``"default"``: :data:`DEFAULT_SYSTEM_METRICS`; ``"all"``: every name
    of :data:`CATALOGUE`; a list (or comma-separated string) of names, where ``"default"`` and
    ``"all"`` may appear; ``False`` or empty: none. A deprecated name is mapped to its current
    name(s) with a one-time ``FutureWarning``. Patterns in
    ``OTEL_PYTHON_SYSTEM_METRICS_EXCLUDED_METRICS`` (matched against current names; a deprecated
    name spelled out in full excludes its replacement) leave metrics out.

    Raises:
        ValueError: Naming ``setting``, an unknown metric and the accepted names.

    Example:
        >>> resolve_system_metrics("process.memory.usage, process.open_file_descriptor.count")
        ('process.memory.usage', 'process.unix.file_descriptor.count')
    """
    if value is None or value is True:
        value = DEFAULT
    if value is False:
        return ()
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, Sequence) or not all(isinstance(name, str) for name in value):
        raise ValueError(f"{setting}={value!r}: expected 'default', 'all', a list of metric names or False")
    chosen: set[str] = set()
    for name in value:
        if name == DEFAULT:
            chosen.update(DEFAULT_SYSTEM_METRICS)
        elif name == ALL:
            chosen.update(CATALOGUE)
        elif name in CATALOGUE:
            chosen.add(name)
        elif name in semconv.DEPRECATED_SYSTEM_METRICS:
            replacements = semconv.DEPRECATED_SYSTEM_METRICS[name]
            _warn_deprecated(setting, name, replacements)
            chosen.update(replacements)
        else:
            accepted = ", ".join([DEFAULT, ALL, *CATALOGUE])
            raise ValueError(f"{setting}: unknown system metric {name!r}; accepted: {accepted}")
    excluded = [p.strip() for p in os.environ.get(_OTEL_EXCLUDED, "").split(",") if p.strip()]
    return tuple(name for name in CATALOGUE if name in chosen and not _excluded(name, excluded))


def _excluded(name: str, patterns: list[str]) -> bool:
    # A pattern matches current names; a deprecated name spelled out excludes what replaced it.
    # (Patterns are not matched against deprecated names: "system.*" would catch system.thread_count,
    # hence process.thread.count.)
    return any(
        fnmatch.fnmatch(name, pattern) or name in semconv.DEPRECATED_SYSTEM_METRICS.get(pattern, ())
        for pattern in patterns
    )


class _Binding:
    """The instruments infertel created on one MeterProvider, and the collector they report for.

    The SDK hands back an already-registered instrument without taking the new callbacks, so a
    second collector on the same provider (a re-install after ``shutdown()``) rebinds these
    instruments instead of creating dead ones.
    """

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.created: set[str] = set()
        self.collector: SystemMetricsCollector | None = None


_bindings_lock = threading.Lock()
_bindings: weakref.WeakKeyDictionary[Any, _Binding] = weakref.WeakKeyDictionary()


class SystemMetricsCollector:
    """System and process metrics on one MeterProvider: observable instruments fed by psutil.

    Each metric's callback runs inside ``handle_internal_errors``; ``psutil.AccessDenied`` (or a
    call missing on this platform) makes that metric absent for good with one log line, so
    nothing is retried or slowed; after ``os.fork()`` the child reports itself, not its parent.
    Instruments come from the ``infertel`` meter. Several providers each get their own
    instruments; on one provider, the latest collector is the one reporting.

    Threading: the callbacks run on the metric readers' threads, several at once if several
    readers collect; the only shared state (CPU times for the utilisation gauges) is behind a
    lock. Exceptions: none reach the SDK.

    Args:
        meter_provider: Where the instruments are created.
        metrics: Names from :data:`CATALOGUE` (see :func:`resolve_system_metrics`).
        system: A psutil-like module (tests feed canned readings); default :mod:`psutil`.
        process: A ``psutil.Process``-like object for this process; default ``psutil.Process()``.
        per_cpu: Report ``system.cpu.*`` per logical CPU (``cpu.logical_number``).

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> collector = SystemMetricsCollector(MeterProvider(), ["process.memory.usage"])
        >>> collector.shutdown()
    """

    def __init__(
        self,
        meter_provider: MeterProvider,
        metrics: Iterable[str],
        *,
        system: Any = None,
        process: Any = None,
        per_cpu: bool = False,
    ) -> None:
        self.metrics: tuple[str, ...] = tuple(dict.fromkeys(metrics))
        """The metric names this collector reports."""
        unknown = [name for name in self.metrics if name not in CATALOGUE]
        if unknown:
            raise ValueError(f"unknown system metrics {unknown}; accepted: {', '.join(CATALOGUE)}")
        self._readings = SystemReadings(system, process, per_cpu=per_cpu, metrics=self.metrics)
        self._readers: dict[str, Callable[[CallbackOptions], Iterable[Observation]]] = {
            name: getattr(self._readings, name.replace(".", "_")) for name in self.metrics
        }
        self._absent: set[str] = set()
        self._stopped = False
        binding = _binding(meter_provider)
        binding.collector = self
        for name in self.metrics:
            if name not in binding.created:
                binding.created.add(name)
                _create(binding, name)

    def shutdown(self) -> None:
        """Stop reporting (instruments cannot be removed from a MeterProvider; they go quiet)."""
        self._stopped = True

    def observe(self, name: str, options: CallbackOptions) -> list[Observation]:
        """The observations of metric ``name`` now (empty when stopped, not chosen or absent)."""
        reader = self._readers.get(name)
        if self._stopped or reader is None or name in self._absent:
            return []
        with handle_internal_errors:
            try:
                return list(reader(options))
            except ABSENT_ERRORS as exc:
                self._absent.add(name)
                _logger.warning("infertel: the %s metric is absent on this host: %r", name, exc)
        return []


def _binding(meter_provider: MeterProvider) -> _Binding:
    with _bindings_lock:
        binding = _bindings.get(meter_provider) if _weakref_able(meter_provider) else None
        if binding is None:
            meter = meter_provider.get_meter(semconv.INSTRUMENTATION_SCOPE, __version__, schema_url=semconv.SCHEMA_URL)
            binding = _Binding(meter)
            if _weakref_able(meter_provider):
                _bindings[meter_provider] = binding
        return binding


def _weakref_able(value: Any) -> bool:
    try:
        weakref.ref(value)
    except TypeError:
        return False
    return True


def _create(binding: _Binding, name: str) -> None:
    metric = CATALOGUE[name]

    def callback(options: CallbackOptions) -> list[Observation]:
        collector = binding.collector
        return collector.observe(name, options) if collector is not None else []

    create = {
        _COUNTER: binding.meter.create_observable_counter,
        _UPDOWN: binding.meter.create_observable_up_down_counter,
        _GAUGE: binding.meter.create_observable_gauge,
    }[metric.kind]
    create(name, callbacks=[callback], unit=metric.unit, description=metric.description)
