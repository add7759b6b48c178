"""Resource metrics: hardware (GPU), system and process names and attributes, and deprecated aliases.

Part of :mod:`infertel.semconv`, which re-exports every name here: import them from there.
"""

from __future__ import annotations

from typing import Final

# --- Resource metrics: hardware (GPU) semantic conventions -----------------------------------
HW_GPU_UTILIZATION: Final = "hw.gpu.utilization"
"""Gauge, unit ``1``: fraction of time the GPU spent on a task (``hw.gpu.task``)."""
HW_GPU_MEMORY_UTILIZATION: Final = "hw.gpu.memory.utilization"
"""Gauge, unit ``1``: fraction of the GPU memory used (used / limit)."""
HW_GPU_MEMORY_USAGE: Final = "hw.gpu.memory.usage"
"""UpDownCounter, unit ``By``: GPU memory used."""
HW_GPU_MEMORY_LIMIT: Final = "hw.gpu.memory.limit"
"""UpDownCounter, unit ``By``: size of the GPU memory."""
HW_GPU_IO: Final = "hw.gpu.io"
"""Counter, unit ``By``: bytes received and transmitted by the GPU (``network.io.direction``)."""
HW_POWER: Final = "hw.power"
"""Gauge, unit ``W``: instantaneous power drawn by the component."""
HW_ENERGY: Final = "hw.energy"
"""Counter, unit ``J``: energy consumed by the component."""
HW_TEMPERATURE: Final = "hw.temperature"
"""Gauge, unit ``Cel``: temperature of the component."""
HW_ERRORS: Final = "hw.errors"
"""Counter, unit ``{error}``: errors encountered by the component (``error.type``)."""
HW_STATUS: Final = "hw.status"
"""UpDownCounter, unit ``1``: 1 for the component's current ``hw.state``, 0 for the others."""

HW_ID: Final = "hw.id"
HW_NAME: Final = "hw.name"
HW_MODEL: Final = "hw.model"
HW_VENDOR: Final = "hw.vendor"
HW_TYPE: Final = "hw.type"
HW_PARENT: Final = "hw.parent"
HW_STATE: Final = "hw.state"
HW_DRIVER_VERSION: Final = "hw.driver_version"
HW_GPU_TASK: Final = "hw.gpu.task"
NETWORK_IO_DIRECTION: Final = "network.io.direction"
PROCESS_PID: Final = "process.pid"

HW_TYPE_GPU: Final = "gpu"
HW_STATE_OK: Final = "ok"
HW_STATE_FAILED: Final = "failed"
HW_GPU_TASK_GENERAL: Final = "general"
HW_GPU_TASK_ENCODER: Final = "encoder"
HW_GPU_TASK_DECODER: Final = "decoder"
NETWORK_IO_DIRECTION_RECEIVE: Final = "receive"
NETWORK_IO_DIRECTION_TRANSMIT: Final = "transmit"
HW_ERROR_TYPE_CORRECTED: Final = "corrected"
HW_ERROR_TYPE_UNCORRECTED: Final = "uncorrected"
HW_VENDOR_NVIDIA: Final = "NVIDIA"

UNIT_ERRORS: Final = "{error}"

# --- Resource metrics: infertel GPU names (no semantic convention exists) --------------------
INFERTEL_GPU_PCI_BUS_ID: Final = "infertel.gpu.pci_bus_id"
"""PCI bus id of the GPU as NVML writes it (``00000000:3B:00.0``); ``hw.id`` is the GPU UUID."""
INFERTEL_GPU_PROCESS_MEMORY_USAGE: Final = "infertel.gpu.process.memory.usage"
"""UpDownCounter, unit ``By``: GPU memory used by one process (``process.pid``) on one GPU (``hw.id``).

The PIDs are the ones NVML reports, in the host's PID namespace.
"""
INFERTEL_PROCESS_GPU_MEMORY_USAGE: Final = "infertel.process.gpu.memory.usage"
"""UpDownCounter, unit ``By``: GPU memory used by this process on one GPU (``hw.id``)."""

# --- Resource metrics: system and process (semantic conventions: system, process, cpython) ---
SYSTEM_CPU_TIME: Final = "system.cpu.time"
"""Counter, unit ``s``: seconds the CPUs spent in each ``cpu.mode``."""
SYSTEM_CPU_UTILIZATION: Final = "system.cpu.utilization"
"""Gauge, unit ``1``: fraction of CPU time in each ``cpu.mode`` over the last interval."""
SYSTEM_MEMORY_USAGE: Final = "system.memory.usage"
"""UpDownCounter, unit ``By``: memory by ``system.memory.state``."""
SYSTEM_MEMORY_UTILIZATION: Final = "system.memory.utilization"
"""Gauge, unit ``1``: fraction of memory by ``system.memory.state``."""
SYSTEM_PAGING_USAGE: Final = "system.paging.usage"
"""UpDownCounter, unit ``By``: swap by ``system.paging.state``."""
SYSTEM_PAGING_UTILIZATION: Final = "system.paging.utilization"
"""Gauge, unit ``1``: fraction of swap by ``system.paging.state``."""
SYSTEM_DISK_IO: Final = "system.disk.io"
"""Counter, unit ``By``: disk bytes by ``system.device`` and ``disk.io.direction``."""
SYSTEM_DISK_OPERATIONS: Final = "system.disk.operations"
"""Counter, unit ``{operation}``: disk operations by ``system.device`` and ``disk.io.direction``."""
SYSTEM_DISK_IO_TIME: Final = "system.disk.io_time"
"""Counter, unit ``s``: time each ``system.device`` was busy."""
SYSTEM_DISK_OPERATION_TIME: Final = "system.disk.operation_time"
"""Counter, unit ``s``: summed duration of operations by ``system.device`` and ``disk.io.direction``."""
SYSTEM_NETWORK_IO: Final = "system.network.io"
"""Counter, unit ``By``: bytes by ``network.interface.name`` and ``network.io.direction``."""
SYSTEM_NETWORK_PACKET_COUNT: Final = "system.network.packet.count"
"""Counter, unit ``{packet}``: packets by ``system.device`` and ``network.io.direction``."""
SYSTEM_NETWORK_PACKET_DROPPED: Final = "system.network.packet.dropped"
"""Counter, unit ``{packet}``: dropped packets by ``network.interface.name`` and ``network.io.direction``."""
SYSTEM_NETWORK_ERRORS: Final = "system.network.errors"
"""Counter, unit ``{error}``: errors by ``network.interface.name`` and ``network.io.direction``."""
SYSTEM_NETWORK_CONNECTION_COUNT: Final = "system.network.connection.count"
"""UpDownCounter, unit ``{connection}``: sockets by ``network.transport`` and ``network.connection.state``."""
PROCESS_CPU_TIME: Final = "process.cpu.time"
"""Counter, unit ``s``: CPU seconds of this process by ``cpu.mode``."""
PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"
"""Gauge, unit ``1``: CPU of this process by ``cpu.mode``, as a fraction of all logical CPUs."""
PROCESS_MEMORY_USAGE: Final = "process.memory.usage"
"""UpDownCounter, unit ``By``: resident memory of this process."""
PROCESS_MEMORY_VIRTUAL: Final = "process.memory.virtual"
"""UpDownCounter, unit ``By``: virtual memory of this process."""
PROCESS_THREAD_COUNT: Final = "process.thread.count"
"""UpDownCounter, unit ``{thread}``: threads of this process."""
PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: Final = "process.unix.file_descriptor.count"
"""UpDownCounter, unit ``{file_descriptor}``: open file descriptors of this process (POSIX)."""
PROCESS_DISK_IO: Final = "process.disk.io"
"""Counter, unit ``By``: disk bytes of this process by ``disk.io.direction``."""
PROCESS_CONTEXT_SWITCHES: Final = "process.context_switches"
"""Counter, unit ``{context_switch}``: context switches by ``process.context_switch.type``."""
CPYTHON_GC_COLLECTIONS: Final = "cpython.gc.collections"
"""Counter, unit ``{collection}``: garbage collections by ``cpython.gc.generation``."""
CPYTHON_GC_COLLECTED_OBJECTS: Final = "cpython.gc.collected_objects"
"""Counter, unit ``{object}``: objects the garbage collector freed, by ``cpython.gc.generation``."""
CPYTHON_GC_UNCOLLECTABLE_OBJECTS: Final = "cpython.gc.uncollectable_objects"
"""Counter, unit ``{object}``: uncollectable objects found, by ``cpython.gc.generation``."""

CPU_MODE: Final = "cpu.mode"
CPU_LOGICAL_NUMBER: Final = "cpu.logical_number"
SYSTEM_MEMORY_STATE: Final = "system.memory.state"
SYSTEM_PAGING_STATE: Final = "system.paging.state"
SYSTEM_DEVICE: Final = "system.device"
DISK_IO_DIRECTION: Final = "disk.io.direction"
NETWORK_INTERFACE_NAME: Final = "network.interface.name"
NETWORK_CONNECTION_STATE: Final = "network.connection.state"
NETWORK_TRANSPORT: Final = "network.transport"
PROCESS_CONTEXT_SWITCH_TYPE: Final = "process.context_switch.type"
CPYTHON_GC_GENERATION: Final = "cpython.gc.generation"

DEPRECATED_SYSTEM_METRICS: Final[dict[str, tuple[str, ...]]] = {
    "process.open_file_descriptor.count": (PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,),
    "system.network.connections": (SYSTEM_NETWORK_CONNECTION_COUNT,),
    "system.network.packets": (SYSTEM_NETWORK_PACKET_COUNT,),
    "system.network.dropped": (SYSTEM_NETWORK_PACKET_DROPPED,),
    "system.network.dropped.packets": (SYSTEM_NETWORK_PACKET_DROPPED,),
    "system.network.dropped_packets": (SYSTEM_NETWORK_PACKET_DROPPED,),
    "system.swap.usage": (SYSTEM_PAGING_USAGE,),
    "system.swap.utilization": (SYSTEM_PAGING_UTILIZATION,),
    "system.disk.time": (SYSTEM_DISK_OPERATION_TIME,),
    "system.thread_count": (PROCESS_THREAD_COUNT,),
    "process.runtime.memory": (PROCESS_MEMORY_USAGE, PROCESS_MEMORY_VIRTUAL),
    "process.runtime.cpython.memory": (PROCESS_MEMORY_USAGE, PROCESS_MEMORY_VIRTUAL),
    "process.runtime.cpu.time": (PROCESS_CPU_TIME,),
    "process.runtime.cpython.cpu_time": (PROCESS_CPU_TIME,),
    "process.runtime.cpu.utilization": (PROCESS_CPU_UTILIZATION,),
    "process.runtime.cpython.cpu.utilization": (PROCESS_CPU_UTILIZATION,),
    "process.runtime.thread_count": (PROCESS_THREAD_COUNT,),
    "process.runtime.cpython.thread_count": (PROCESS_THREAD_COUNT,),
    "process.runtime.context_switches": (PROCESS_CONTEXT_SWITCHES,),
    "process.runtime.cpython.context_switches": (PROCESS_CONTEXT_SWITCHES,),
    "process.runtime.gc_count": (CPYTHON_GC_COLLECTIONS,),
    "process.runtime.cpython.gc_count": (CPYTHON_GC_COLLECTIONS,),
}
"""Deprecated system/process metric names (those of ``opentelemetry-instrumentation-system-metrics``,
its ``config`` keys, and earlier semantic conventions) -> the current names that replace them.
Accepted in ``INFERTEL_RESOURCE_METRICS_LIST`` with a one-time ``FutureWarning``; never emitted."""
