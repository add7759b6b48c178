"""One reading of the host and the GPUs, shared by every reader within an interval.

The GPU metric callbacks, :func:`infertel.resources.snapshot` (dashboard, health checks,
alerts, autoscaling) all read through one :class:`ResourceSampler`, so N readers within one
interval cost one reading.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infertel._internal.errors import handle_internal_errors
from infertel._internal.resources.host import HostReading, PsutilSource
from infertel._internal.resources.nvml import STATUS_FAILED, GpuReadError, GpuReading, GpuSource

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResourceSnapshot:
    """System, process and GPU readings as plain data.

    Attributes:
        timestamp: Wall-clock time (``time.time()``) of the older of the two readings.
        host: System and process figures; ``None`` when host readings are turned off.
        gpus: One reading per GPU and MIG device (empty without NVML, driver or GPU). A device
            that stopped answering is listed with ``status == "failed"`` and no figures.

    Example:
        >>> from infertel import resources
        >>> snap = resources.snapshot()
        >>> busy = [gpu.device.name for gpu in snap.gpus if (gpu.utilization or 0) > 0.9]
    """

    timestamp: float
    host: HostReading | None
    gpus: tuple[GpuReading, ...]

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as nested dicts and lists (JSON-ready)."""
        return dataclasses.asdict(self)


class _Cached:
    """One value refreshed at most once per ``max_age``; concurrent callers share a refresh."""

    def __init__(self, read: Callable[[], Any], clock: Callable[[], float]) -> None:
        self._read = read
        self._clock = clock
        self._lock = threading.Lock()
        self._value: Any = None
        self._read_at: float | None = None
        self._wall: float = 0.0
        self.reads = 0

    def get(self, max_age_s: float) -> tuple[Any, float]:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= max_age_s:
                self._value = self._read()
                self._read_at = self._clock()
                self._wall = time.time()
                self.reads += 1
            return self._value, self._wall


class ResourceSampler:
    """Reads the GPUs and the host, caching each reading for ``interval_s``.

    Threading: thread-safe. Callers within one interval get the same immutable reading; when it
    is stale the first caller reads and the others wait for that reading rather than read again.
    Exceptions: none for absence (no NVML, no GPU, ``psutil.AccessDenied``: the figure is absent).
    A GPU that stops answering is listed as failed, logged once per device. A bug while reading
    one device is handled by ``handle_internal_errors`` and drops only that device's reading.

    Args:
        gpu_source: Where GPU readings come from; ``None`` for no GPU readings.
        host_source: Where host readings come from; ``None`` for no host readings.
        interval_s: How long a reading is reused by :meth:`snapshot` callers.
        clock: Monotonic clock in seconds (tests inject one).

    Example:
        >>> sampler = ResourceSampler(gpu_source=None, host_source=PsutilSource(), interval_s=1.0)
        >>> sampler.snapshot().host.memory_total_bytes > 0
        True
    """

    def __init__(
        self,
        *,
        gpu_source: GpuSource | None,
        host_source: PsutilSource | None,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gpu_source = gpu_source
        self.host_source = host_source
        self.interval_s = interval_s
        self._failed_reported: set[str] = set()
        self._gpu = _Cached(self._read_gpus, clock)
        self._host = _Cached(self._read_host, clock)

    @property
    def gpu_reads(self) -> int:
        """How many times the GPUs were actually read (for tests and benchmarks)."""
        return self._gpu.reads

    @property
    def host_reads(self) -> int:
        """How many times the host was actually read (for tests and benchmarks)."""
        return self._host.reads

    def _read_gpus(self) -> tuple[GpuReading, ...]:
        source = self.gpu_source
        if source is None:
            return ()
        readings: list[GpuReading] = []
        for device in source.devices():
            with handle_internal_errors:
                try:
                    readings.append(source.read(device))
                except GpuReadError as exc:
                    if device.uuid not in self._failed_reported:
                        self._failed_reported.add(device.uuid)
                        _logger.warning(
                            "infertel: %s (%s) is not answering; its readings are dropped: %s",
                            device.name,
                            device.uuid,
                            exc,
                        )
                    readings.append(GpuReading(device, status=STATUS_FAILED))
        return tuple(readings)

    def _read_host(self) -> HostReading | None:
        return self.host_source.read() if self.host_source is not None else None

    def gpus(self, max_age_s: float | None = None) -> tuple[GpuReading, ...]:
        """GPU readings no older than ``max_age_s`` (default: the interval)."""
        return self._gpu.get(self.interval_s if max_age_s is None else max_age_s)[0]

    def host(self, max_age_s: float | None = None) -> HostReading | None:
        """Host reading no older than ``max_age_s`` (default: the interval)."""
        return self._host.get(self.interval_s if max_age_s is None else max_age_s)[0]

    def snapshot(self, max_age_s: float | None = None) -> ResourceSnapshot:
        """Host and GPU readings no older than ``max_age_s`` (default: the interval)."""
        age = self.interval_s if max_age_s is None else max_age_s
        host, host_wall = self._host.get(age)
        gpus, gpu_wall = self._gpu.get(age)
        return ResourceSnapshot(timestamp=min(host_wall, gpu_wall), host=host, gpus=gpus)

    def close(self) -> None:
        """Release the GPU source (NVML shutdown)."""
        if self.gpu_source is not None:
            self.gpu_source.close()
