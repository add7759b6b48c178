"""psutil readings turned into observations under the semantic-convention names and attributes.

One :class:`SystemReadings` per collector. It reads through an injected psutil-like module and
``psutil.Process``-like object, so tests feed canned readings, and keeps the little state the
utilisation gauges need (the previous CPU times). Attribute values follow the conventions:
``cpu.mode`` (``user``, ``system``, ``nice``, ``idle``, ``iowait``, ``interrupt``, ``steal``;
``wait`` for a process), ``system.memory.state``, ``disk.io.direction``, ``network.io.direction``,
``network.connection.state``, ``network.transport``, ``process.context_switch.type``.
"""

from __future__ import annotations

import gc
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psutil
from opentelemetry.metrics import CallbackOptions, Observation

from infertel import semconv

Reader = Callable[[CallbackOptions], Iterator[Observation]]

# cpu.mode -> the psutil fields it sums (Linux, macOS, Windows names). guest/guest_nice are
# already counted in user/nice on Linux, so they are left out of every mode and of the total.
_SYSTEM_CPU_MODES: dict[str, tuple[str, ...]] = {
    "user": ("user",),
    "system": ("system",),
    "nice": ("nice",),
    "idle": ("idle",),
    "iowait": ("iowait",),
    "interrupt": ("irq", "softirq", "interrupt", "dpc"),
    "steal": ("steal",),
}
_PROCESS_CPU_MODES: dict[str, tuple[str, ...]] = {"user": ("user",), "system": ("system",), "wait": ("iowait",)}
_MEMORY_STATES = ("used", "free", "cached", "buffers")
# A psutil reading several metrics share is taken once per collection: the first of them (in
# the order given, the instruments' registration order, hence the SDK's callback order) reads
# it, the others reuse that reading if it is this recent. Not CPU times: the deltas need each.
_SHARED_READING_S = 0.05
_SHARED_BY = {
    "virtual_memory": (semconv.SYSTEM_MEMORY_USAGE, semconv.SYSTEM_MEMORY_UTILIZATION),
    "swap_memory": (semconv.SYSTEM_PAGING_USAGE, semconv.SYSTEM_PAGING_UTILIZATION),
    "disk_io_counters": (semconv.SYSTEM_DISK_IO, semconv.SYSTEM_DISK_OPERATIONS, semconv.SYSTEM_DISK_IO_TIME,
                         semconv.SYSTEM_DISK_OPERATION_TIME),
    "net_io_counters": (semconv.SYSTEM_NETWORK_IO, semconv.SYSTEM_NETWORK_PACKET_COUNT,
                        semconv.SYSTEM_NETWORK_PACKET_DROPPED, semconv.SYSTEM_NETWORK_ERRORS),
    "memory_info": (semconv.PROCESS_MEMORY_USAGE, semconv.PROCESS_MEMORY_VIRTUAL),
}  # fmt: skip
_VIRTUAL_DISKS = ("loop", "ram", "zram")  # snap mounts and RAM disks: not disks
_DIRECTIONS = (("read", "read"), ("write", "write"))
# psutil's net_io_counters fields per kind and network.io.direction.
_NETWORK_FIELDS = {
    "bytes": (("receive", "bytes_recv"), ("transmit", "bytes_sent")),
    "packets": (("receive", "packets_recv"), ("transmit", "packets_sent")),
    "dropped": (("receive", "dropin"), ("transmit", "dropout")),
    "errors": (("receive", "errin"), ("transmit", "errout")),
}
_TRANSPORTS = {socket.SOCK_STREAM: "tcp", socket.SOCK_DGRAM: "udp"}
# psutil's TCP states -> network.connection.state; the others are psutil's lower-cased.
_CONNECTION_STATES = {
    "SYN_RECV": "syn_received",
    "FIN_WAIT1": "fin_wait_1",
    "FIN_WAIT2": "fin_wait_2",
    "CLOSE": "closed",
}


def _modes(times: Any, table: dict[str, tuple[str, ...]]) -> dict[str, float]:
    modes: dict[str, float] = {}
    for mode, fields in table.items():
        present = [getattr(times, field) for field in fields if hasattr(times, field)]
        if present:
            modes[mode] = float(sum(present))
    return modes


class SystemReadings:
    """The callbacks of the system and process instruments, one method per metric.

    Threading: the callbacks may run on several metric readers' threads at once; the CPU
    utilisation state sits behind one lock (held for one psutil call, never in a finalizer).
    Exceptions: a callback raises what psutil raises (``psutil.AccessDenied``, ...); the
    collector turns that into an absent metric.

    Args:
        system: A psutil-like module (``cpu_times``, ``virtual_memory``, ``swap_memory``,
            ``disk_io_counters``, ``net_io_counters``, ``net_connections``, ``cpu_count``);
            default :mod:`psutil`.
        process: A ``psutil.Process``-like object for this process; default ``psutil.Process()``,
            renewed in a forked child.
        per_cpu: ``system.cpu.*`` per logical CPU (``cpu.logical_number``) instead of host-wide.
        metrics: The metrics being reported, in callback order: a reading two of them share is
            then taken once per collection (empty: every callback reads afresh).
        clock: Monotonic clock in seconds, for ``process.cpu.utilization`` (tests inject one).

    Example:
        >>> readings = SystemReadings()
        >>> [o.value >= 1 for o in readings.process_thread_count(None)]  # this process's threads
        [True]
    """

    def __init__(
        self,
        system: Any = None,
        process: Any = None,
        *,
        per_cpu: bool = False,
        metrics: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._system = system if system is not None else psutil
        self._injected = process is not None
        self._process = process if process is not None else psutil.Process()
        self._pid = os.getpid()
        self._per_cpu = per_cpu
        self._clock = clock
        self._cpu_count = self._system.cpu_count() or 1
        self._lock = threading.Lock()
        self._last_cpu: dict[int | None, dict[str, float]] = {}
        self._last_utilization: dict[int | None, dict[str, float]] = {}
        self._last_process: tuple[float, dict[str, float]] | None = None
        self._last_process_utilization: dict[str, float] = {}
        self._shared: dict[str, tuple[float, Any]] = {}
        self._first_reader = {
            what: next((m for m in metrics if m in users), None) for what, users in _SHARED_BY.items()
        }
        try:  # the first process.cpu.utilization covers the time since the collector started
            self._last_process = (clock(), _modes(self._process.cpu_times(), _PROCESS_CPU_MODES))
        except (psutil.Error, NotImplementedError, PermissionError, AttributeError):
            pass  # reported (once) by the callback, if that metric is chosen

    def _forked(self) -> None:
        # In a forked child: a fresh lock (the parent's may have been held by a thread that is
        # gone), fresh state, and this process rather than the parent (unless injected).
        if os.getpid() != self._pid:
            self._lock = threading.Lock()
            self._pid = os.getpid()
            if not self._injected:
                self._process = psutil.Process()
            self._last_process, self._last_process_utilization, self._shared = None, {}, {}

    @property
    def process(self) -> Any:
        """This process; after ``os.fork()`` the child's, not the parent's (unless injected)."""
        self._forked()
        return self._process

    def _shared_reading(self, what: str, metric: str, read: Callable[[], Any]) -> Any:
        now = time.monotonic()
        taken = self._shared.get(what)
        first = self._first_reader.get(what)
        if first is not None and first != metric and taken is not None and 0 <= now - taken[0] < _SHARED_READING_S:
            return taken[1]
        value = read()
        self._shared[what] = (now, value)
        return value

    # -- system.cpu.* ---------------------------------------------------------------------------
    def _cpu_times(self) -> dict[int | None, dict[str, float]]:
        if self._per_cpu:
            return {i: _modes(t, _SYSTEM_CPU_MODES) for i, t in enumerate(self._system.cpu_times(percpu=True))}
        return {None: _modes(self._system.cpu_times(percpu=False), _SYSTEM_CPU_MODES)}

    @staticmethod
    def _cpu_attributes(cpu: int | None, mode: str) -> dict[str, Any]:
        if cpu is None:
            return {semconv.CPU_MODE: mode}
        return {semconv.CPU_MODE: mode, semconv.CPU_LOGICAL_NUMBER: cpu}

    def system_cpu_time(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.cpu.time`` by ``cpu.mode`` (and ``cpu.logical_number`` when per CPU)."""
        for cpu, modes in self._cpu_times().items():
            for mode, seconds in modes.items():
                yield Observation(seconds, self._cpu_attributes(cpu, mode))

    def system_cpu_utilization(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.cpu.utilization``: each mode's share of the CPU time since the previous collection.

        The first collection reports the shares since boot; a collection too close to the
        previous one for the kernel's counters to move repeats the previous figures.
        """
        self._forked()
        with self._lock:
            now = self._cpu_times()
            shares: dict[int | None, dict[str, float]] = {}
            for cpu, modes in now.items():
                before = self._last_cpu.get(cpu, {})
                delta = {mode: max(0.0, value - before.get(mode, 0.0)) for mode, value in modes.items()}
                total = sum(delta.values())
                if total > 0:
                    shares[cpu] = {mode: value / total for mode, value in delta.items()}
                    self._last_cpu[cpu] = modes
                elif cpu in self._last_utilization:
                    shares[cpu] = self._last_utilization[cpu]
            self._last_utilization.update(shares)
        for cpu, modes in shares.items():
            for mode, share in modes.items():
                yield Observation(share, self._cpu_attributes(cpu, mode))

    # -- system.memory.*, system.paging.* -------------------------------------------------------
    def system_memory_usage(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.memory.usage`` by ``system.memory.state`` (used, free, cached, buffers)."""
        memory = self._shared_reading("virtual_memory", semconv.SYSTEM_MEMORY_USAGE, self._system.virtual_memory)
        for state in _MEMORY_STATES:
            if hasattr(memory, state):
                yield Observation(int(getattr(memory, state)), {semconv.SYSTEM_MEMORY_STATE: state})

    def system_memory_utilization(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.memory.utilization``: each state's share of the total memory."""
        memory = self._shared_reading("virtual_memory", semconv.SYSTEM_MEMORY_UTILIZATION, self._system.virtual_memory)
        if memory.total > 0:
            for state in _MEMORY_STATES:
                if hasattr(memory, state):
                    yield Observation(getattr(memory, state) / memory.total, {semconv.SYSTEM_MEMORY_STATE: state})

    def system_paging_usage(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.paging.usage`` (swap) by ``system.paging.state`` (used, free)."""
        swap = self._shared_reading("swap_memory", semconv.SYSTEM_PAGING_USAGE, self._system.swap_memory)
        for state in ("used", "free"):
            yield Observation(int(getattr(swap, state)), {semconv.SYSTEM_PAGING_STATE: state})

    def system_paging_utilization(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.paging.utilization``: used and free swap as fractions (none without swap)."""
        swap = self._shared_reading("swap_memory", semconv.SYSTEM_PAGING_UTILIZATION, self._system.swap_memory)
        if swap.total > 0:
            for state in ("used", "free"):
                yield Observation(getattr(swap, state) / swap.total, {semconv.SYSTEM_PAGING_STATE: state})

    # -- system.disk.* --------------------------------------------------------------------------
    def _disks(self, metric: str) -> Iterator[tuple[str, Any]]:
        disks = self._shared_reading("disk_io_counters", metric, lambda: self._system.disk_io_counters(perdisk=True))
        for device, counters in (disks or {}).items():
            if not device.startswith(_VIRTUAL_DISKS):
                yield device, counters

    def _per_disk(self, metric: str, suffix: str, scale: float) -> Iterator[Observation]:
        for device, counters in self._disks(metric):
            for direction, prefix in _DIRECTIONS:
                field = f"{prefix}_{suffix}"
                if hasattr(counters, field):
                    attributes = {semconv.SYSTEM_DEVICE: device, semconv.DISK_IO_DIRECTION: direction}
                    yield Observation(getattr(counters, field) * scale, attributes)

    def system_disk_io(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.disk.io`` by ``system.device`` and ``disk.io.direction`` (loop/ram/zram left out)."""
        return self._per_disk(semconv.SYSTEM_DISK_IO, "bytes", 1)

    def system_disk_operations(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.disk.operations`` by ``system.device`` and ``disk.io.direction``."""
        return self._per_disk(semconv.SYSTEM_DISK_OPERATIONS, "count", 1)

    def system_disk_operation_time(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.disk.operation_time`` in seconds (psutil reports milliseconds)."""
        return self._per_disk(semconv.SYSTEM_DISK_OPERATION_TIME, "time", 0.001)

    def system_disk_io_time(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.disk.io_time``: seconds each device was busy (where psutil has ``busy_time``)."""
        for device, counters in self._disks(semconv.SYSTEM_DISK_IO_TIME):
            if hasattr(counters, "busy_time"):
                yield Observation(counters.busy_time * 0.001, {semconv.SYSTEM_DEVICE: device})

    # -- system.network.* -----------------------------------------------------------------------
    def _per_interface(self, metric: str, kind: str, key: str) -> Iterator[Observation]:
        interfaces = self._shared_reading("net_io_counters", metric, lambda: self._system.net_io_counters(pernic=True))
        for interface, counters in (interfaces or {}).items():
            for direction, field in _NETWORK_FIELDS[kind]:
                if hasattr(counters, field):
                    attributes = {key: interface, semconv.NETWORK_IO_DIRECTION: direction}
                    yield Observation(getattr(counters, field), attributes)

    def system_network_io(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.network.io`` by ``network.interface.name`` and ``network.io.direction``."""
        return self._per_interface(semconv.SYSTEM_NETWORK_IO, "bytes", semconv.NETWORK_INTERFACE_NAME)

    def system_network_packet_count(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.network.packet.count`` by ``system.device`` (as the convention names it) and direction."""
        return self._per_interface(semconv.SYSTEM_NETWORK_PACKET_COUNT, "packets", semconv.SYSTEM_DEVICE)

    def system_network_packet_dropped(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.network.packet.dropped`` by ``network.interface.name`` and direction."""
        return self._per_interface(semconv.SYSTEM_NETWORK_PACKET_DROPPED, "dropped", semconv.NETWORK_INTERFACE_NAME)

    def system_network_errors(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.network.errors`` by ``network.interface.name`` and direction."""
        return self._per_interface(semconv.SYSTEM_NETWORK_ERRORS, "errors", semconv.NETWORK_INTERFACE_NAME)

    def system_network_connection_count(self, options: CallbackOptions) -> Iterator[Observation]:
        """``system.network.connection.count`` by ``network.transport`` and ``network.connection.state``.

        Costly: psutil walks every socket of every process (about 14 ms on a small host).
        """
        counts: dict[tuple[str, str | None], int] = {}
        for connection in self._system.net_connections(kind="inet"):
            transport = _TRANSPORTS.get(connection.type)
            if transport is None:
                continue
            status = connection.status
            state = None if status in ("NONE", "") else _CONNECTION_STATES.get(status, status.lower())
            counts[(transport, state)] = counts.get((transport, state), 0) + 1
        for (transport, state), count in sorted(counts.items(), key=lambda item: (item[0][0], item[0][1] or "")):
            attributes = {semconv.NETWORK_TRANSPORT: transport}
            if state is not None:
                attributes[semconv.NETWORK_CONNECTION_STATE] = state
            yield Observation(count, attributes)

    # -- process.* ------------------------------------------------------------------------------
    def process_cpu_time(self, options: CallbackOptions) -> Iterator[Observation]:
        """``process.cpu.time`` by ``cpu.mode`` (user, system; wait where psutil has iowait)."""
        for mode, seconds in _modes(self.process.cpu_times(), _PROCESS_CPU_MODES).items():
            yield Observation(seconds, {semconv.CPU_MODE: mode})

    def process_cpu_utilization(self, options: CallbackOptions) -> Iterator[Observation]:
        """``process.cpu.utilization`` by ``cpu.mode``: CPU seconds over elapsed seconds times logical CPUs."""
        process = self.process
        with self._lock:
            now, modes = self._clock(), _modes(process.cpu_times(), _PROCESS_CPU_MODES)
            last, shares = self._last_process, self._last_process_utilization
            if last is not None and now > last[0]:
                capacity = (now - last[0]) * self._cpu_count
                shares = {mode: min(1.0, max(0.0, value - last[1].get(mode, 0.0)) / capacity)
                          for mode, value in modes.items()}  # fmt: skip
                self._last_process_utilization = shares
            if last is None or now > last[0]:
                self._last_process = (now, modes)
        for mode, share in shares.items():
            yield Observation(share, {semconv.CPU_MODE: mode})

    def process_memory_usage(self, options: CallbackOptions) -> Iterator[Observation]:
        """``process.memory.usage``: resident set size."""
        yield Observation(
            int(self._shared_reading("memory_info", semconv.PROCESS_MEMORY_USAGE, self.process.memory_info).rss)
        )

    def process_memory_virtual(self, options: CallbackOptions) -> Iterator[Observation]:
        """``process.memory.virtual``: virtual memory size."""
        yield Observation(
            int(self._shared_reading("memory_info", semconv.PROCESS_MEMORY_VIRTUAL, self.process.memory_info).vms)
        )

    def process_thread_count(self, options: CallbackOptions) -> Iterator[Observation]:
        """``process.thread.count``."""
        yield Observation(int(self.process.num_threads()))

    def process_unix_file_descriptor_count(self, options: CallbackOptions) -> Iterator[Observation]:
        """``process.unix.file_descriptor.count`` (POSIX only: absent on Windows)."""
        process = self.process
        if not hasattr(process, "num_fds"):
            raise NotImplementedError("file descriptors are a POSIX notion")
        yield Observation(int(process.num_fds()))

    def process_disk_io(self, options: CallbackOptions) -> Iterator[Observation]:
        """``process.disk.io`` by ``disk.io.direction``."""
        counters = self.process.io_counters()
        for direction, prefix in _DIRECTIONS:
            yield Observation(int(getattr(counters, f"{prefix}_bytes")), {semconv.DISK_IO_DIRECTION: direction})

    def process_context_switches(self, options: CallbackOptions) -> Iterator[Observation]:
        """``process.context_switches`` by ``process.context_switch.type``."""
        switches = self.process.num_ctx_switches()
        for kind in ("voluntary", "involuntary"):
            yield Observation(int(getattr(switches, kind)), {semconv.PROCESS_CONTEXT_SWITCH_TYPE: kind})

    # -- cpython.gc.* ---------------------------------------------------------------------------
    @staticmethod
    def _gc(key: str) -> Iterator[Observation]:
        for generation, stats in enumerate(gc.get_stats()):
            yield Observation(int(stats[key]), {semconv.CPYTHON_GC_GENERATION: generation})

    def cpython_gc_collections(self, options: CallbackOptions) -> Iterator[Observation]:
        """``cpython.gc.collections`` by ``cpython.gc.generation``."""
        return self._gc("collections")

    def cpython_gc_collected_objects(self, options: CallbackOptions) -> Iterator[Observation]:
        """``cpython.gc.collected_objects`` by ``cpython.gc.generation``."""
        return self._gc("collected")

    def cpython_gc_uncollectable_objects(self, options: CallbackOptions) -> Iterator[Observation]:
        """``cpython.gc.uncollectable_objects`` by ``cpython.gc.generation``."""
        return self._gc("uncollectable")
