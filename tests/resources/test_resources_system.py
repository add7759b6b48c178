"""System and process metrics: infertel's psutil-fed instruments under the current semantic-convention names."""

from __future__ import annotations

import gc
import logging
import os
import sys
import warnings
from typing import Any

import psutil
import pytest
from canned_psutil import GIB, CannedHost, CannedProcess, cpu, pcputimes
from fake_nvml import FakeGpu, FakeNvml
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from readback import collect

from infertel import environment_variables as env
from infertel import semconv
from infertel._internal.resources import install, start_resource_metrics, system
from infertel._internal.resources.nvml import NvmlSource
from infertel._internal.resources.system import CATALOGUE, DEFAULT_SYSTEM_METRICS, resolve_system_metrics
from infertel._internal.resources.system_readings import SystemReadings
from infertel.version import __version__

SCOPE = semconv.INSTRUMENTATION_SCOPE
MIB = 2**20


def pts(*points: tuple[dict[str, Any], float]) -> dict[frozenset[tuple[str, Any]], float]:
    return {frozenset(attributes.items()): value for attributes, value in points}


def modes(**values: float) -> dict[frozenset[tuple[str, Any]], float]:
    return pts(*(({"cpu.mode": mode}, value) for mode, value in values.items()))


@pytest.fixture(autouse=True)
def fresh_deprecation_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "_warned", set())


# Every metric of the catalogue but cpython.gc.* (real interpreter figures, checked apart), from
# the canned readings of canned_psutil: kind, unit and every data point.
CANNED: dict[str, tuple[str, str, dict[frozenset[tuple[str, Any]], float]]] = {
    "system.cpu.utilization": ("gauge", "1", modes(  # first collection: shares since boot
        user=0.2, system=0.1, nice=0.0, idle=0.693, iowait=0.0, interrupt=0.006, steal=0.001)),
    "system.cpu.time": ("counter", "s", modes(
        user=100.0, system=50.0, nice=0.0, idle=346.5, iowait=0.0, interrupt=3.0, steal=0.5)),
    "system.memory.usage": ("updowncounter", "By", pts(
        ({"system.memory.state": "used"}, 6 * GIB), ({"system.memory.state": "free"}, 4 * GIB),
        ({"system.memory.state": "cached"}, 5 * GIB), ({"system.memory.state": "buffers"}, 1 * GIB))),
    "system.memory.utilization": ("gauge", "1", pts(
        ({"system.memory.state": "used"}, 0.375), ({"system.memory.state": "free"}, 0.25),
        ({"system.memory.state": "cached"}, 0.3125), ({"system.memory.state": "buffers"}, 0.0625))),
    "system.paging.usage": ("updowncounter", "By", pts(
        ({"system.paging.state": "used"}, GIB // 2), ({"system.paging.state": "free"}, 3 * GIB // 2))),
    "system.paging.utilization": ("gauge", "1", pts(
        ({"system.paging.state": "used"}, 0.25), ({"system.paging.state": "free"}, 0.75))),
    "system.disk.io": ("counter", "By", pts(  # loop3 left out
        ({"system.device": "nvme0n1", "disk.io.direction": "read"}, 4096),
        ({"system.device": "nvme0n1", "disk.io.direction": "write"}, 8192))),
    "system.disk.operations": ("counter", "{operation}", pts(
        ({"system.device": "nvme0n1", "disk.io.direction": "read"}, 10),
        ({"system.device": "nvme0n1", "disk.io.direction": "write"}, 20))),
    "system.disk.io_time": ("counter", "s", pts(({"system.device": "nvme0n1"}, 3.0))),
    "system.disk.operation_time": ("counter", "s", pts(
        ({"system.device": "nvme0n1", "disk.io.direction": "read"}, 1.5),
        ({"system.device": "nvme0n1", "disk.io.direction": "write"}, 2.5))),
    "system.network.io": ("counter", "By", pts(
        ({"network.interface.name": "eth0", "network.io.direction": "receive"}, 2000),
        ({"network.interface.name": "eth0", "network.io.direction": "transmit"}, 1000))),
    "system.network.packet.count": ("counter", "{packet}", pts(
        ({"system.device": "eth0", "network.io.direction": "receive"}, 20),
        ({"system.device": "eth0", "network.io.direction": "transmit"}, 10))),
    "system.network.packet.dropped": ("counter", "{packet}", pts(
        ({"network.interface.name": "eth0", "network.io.direction": "receive"}, 3),
        ({"network.interface.name": "eth0", "network.io.direction": "transmit"}, 4))),
    "system.network.errors": ("counter", "{error}", pts(
        ({"network.interface.name": "eth0", "network.io.direction": "receive"}, 1),
        ({"network.interface.name": "eth0", "network.io.direction": "transmit"}, 2))),
    "system.network.connection.count": ("updowncounter", "{connection}", pts(
        ({"network.transport": "tcp", "network.connection.state": "established"}, 2),
        ({"network.transport": "tcp", "network.connection.state": "listen"}, 1),
        ({"network.transport": "tcp", "network.connection.state": "syn_received"}, 1),
        ({"network.transport": "udp"}, 1))),
    "process.cpu.utilization": ("gauge", "1", modes(user=0.0, system=0.0, wait=0.0)),
    "process.cpu.time": ("counter", "s", modes(user=3.0, system=1.0, wait=0.25)),
    "process.memory.usage": ("updowncounter", "By", pts(({}, 300 * MIB))),
    "process.memory.virtual": ("updowncounter", "By", pts(({}, 900 * MIB))),
    "process.thread.count": ("updowncounter", "{thread}", pts(({}, 7))),
    "process.unix.file_descriptor.count": ("updowncounter", "{file_descriptor}", pts(({}, 12))),
    "process.disk.io": ("counter", "By", pts(
        ({"disk.io.direction": "read"}, 4096), ({"disk.io.direction": "write"}, 1024))),
    "process.context_switches": ("counter", "{context_switch}", pts(
        ({"process.context_switch.type": "voluntary"}, 40), ({"process.context_switch.type": "involuntary"}, 2))),
}  # fmt: skip

GC = ("cpython.gc.collections", "cpython.gc.collected_objects", "cpython.gc.uncollectable_objects")


def test_every_metric_from_canned_readings(meter_provider: MeterProvider, metric_reader: InMemoryMetricReader) -> None:
    assert set(CATALOGUE) == set(CANNED) | set(GC)
    handle = install(meter_provider, gpu=False, system_metrics="all", system=CannedHost(), process=CannedProcess())
    before = gc.get_stats()
    try:
        got = collect(metric_reader, SCOPE)
    finally:
        handle.shutdown()
    after = gc.get_stats()
    assert handle.system_metrics == tuple(CATALOGUE)
    assert set(got) == set(CATALOGUE)
    for name, (kind, unit, points) in CANNED.items():
        assert (got[name].kind, got[name].unit) == (kind, unit), name
        assert got[name].points == pytest.approx(points), name
    for name, key in zip(GC, ("collections", "collected", "uncollectable"), strict=True):
        assert (got[name].kind, got[name].unit) == ("counter", "{collection}" if key == "collections" else "{object}")
        assert {dict(k)["cpython.gc.generation"] for k in got[name].points} == set(range(len(before)))
        for generation, (low, high) in enumerate(zip(before, after, strict=True)):
            assert low[key] <= got[name].value(cpython__gc__generation=generation) <= high[key]


def test_cpu_utilization_is_the_share_since_the_previous_collection(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    host = CannedHost()
    handle = install(meter_provider, gpu=False, system_metrics=["system.cpu.utilization"], system=host)
    try:
        assert collect(metric_reader)["system.cpu.utilization"].points == pytest.approx(
            CANNED["system.cpu.utilization"][2]
        )
        host.cpu_total = cpu(110.0, 55.0, 381.5)  # +10 user, +5 system, +35 idle
        second = modes(user=0.2, system=0.1, nice=0.0, idle=0.7, iowait=0.0, interrupt=0.0, steal=0.0)
        assert collect(metric_reader)["system.cpu.utilization"].points == pytest.approx(second)
        # The kernel's counters did not move: the previous figures again, not a gap or a division by zero.
        assert collect(metric_reader)["system.cpu.utilization"].points == pytest.approx(second)
    finally:
        handle.shutdown()


def test_per_cpu_adds_the_logical_cpu_number(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    handle = install(
        meter_provider, gpu=False, per_cpu=True, system_metrics=["system.cpu.time", "system.cpu.utilization"],
        system=CannedHost(),
    )  # fmt: skip
    try:
        got = collect(metric_reader)
    finally:
        handle.shutdown()
    time = got["system.cpu.time"]
    assert len(time.points) == 14
    assert time.value(cpu__mode="user", cpu__logical_number=0) == 60.0
    assert time.value(cpu__mode="interrupt", cpu__logical_number=1) == 3.0
    assert {dict(k)["cpu.logical_number"] for k in got["system.cpu.utilization"].points} == {0, 1}
    assert got["system.cpu.utilization"].value(cpu__mode="idle", cpu__logical_number=0) == pytest.approx(100 / 193.5)


def test_process_cpu_utilization_divides_by_elapsed_time_and_cpus() -> None:
    process, clock = CannedProcess(), [10.0]
    readings = SystemReadings(CannedHost(), process, clock=lambda: clock[0])

    def shares() -> dict[str, float]:
        return {o.attributes["cpu.mode"]: o.value for o in readings.process_cpu_utilization(None)}  # type: ignore[arg-type,index]

    clock[0] = 12.0  # 2 s on 2 CPUs: 4 CPU-seconds of capacity
    process.times = pcputimes(4.0, 1.5, 0.0, 0.0, 0.25)
    assert shares() == {"user": 0.25, "system": 0.125, "wait": 0.0}
    assert shares() == {"user": 0.25, "system": 0.125, "wait": 0.0}  # no time elapsed: the previous figures


def test_default_set_on_the_real_host(meter_provider: MeterProvider, metric_reader: InMemoryMetricReader) -> None:
    handle = install(meter_provider, gpu=False)
    try:
        got = collect(metric_reader, SCOPE)
    finally:
        handle.shutdown()
    assert handle.system_metrics == DEFAULT_SYSTEM_METRICS
    names = set(DEFAULT_SYSTEM_METRICS)
    if not [d for d in psutil.disk_io_counters(perdisk=True) or {} if not d.startswith(("loop", "ram", "zram"))]:
        names -= {"system.disk.io", "system.disk.operations"}  # containers without block devices
    assert set(got) == names
    for name in names:
        assert (got[name].kind, got[name].unit) == (CANNED[name][0], CANNED[name][1]), name
    me = psutil.Process()
    assert got["process.memory.usage"].value() == pytest.approx(me.memory_info().rss, rel=0.2)
    # Background threads (other components' reapers and readers) may come and go meanwhile.
    assert got["process.thread.count"].value() == pytest.approx(me.num_threads(), abs=2)
    assert got["process.unix.file_descriptor.count"].value() == pytest.approx(me.num_fds(), abs=3)
    memory = psutil.virtual_memory()
    assert got["system.memory.usage"].value(system__memory__state="used") <= memory.total
    assert 0 <= got["system.memory.utilization"].value(system__memory__state="used") <= 1
    assert {dict(k)["network.io.direction"] for k in got["system.network.io"].points} == {"receive", "transmit"}
    cpu_shares = got["system.cpu.utilization"].points
    assert {dict(k)["cpu.mode"] for k in cpu_shares} >= {"user", "system", "idle"}
    assert all(set(dict(k)) == {"cpu.mode"} for k in cpu_shares)  # host-wide: no cpu.logical_number
    assert sum(cpu_shares.values()) == pytest.approx(1.0)
    assert set(got["process.cpu.time"].points) >= set(modes(user=0, system=0))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, DEFAULT_SYSTEM_METRICS),
        (True, DEFAULT_SYSTEM_METRICS),
        (False, ()),
        ("", ()),
        ("all", tuple(CATALOGUE)),
        ("process.thread.count, default", DEFAULT_SYSTEM_METRICS),
        (["system.network.connection.count", "process.memory.usage", "process.memory.usage"],
         ("system.network.connection.count", "process.memory.usage")),
    ],
)  # fmt: skip
def test_resolve(value: Any, expected: tuple[str, ...]) -> None:
    assert resolve_system_metrics(value) == expected


def test_deprecated_names_map_to_current_ones_with_one_warning_each() -> None:
    old = "process.open_file_descriptor.count,system.network.connections,system.swap.usage,process.runtime.memory"
    with pytest.warns(FutureWarning) as record:
        chosen = resolve_system_metrics(old, setting=env.INFERTEL_RESOURCE_METRICS_LIST)
    assert chosen == (
        "system.paging.usage",
        "system.network.connection.count",
        "process.memory.usage",
        "process.memory.virtual",
        "process.unix.file_descriptor.count",
    )
    assert [str(w.message) for w in record] == [
        "INFERTEL_RESOURCE_METRICS_LIST: the system metric name 'process.open_file_descriptor.count' is deprecated; "
        "infertel reports it as 'process.unix.file_descriptor.count' (the current semantic-convention name); "
        "use that name instead",
        "INFERTEL_RESOURCE_METRICS_LIST: the system metric name 'system.network.connections' is deprecated; "
        "infertel reports it as 'system.network.connection.count' (the current semantic-convention name); "
        "use that name instead",
        "INFERTEL_RESOURCE_METRICS_LIST: the system metric name 'system.swap.usage' is deprecated; "
        "infertel reports it as 'system.paging.usage' (the current semantic-convention name); use that name instead",
        "INFERTEL_RESOURCE_METRICS_LIST: the system metric name 'process.runtime.memory' is deprecated; "
        "infertel reports it as 'process.memory.usage', 'process.memory.virtual' (the current semantic-convention "
        "name); use that name instead",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_system_metrics(old) == chosen  # once per name and process


def test_every_upstream_name_is_current_or_mapped() -> None:
    upstream = pytest.importorskip("opentelemetry.instrumentation.system_metrics")
    emitted = {"system.network.dropped_packets", "process.runtime.cpython.memory", "process.runtime.cpython.cpu_time",
               "process.runtime.cpython.gc_count", "process.runtime.cpython.thread_count",
               "process.runtime.cpython.cpu.utilization", "process.runtime.cpython.context_switches"}  # fmt: skip
    for name in {*upstream._DEFAULT_CONFIG, *emitted}:
        assert name in CATALOGUE or name in semconv.DEPRECATED_SYSTEM_METRICS, name
    for replacements in semconv.DEPRECATED_SYSTEM_METRICS.values():
        assert set(replacements) <= set(CATALOGUE)
    assert not set(semconv.DEPRECATED_SYSTEM_METRICS) & set(CATALOGUE)


def test_deprecated_names_in_the_environment_report_current_names(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env.INFERTEL_RESOURCE_METRICS_LIST, "process.open_file_descriptor.count,system.thread_count")
    with pytest.warns(FutureWarning, match="deprecated"):
        handle = install(meter_provider, gpu=False, system=CannedHost(), process=CannedProcess())
    try:
        got = collect(metric_reader)
    finally:
        handle.shutdown()
    assert {name: (r.unit, r.points) for name, r in got.items()} == {
        "process.thread.count": ("{thread}", pts(({}, 7))),
        "process.unix.file_descriptor.count": ("{file_descriptor}", pts(({}, 12))),
    }


def test_unknown_metric_name_is_a_value_error_naming_setting_and_accepted_values(meter_provider: MeterProvider) -> None:
    with pytest.raises(ValueError, match=r"system_metrics: unknown system metric 'system.cpu.utilisation'") as info:
        start_resource_metrics(meter_provider=meter_provider, system_metrics=["system.cpu.utilisation"], gpu=False)
    assert "accepted: default, all, system.cpu.utilization, system.cpu.time" in str(info.value)
    assert "process.unix.file_descriptor.count" in str(info.value)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (env.INFERTEL_RESOURCE_METRICS_LIST, "process.memory.usage,nope", "INFERTEL_RESOURCE_METRICS_LIST: unknown"),
        (env.INFERTEL_RESOURCE_METRICS, "maybe", "INFERTEL_RESOURCE_METRICS='maybe': expected one of on, off"),
        (env.INFERTEL_GPU_METRICS, "2", "INFERTEL_GPU_METRICS='2'"),
        (env.INFERTEL_RESOURCE_METRICS_INTERVAL, "soon", "INFERTEL_RESOURCE_METRICS_INTERVAL='soon'"),
        (env.INFERTEL_RESOURCE_METRICS_INTERVAL, "0", "INFERTEL_RESOURCE_METRICS_INTERVAL=0.0: expected a number"),
    ],
)
def test_bad_environment_values(
    meter_provider: MeterProvider, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        install(meter_provider)


def test_bad_keyword_values(meter_provider: MeterProvider) -> None:
    with pytest.raises(ValueError, match="interval_s=-1: expected a number of seconds > 0"):
        start_resource_metrics(meter_provider=meter_provider, interval_s=-1)
    with pytest.raises(ValueError, match="gpu='yes': expected True, False or None"):
        start_resource_metrics(meter_provider=meter_provider, gpu="yes")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match="system_metrics=5: expected 'default', 'all', a list of metric names or False"
    ):
        start_resource_metrics(meter_provider=meter_provider, system_metrics=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"system_metrics=\{'process.memory.usage': None\}: expected"):
        start_resource_metrics(meter_provider=meter_provider, system_metrics={"process.memory.usage": None})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        start_resource_metrics(meter_provider)  # type: ignore[misc]  # keyword-only


def test_environment_chooses_list_and_switches(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env.INFERTEL_RESOURCE_METRICS_LIST, "process.thread.count, process.memory.usage")
    monkeypatch.setenv(env.INFERTEL_GPU_METRICS, "off")
    handle = install(meter_provider)
    try:
        assert set(collect(metric_reader)) == {"process.thread.count", "process.memory.usage"}
        assert handle.gpu is False
    finally:
        handle.shutdown()
    monkeypatch.setenv(env.INFERTEL_RESOURCE_METRICS, "off")
    off = install(meter_provider)
    assert (off.system_metrics, off.gpu) == ((), False)
    assert collect(metric_reader) == {}  # the first handle is shut down, the second installed nothing
    off.shutdown()


def test_disabled_installs_nothing(meter_provider: MeterProvider, metric_reader: InMemoryMetricReader) -> None:
    handle = install(meter_provider, enabled=False)
    assert handle.system_metrics == () and handle.gpu is False
    assert collect(metric_reader) == {}
    assert handle.snapshot().host is not None  # the snapshot still answers
    handle.shutdown()


@pytest.mark.parametrize(
    ("patterns", "left"),
    [
        ("system.*", {"process.cpu.utilization", "process.cpu.time", "process.memory.usage", "process.memory.virtual",
                      "process.thread.count", "process.unix.file_descriptor.count", "process.disk.io"}),
        ("process.open_file_descriptor.count, process.cpu.*, system.*", {"process.memory.usage",
         "process.memory.virtual", "process.thread.count", "process.disk.io"}),  # a deprecated name still excludes
    ],
)  # fmt: skip
def test_upstream_exclusion_variable_is_honoured(
    meter_provider: MeterProvider,
    metric_reader: InMemoryMetricReader,
    monkeypatch: pytest.MonkeyPatch,
    patterns: str,
    left: set[str],
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_SYSTEM_METRICS_EXCLUDED_METRICS", patterns)
    handle = install(meter_provider, gpu=False, system=CannedHost(), process=CannedProcess())
    try:
        assert set(collect(metric_reader)) == left == set(handle.system_metrics)
    finally:
        handle.shutdown()


def test_two_providers_each_get_their_own_instruments(metric_reader: InMemoryMetricReader) -> None:
    other_reader = InMemoryMetricReader()
    first = MeterProvider(metric_readers=[metric_reader])
    second = MeterProvider(metric_readers=[other_reader])
    one = install(first, gpu=False, system_metrics=["process.memory.usage"])
    two = install(second, gpu=False, system_metrics=["process.thread.count"])
    try:
        assert set(collect(metric_reader)) == {"process.memory.usage"}
        assert set(collect(other_reader)) == {"process.thread.count"}
    finally:
        one.shutdown()
        two.shutdown()
        first.shutdown()
        second.shutdown()
    assert collect(metric_reader) == {}


def test_a_new_collector_on_the_same_provider_reports(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    process = CannedProcess()
    first = install(meter_provider, gpu=False, system_metrics=["process.thread.count"], process=process)
    first.shutdown()
    assert collect(metric_reader) == {}
    process.threads = 9
    second = install(
        meter_provider, gpu=False, system_metrics=["process.thread.count", "process.memory.usage"], process=process
    )
    try:
        got = collect(metric_reader)
        assert {name: r.points for name, r in got.items()} == {
            "process.thread.count": pts(({}, 9)),
            "process.memory.usage": pts(({}, 300 * MIB)),
        }
    finally:
        second.shutdown()


class DeniedProcess:
    """A psutil.Process-like object for which some calls are denied, as in a locked-down container."""

    def __init__(self, denied: set[str]) -> None:
        self._real = psutil.Process()
        self.denied = denied
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._real, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if name in self.denied:
                raise psutil.AccessDenied(pid=os.getpid(), name="python")
            return real(*args, **kwargs)

        return call


@pytest.mark.skipif(sys.platform == "win32", reason="num_fds is POSIX")
def test_access_denied_makes_the_metric_absent_with_one_line_and_no_retry(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader, caplog: pytest.LogCaptureFixture
) -> None:
    process = DeniedProcess({"num_fds", "memory_info", "num_ctx_switches"})
    metrics = ["process.unix.file_descriptor.count", "process.memory.usage", "process.thread.count",
               "process.context_switches"]  # fmt: skip
    with caplog.at_level(logging.INFO, logger="infertel"):
        handle = install(meter_provider, gpu=False, system_metrics=metrics, process=process)
        try:
            for _ in range(3):
                got = collect(metric_reader, SCOPE)
                assert set(got) == {"process.thread.count"}
                assert got["process.thread.count"].unit == "{thread}"
            snap = handle.snapshot()
        finally:
            handle.shutdown()
    assert process.calls["num_fds"] == 2  # once by the metric, once by the snapshot; never again
    assert process.calls["memory_info"] == 2
    assert process.calls["num_ctx_switches"] == 1
    assert process.calls["num_threads"] >= 3
    assert snap.host is not None
    assert snap.host.process_open_file_descriptors is None and snap.host.process_memory_bytes is None
    assert snap.host.process_thread_count == pytest.approx(psutil.Process().num_threads(), abs=2)
    absent = sorted(r.getMessage() for r in caplog.records if "absent" in r.getMessage())
    assert len(absent) == 5, absent  # fds, memory (metric, snapshot each) + context switches
    assert sum("process.unix.file_descriptor.count metric is absent" in m for m in absent) == 1


def test_one_reading_per_collection_and_no_costly_call_unless_chosen(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    host = CannedHost()
    handle = install(meter_provider, gpu=False, system=host, process=CannedProcess())
    try:
        collect(metric_reader)
        # virtual_memory feeds two metrics and disk_io_counters two: each read once. No net_connections.
        assert host.calls == {"cpu_times": 1, "virtual_memory": 1, "disk_io_counters": 1, "net_io_counters": 1}
        host.memory = host.memory._replace(used=7 * GIB, free=3 * GIB)
        got = collect(metric_reader)  # at once: a new collection reads afresh all the same
    finally:
        handle.shutdown()
    assert host.calls == {"cpu_times": 2, "virtual_memory": 2, "disk_io_counters": 2, "net_io_counters": 2}
    assert got["system.memory.usage"].value(system__memory__state="used") == 7 * GIB
    assert got["system.memory.utilization"].value(system__memory__state="used") == 7 / 16


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_reports_itself() -> None:
    readings = SystemReadings()
    assert readings.process.pid == os.getpid()
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python >= 3.12 warns when forking with threads running (other tests' readers): the child
        # here only writes to a pipe and exits, taking no lock.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: report which process the readings describe, and leave at once
        try:
            os.write(write, f"{readings.process.pid} {os.getpid()}".encode())
        finally:
            os._exit(0)
    os.close(write)
    reported, child = os.read(read, 100).decode().split()
    os.close(read)
    os.waitpid(pid, 0)
    assert reported == child == str(pid)
    assert readings.process.pid == os.getpid()  # the parent is untouched


def test_scope_is_infertel_with_its_schema_url(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    source = NvmlSource(FakeNvml([FakeGpu(uuid="GPU-aaaa", bus_id="00000000:18:00.0", memory_used=GIB)]))
    handle = install(
        meter_provider, system_metrics=["process.thread.count"], process=CannedProcess(), gpu_source=source
    )
    try:
        data = metric_reader.get_metrics_data()
    finally:
        handle.shutdown()
    assert data is not None
    scopes = [(s.scope.name, s.scope.version, s.scope.schema_url, s.schema_url)
              for rm in data.resource_metrics for s in rm.scope_metrics]  # fmt: skip
    # System and GPU metrics share the one infertel scope, under the semantic-convention version they follow.
    assert scopes == [("infertel", __version__, semconv.SCHEMA_URL, semconv.SCHEMA_URL)]
    names = {m.name for rm in data.resource_metrics for s in rm.scope_metrics for m in s.metrics}
    assert {"process.thread.count", "hw.gpu.utilization", "hw.gpu.memory.usage"} <= names
