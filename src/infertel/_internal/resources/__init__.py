"""Resource monitoring: system, process and GPU metrics, and the in-process snapshot.

``configure()`` calls :func:`install`; users call :func:`start_resource_metrics` (public as
``infertel.start_resource_metrics``) and :func:`snapshot` (``infertel.resources.snapshot``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import MeterProvider

from infertel import environment_variables as env
from infertel._internal import state
from infertel._internal.resources.gpu import GpuCollector
from infertel._internal.resources.host import PsutilSource
from infertel._internal.resources.nvml import GpuSource, NvmlSource
from infertel._internal.resources.snapshot import ResourceSampler, ResourceSnapshot
from infertel._internal.resources.system import SystemMetricsCollector, resolve_system_metrics

_logger = logging.getLogger(__name__)

_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off"})


def _env_switch(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _ON:
        return True
    if raw in _OFF:
        return False
    raise ValueError(f"{name}={raw!r}: expected one of on, off, true, false, 1, 0")


def _check_bool(setting: str, value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{setting}={value!r}: expected True, False or None")


class ResourceMetrics:
    """Handle on the running resource metrics; :meth:`shutdown` stops them.

    Attributes:
        system_metrics: The system/process metric names being reported (empty when off or absent).
        gpu: Whether the GPU collector is installed (its metrics are absent without NVML or GPU).
        sampler: The shared reading cache behind the GPU metrics and :meth:`snapshot`.

    Example:
        >>> import infertel
        >>> handle = infertel.start_resource_metrics()
        >>> 0.0 < handle.snapshot().host.memory_utilization < 1.0  # e.g. 0.42
        True
        >>> handle.shutdown()
    """

    def __init__(
        self,
        sampler: ResourceSampler,
        system: SystemMetricsCollector | None,
        gpu: GpuCollector | None,
        owns_gpu_source: bool,
    ) -> None:
        self.sampler = sampler
        self._system = system
        self._gpu = gpu
        self._owns_gpu_source = owns_gpu_source
        self._lock = threading.Lock()
        self._shut_down = False
        self.system_metrics: tuple[str, ...] = system.metrics if system is not None else ()
        self.gpu = gpu is not None

    def snapshot(self, *, max_age_s: float | None = None) -> ResourceSnapshot:
        """The current readings, reused within the interval (see :func:`snapshot`)."""
        return self.sampler.snapshot(max_age_s)

    def shutdown(self) -> None:
        """Stop the collectors and release NVML (idempotent)."""
        global _active
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        if self._system is not None:
            self._system.shutdown()
        if self._gpu is not None:
            self._gpu.shutdown()
        if self._owns_gpu_source:
            self.sampler.close()
        with _active_lock:
            if _active is self:
                _active = None


_active_lock = threading.Lock()
_active: ResourceMetrics | None = None
_default_sampler: ResourceSampler | None = None


def install(
    meter_provider: MeterProvider | None,
    *,
    enabled: bool | None = None,
    system_metrics: str | Sequence[str] | bool | None = None,
    gpu: bool | None = None,
    gpu_processes: bool | None = None,
    per_cpu: bool | None = None,
    interval_s: float | None = None,
    process: Any = None,
    system: Any = None,
    gpu_source: GpuSource | None = None,
    pid: int | None = None,
) -> ResourceMetrics:
    """Install system, process and GPU metrics on ``meter_provider`` (what ``configure()`` calls).

    Each ``None`` falls back to its environment variable, then to the default: ``enabled``
    (``INFERTEL_RESOURCE_METRICS``, on), ``system_metrics`` (``INFERTEL_RESOURCE_METRICS_LIST``,
    ``"default"``), ``gpu`` (``INFERTEL_GPU_METRICS``, on), ``gpu_processes``
    (``INFERTEL_GPU_PROCESS_METRICS``, on), ``per_cpu`` (``INFERTEL_RESOURCE_METRICS_PER_CPU``, off),
    ``interval_s`` (``INFERTEL_RESOURCE_METRICS_INTERVAL``, 1).
    Absence (no NVML, no GPU, a psutil reading denied) is one log line, never an error.

    Args:
        meter_provider: Provider for the instruments; ``None`` for the global one.
        enabled: ``False`` installs nothing (the handle's :meth:`ResourceMetrics.snapshot` still works).
        system_metrics: ``"default"``, ``"all"``, a list of metric names (deprecated names are
            mapped to current ones with a one-time ``FutureWarning``), or ``False`` for none.
        gpu: Report ``hw.gpu.*`` and the other NVML metrics.
        gpu_processes: Report GPU memory per PID (``infertel.gpu.process.memory.usage``).
        per_cpu: Report ``system.cpu.*`` per logical CPU (``cpu.logical_number``) instead of host-wide.
        interval_s: How long a reading is reused by snapshot readers.
        process: A ``psutil.Process``-like object for this process (tests inject one).
        system: A psutil-like module for the host readings (tests inject canned ones).
        gpu_source: A :class:`GpuSource` (tests inject canned NVML); default :class:`NvmlSource`.
        pid: PID counted as "this process" for ``infertel.process.gpu.memory.usage``.

    Returns:
        A handle whose ``shutdown()`` stops the collectors.

    Raises:
        ValueError: A setting has a value outside the accepted ones (named in the message).

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> handle = install(MeterProvider(), system_metrics=["process.memory.usage"], gpu=False)
        >>> handle.shutdown()
    """
    global _active
    for setting, value in (("enabled", enabled), ("gpu", gpu), ("gpu_processes", gpu_processes), ("per_cpu", per_cpu)):
        _check_bool(setting, value)
    per_cpu = _env_switch(env.INFERTEL_RESOURCE_METRICS_PER_CPU, False) if per_cpu is None else per_cpu
    enabled = _env_switch(env.INFERTEL_RESOURCE_METRICS, True) if enabled is None else enabled
    gpu = _env_switch(env.INFERTEL_GPU_METRICS, True) if gpu is None else gpu
    gpu_processes = _env_switch(env.INFERTEL_GPU_PROCESS_METRICS, True) if gpu_processes is None else gpu_processes
    interval_s = _interval(interval_s)
    setting = "system_metrics"
    if system_metrics is None and os.environ.get(env.INFERTEL_RESOURCE_METRICS_LIST, "").strip():
        system_metrics, setting = os.environ[env.INFERTEL_RESOURCE_METRICS_LIST], env.INFERTEL_RESOURCE_METRICS_LIST
    chosen = resolve_system_metrics(system_metrics, setting=setting)

    owns_source = gpu_source is None
    source: GpuSource | None = None
    if enabled and gpu:
        source = gpu_source if gpu_source is not None else NvmlSource()
    sampler = ResourceSampler(gpu_source=source, host_source=PsutilSource(process), interval_s=interval_s)
    if not enabled:
        return ResourceMetrics(sampler, None, None, owns_source)

    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    collector: SystemMetricsCollector | None = None
    if chosen:
        collector = SystemMetricsCollector(provider, chosen, system=system, process=process, per_cpu=per_cpu)
    gpu_collector = None
    if source is not None:
        gpu_collector = GpuCollector(provider, sampler, processes=gpu_processes, pid=pid)
    handle = ResourceMetrics(sampler, collector, gpu_collector, owns_source)
    with _active_lock:
        _active = handle
    return handle


def _interval(interval_s: float | None) -> float:
    setting = "interval_s"
    if interval_s is None:
        raw = os.environ.get(env.INFERTEL_RESOURCE_METRICS_INTERVAL, "").strip()
        if not raw:
            return 1.0
        setting = env.INFERTEL_RESOURCE_METRICS_INTERVAL
        try:
            interval_s = float(raw)
        except ValueError:
            raise ValueError(f"{setting}={raw!r}: expected a number of seconds > 0") from None
    if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or not interval_s > 0:
        raise ValueError(f"{setting}={interval_s!r}: expected a number of seconds > 0")
    return float(interval_s)


def start_resource_metrics(
    *,
    meter_provider: MeterProvider | None = None,
    system_metrics: str | Sequence[str] | bool | None = None,
    gpu: bool | None = None,
    gpu_processes: bool | None = None,
    per_cpu: bool | None = None,
    interval_s: float | None = None,
    process: Any = None,
    system: Any = None,
    gpu_source: GpuSource | None = None,
) -> ResourceMetrics:
    """Report system, process and GPU metrics under the OpenTelemetry names.

    ``configure()`` already does this; call it yourself when you set up OpenTelemetry on your
    own. System and process metrics come from psutil under the current semantic-convention
    names (``system.cpu.utilization``, ``process.unix.file_descriptor.count`` ...); GPU metrics from NVML
    (``hw.gpu.utilization``, ``hw.gpu.memory.usage``, ``hw.power``, ``hw.energy`` ...). Without
    NVML, driver or GPU the GPU metrics are simply absent. Settings left ``None`` come from the
    ``INFERTEL_*`` environment variables (see :func:`install`).

    Args:
        meter_provider: Provider for the instruments; default the global one.
        system_metrics: ``"default"`` (cheap set), ``"all"``, a list of names, or ``False``
            (see ``infertel.resources.DEFAULT_SYSTEM_METRICS``).
        gpu: ``False`` turns the NVML metrics off.
        gpu_processes: ``False`` turns GPU memory per PID off.
        per_cpu: ``True`` reports ``system.cpu.*`` per logical CPU (costly on many cores).
        interval_s: How long a reading is reused by :func:`infertel.resources.snapshot` readers.
        process: A ``psutil.Process``-like object (for tests).
        system: A psutil-like module (for tests: canned host readings).
        gpu_source: A GPU source (for tests: canned NVML readings).

    Returns:
        A :class:`ResourceMetrics` handle; ``handle.shutdown()`` stops collection.

    Raises:
        ValueError: Naming the setting and the accepted values (unknown metric name, bad interval).

    Example:
        >>> import infertel
        >>> handle = infertel.start_resource_metrics(system_metrics=["system.cpu.utilization"])
        >>> handle.shutdown()
    """
    return install(
        meter_provider, enabled=True, system_metrics=system_metrics, gpu=gpu, gpu_processes=gpu_processes,
        per_cpu=per_cpu, interval_s=interval_s, process=process, system=system, gpu_source=gpu_source,
    )  # fmt: skip


def snapshot(*, max_age_s: float | None = None) -> ResourceSnapshot:
    """System, process and GPU readings as plain data, shared by all readers within an interval.

    Reads through the resource metrics ``configure()`` / :func:`start_resource_metrics` set up,
    or through a process-wide reader created on first use (NVML initialised once).

    Args:
        max_age_s: Accept a reading this old at most; default the interval (1 s).

    Returns:
        A frozen :class:`ResourceSnapshot`.

    Example:
        >>> from infertel import resources
        >>> snap = resources.snapshot()
        >>> [(gpu.device.name, gpu.memory_utilization) for gpu in snap.gpus]  # doctest: +SKIP
        [('gpu0', 0.61)]
    """
    handle = state.current().extras.get("resource_metrics")
    if not isinstance(handle, ResourceMetrics):
        handle = _active
    if handle is not None:
        return handle.snapshot(max_age_s=max_age_s)
    return _fallback_sampler().snapshot(max_age_s)


def _fallback_sampler() -> ResourceSampler:
    """:func:`snapshot`'s process-wide sampler, where no resource metrics are installed (created once)."""
    global _default_sampler
    with _active_lock:
        if _default_sampler is None:
            _default_sampler = ResourceSampler(
                gpu_source=NvmlSource(), host_source=PsutilSource(), interval_s=_interval(None)
            )
        return _default_sampler


def prepare_snapshot() -> None:
    """Build now, on this thread, what :func:`snapshot` would build on its first call.

    For a reader that calls :func:`snapshot` on a background thread (the alert engine's live
    source): where no resource metrics are installed, the first call builds a sampler, which
    imports ``pynvml``; a ``fork()`` during an import on another thread leaves the child's lock of
    that module held for ever.
    """
    if _active is None:
        _fallback_sampler()


__all__ = [
    "ResourceMetrics",
    "ResourceSnapshot",
    "install",
    "snapshot",
    "start_resource_metrics",
]
