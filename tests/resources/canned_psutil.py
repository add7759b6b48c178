"""Canned psutil readings, with psutil's own field names (Linux), for exact metric assertions."""

from __future__ import annotations

import socket
from collections import namedtuple
from typing import Any

import psutil

scputimes = namedtuple("scputimes", "user nice system idle iowait irq softirq steal guest guest_nice")
svmem = namedtuple("svmem", "total available percent used free active inactive buffers cached shared slab")
sswap = namedtuple("sswap", "total used free percent sin sout")
sdiskio = namedtuple(
    "sdiskio",
    "read_count write_count read_bytes write_bytes read_time write_time read_merged_count write_merged_count busy_time",
)
snetio = namedtuple("snetio", "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout")
sconn = namedtuple("sconn", "fd family type laddr raddr status pid")
pcputimes = namedtuple("pcputimes", "user system children_user children_system iowait")
pmem = namedtuple("pmem", "rss vms shared text lib data dirty")
pio = namedtuple("pio", "read_count write_count read_bytes write_bytes read_chars write_chars")
pctxsw = namedtuple("pctxsw", "voluntary involuntary")

GIB = 2**30


def cpu(user: float, system: float, idle: float, *, nice: float = 0.0, iowait: float = 0.0) -> scputimes:
    """CPU times with irq 1 s, softirq 2 s, steal 0.5 s and guest time (already inside user) 7 s."""
    return scputimes(user, nice, system, idle, iowait, 1.0, 2.0, 0.5, 7.0, 0.0)


class CannedHost:
    """A psutil-like module: each reading is an attribute the test sets; calls are counted."""

    def __init__(self) -> None:
        self.cpu_total = cpu(100.0, 50.0, 346.5)
        self.cpu_each = [cpu(60.0, 30.0, 100.0), cpu(40.0, 20.0, 246.5)]
        self.memory = svmem(16 * GIB, 10 * GIB, 37.5, 6 * GIB, 4 * GIB, 0, 0, 1 * GIB, 5 * GIB, 0, 0)
        self.swap = sswap(2 * GIB, GIB // 2, 3 * GIB // 2, 25.0, 0, 0)
        self.disks = {
            "nvme0n1": sdiskio(10, 20, 4096, 8192, 1500, 2500, 0, 0, 3000),
            "loop3": sdiskio(1, 1, 1, 1, 1, 1, 0, 0, 1),
        }
        self.nics = {"eth0": snetio(1000, 2000, 10, 20, 1, 2, 3, 4)}
        self.connections = [
            sconn(3, socket.AF_INET, socket.SOCK_STREAM, (), (), psutil.CONN_ESTABLISHED, 1),
            sconn(4, socket.AF_INET6, socket.SOCK_STREAM, (), (), psutil.CONN_ESTABLISHED, 1),
            sconn(5, socket.AF_INET, socket.SOCK_STREAM, (), (), psutil.CONN_LISTEN, 1),
            sconn(6, socket.AF_INET, socket.SOCK_STREAM, (), (), psutil.CONN_SYN_RECV, 1),
            sconn(7, socket.AF_INET, socket.SOCK_DGRAM, (), (), psutil.CONN_NONE, 1),
        ]
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def cpu_count(self, logical: bool = True) -> int:
        return 2

    def cpu_times(self, percpu: bool = False) -> Any:
        self._count("cpu_times")
        return list(self.cpu_each) if percpu else self.cpu_total

    def virtual_memory(self) -> svmem:
        self._count("virtual_memory")
        return self.memory

    def swap_memory(self) -> sswap:
        self._count("swap_memory")
        return self.swap

    def disk_io_counters(self, perdisk: bool = False) -> dict[str, sdiskio]:
        self._count("disk_io_counters")
        return dict(self.disks)

    def net_io_counters(self, pernic: bool = False) -> dict[str, snetio]:
        self._count("net_io_counters")
        return dict(self.nics)

    def net_connections(self, kind: str = "inet") -> list[sconn]:
        self._count("net_connections")
        return list(self.connections)


class CannedProcess:
    """A psutil.Process-like object with canned readings."""

    def __init__(self) -> None:
        self.times = pcputimes(3.0, 1.0, 0.0, 0.0, 0.25)
        self.memory = pmem(300 * 2**20, 900 * 2**20, 0, 0, 0, 0, 0)
        self.threads = 7
        self.fds = 12
        self.io = pio(5, 6, 4096, 1024, 0, 0)
        self.switches = pctxsw(40, 2)

    def cpu_times(self) -> pcputimes:
        return self.times

    def memory_info(self) -> pmem:
        return self.memory

    def num_threads(self) -> int:
        return self.threads

    def num_fds(self) -> int:
        return self.fds

    def io_counters(self) -> pio:
        return self.io

    def num_ctx_switches(self) -> pctxsw:
        return self.switches
