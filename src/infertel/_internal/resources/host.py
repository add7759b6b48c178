"""Host and process readings as plain data, from psutil, for :func:`infertel.resources.snapshot`.

The exported ``system.*`` / ``process.*`` metrics are :mod:`.system`'s instruments; this module is the small,
dependency-free reader behind the in-process snapshot (dashboard, health checks, autoscaling).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

_logger = logging.getLogger(__name__)

# What "this reading is not available here" looks like: psutil.AccessDenied / ZombieProcess /
# NoSuchProcess (all psutil.Error), a platform without the call, a /proc we may not read.
ABSENT_ERRORS: tuple[type[BaseException], ...] = (psutil.Error, NotImplementedError, PermissionError)


@dataclass(frozen=True)
class HostReading:
    """System and process figures at one moment. ``None`` means "not available here".

    Utilisations are ratios (0..1) over the time since the previous reading, ``None`` on the
    first one.

    Attributes:
        cpu_utilization: System CPU busy fraction, all cores together.
        memory_used_bytes: System memory in use.
        memory_total_bytes: System memory size.
        memory_utilization: ``memory_used_bytes / memory_total_bytes``.
        process_pid: PID of this process.
        process_cpu_utilization: CPU used by this process as a fraction of all cores (as
            ``process.cpu.utilization``).
        process_memory_bytes: Resident memory of this process (as ``process.memory.usage``).
        process_thread_count: Threads of this process.
        process_open_file_descriptors: Open file descriptors of this process (POSIX only; as
            ``process.unix.file_descriptor.count``).

    Example:
        >>> reading = PsutilSource().read()
        >>> reading.process_memory_bytes > 0
        True
    """

    cpu_utilization: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    memory_utilization: float | None
    process_pid: int
    process_cpu_utilization: float | None
    process_memory_bytes: int | None
    process_thread_count: int | None
    process_open_file_descriptors: int | None


def _cpu_busy_total(times: Any) -> tuple[float, float]:
    values = times._asdict()
    # guest time is already counted in user/nice on Linux; iowait is idle time.
    total = sum(values.values()) - values.get("guest", 0.0) - values.get("guest_nice", 0.0)
    idle = values.get("idle", 0.0) + values.get("iowait", 0.0)
    return total - idle, total


class PsutilSource:
    """Reads the host and this process through psutil.

    A reading that raises ``psutil.AccessDenied`` (or is missing on this platform) is ``None``
    from then on: one log line, never asked again. After ``os.fork()`` the child reads itself,
    not its parent (unless a ``process`` was injected).

    Threading: safe to call from several threads (one lock around the delta state).

    Args:
        process: A ``psutil.Process``-like object for this process; default ``psutil.Process()``.
        clock: Monotonic clock in seconds, for utilisation deltas (tests inject one).
        cpu_count: Logical CPUs, for the per-process ratio; default ``psutil.cpu_count()``.

    Example:
        >>> source = PsutilSource()
        >>> source.read().memory_total_bytes > 0
        True
    """

    def __init__(
        self,
        process: Any = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        cpu_count: int | None = None,
    ) -> None:
        self._injected = process is not None
        self._process = process if process is not None else psutil.Process()
        self._pid = os.getpid()
        self._clock = clock
        self._cpu_count = cpu_count or psutil.cpu_count() or 1
        self._lock = threading.Lock()
        self._absent: set[str] = set()
        self._last_system: tuple[float, float] | None = None
        self._last_process: tuple[float, float] | None = None

    def _get(self, what: str, fn: Callable[[], Any]) -> Any:
        if what in self._absent:
            return None
        try:
            return fn()
        except ABSENT_ERRORS as exc:
            self._absent.add(what)
            _logger.info("infertel: the %s reading is absent on this host: %r", what, exc)
            return None

    def read(self) -> HostReading:
        """Read everything once (a handful of psutil calls)."""
        if os.getpid() != self._pid:
            # A forked child: a fresh lock (the parent's may have been held by a thread that is gone).
            self._lock, self._pid, self._last_process = threading.Lock(), os.getpid(), None
            if not self._injected:
                self._process = psutil.Process()
        with self._lock:
            now = self._clock()
            cpu_utilization = None
            times = self._get("system CPU time", psutil.cpu_times)
            if times is not None:
                busy, total = _cpu_busy_total(times)
                if self._last_system is not None and total > self._last_system[1]:
                    cpu_utilization = (busy - self._last_system[0]) / (total - self._last_system[1])
                self._last_system = (busy, total)
            memory = self._get("system memory", psutil.virtual_memory)
            process = self._process
            process_cpu = None
            cpu = self._get("process CPU time", process.cpu_times)
            if cpu is not None:
                spent = cpu.user + cpu.system
                if self._last_process is not None and now > self._last_process[0]:
                    elapsed = now - self._last_process[0]
                    process_cpu = max(0.0, spent - self._last_process[1]) / (elapsed * self._cpu_count)
                self._last_process = (now, spent)
            rss = self._get("process memory", process.memory_info)
            threads = self._get("process thread count", process.num_threads)
            fds = self._get("process open file descriptors", process.num_fds) if hasattr(process, "num_fds") else None
        return HostReading(
            cpu_utilization=None if cpu_utilization is None else min(1.0, max(0.0, cpu_utilization)),
            memory_used_bytes=int(memory.used) if memory is not None else None,
            memory_total_bytes=int(memory.total) if memory is not None else None,
            memory_utilization=memory.used / memory.total if memory is not None and memory.total else None,
            process_pid=self._pid,
            process_cpu_utilization=process_cpu,
            process_memory_bytes=int(rss.rss) if rss is not None else None,
            process_thread_count=int(threads) if threads is not None else None,
            process_open_file_descriptors=int(fds) if fds is not None else None,
        )
