"""Resource monitoring: system, process and GPU metrics, and an in-process snapshot.

Example:
    >>> import infertel
    >>> from infertel import resources
    >>> handle = infertel.start_resource_metrics()       # configure() does this for you
    >>> snap = resources.snapshot()                      # plain data, cached per interval
    >>> snap.host.memory_utilization, [gpu.utilization for gpu in snap.gpus]  # doctest: +SKIP
    (0.42, [0.97])
    >>> handle.shutdown()
"""

from __future__ import annotations

from infertel._internal.resources import (
    ResourceMetrics,
    ResourceSnapshot,
    snapshot,
    start_resource_metrics,
)
from infertel._internal.resources.host import HostReading, PsutilSource
from infertel._internal.resources.nvml import (
    GpuDevice,
    GpuProcess,
    GpuReadError,
    GpuReading,
    GpuSource,
    NvmlSource,
)
from infertel._internal.resources.system import DEFAULT_SYSTEM_METRICS

__all__ = [
    "DEFAULT_SYSTEM_METRICS",
    "GpuDevice",
    "GpuProcess",
    "GpuReadError",
    "GpuReading",
    "GpuSource",
    "HostReading",
    "NvmlSource",
    "PsutilSource",
    "ResourceMetrics",
    "ResourceSnapshot",
    "snapshot",
    "start_resource_metrics",
]
