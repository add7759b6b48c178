"""System and process metrics through opentelemetry-instrumentation-system-metrics, real psutil."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import psutil
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from readback import collect

from infertel import environment_variables as env
from infertel._internal.resources import install, start_resource_metrics
from infertel._internal.resources.system import DEFAULT_SYSTEM_METRICS, resolve_system_metrics, upstream_config

SCOPE = "opentelemetry.instrumentation.system_metrics"

DEFAULT_UNITS = {
    "system.cpu.utilization": ("1", "gauge"),
    "system.memory.usage": ("By", "gauge"),
    "system.memory.utilization": ("1", "gauge"),
    "system.disk.io": ("By", "counter"),
    "system.disk.operations": ("{operation}", "counter"),
    "system.network.io": ("By", "counter"),
    "process.cpu.utilization": ("1", "gauge"),
    "process.cpu.time": ("s", "counter"),
    "process.memory.usage": ("By", "updowncounter"),
    "process.memory.virtual": ("By", "updowncounter"),
    "process.thread.count": ("{thread}", "updowncounter"),
    "process.open_file_descriptor.count": ("{file_descriptor}", "updowncounter"),
    "process.disk.io": ("By", "counter"),
}


def test_default_set_exact_names_and_units(meter_provider: MeterProvider, metric_reader: InMemoryMetricReader) -> None:
    handle = install(meter_provider, gpu=False)
    try:
        got = collect(metric_reader, SCOPE)
    finally:
        handle.shutdown()
    assert set(handle.system_metrics) == set(DEFAULT_SYSTEM_METRICS) == set(DEFAULT_UNITS)
    names = set(DEFAULT_UNITS)
    if not psutil.disk_io_counters(perdisk=True):  # containers without block devices report none
        names -= {"system.disk.io", "system.disk.operations"}
    assert set(got) == names
    for name in names:
        assert (got[name].unit, got[name].kind) == DEFAULT_UNITS[name], name
    me = psutil.Process()
    assert got["process.memory.usage"].value() == pytest.approx(me.memory_info().rss, rel=0.2)
    assert got["process.thread.count"].value() == me.num_threads()
    assert got["process.open_file_descriptor.count"].value() == pytest.approx(me.num_fds(), abs=3)
    total = psutil.virtual_memory().total
    assert got["system.memory.usage"].value(state="used") <= total
    assert 0 <= got["system.memory.utilization"].value(state="used") <= 1
    assert {dict(k)["direction"] for k in got["system.network.io"].points} == {"receive", "transmit"}
    cpu = got["system.cpu.utilization"].points
    assert sorted(dict(k)["state"] for k in cpu) == ["idle", "irq", "system", "user"]  # host-wide: no "cpu"
    assert all(0 <= v <= 1 for v in cpu.values())
    assert sum(cpu.values()) <= 1.0 + 1e-9
    for name in names & {"system.disk.io", "system.disk.operations"}:
        devices = {dict(k)["device"] for k in got[name].points}
        assert not any(d.startswith(("loop", "ram", "zram")) for d in devices), devices


def test_per_cpu_restores_upstream_breakdown(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env.INFERTEL_RESOURCE_METRICS_PER_CPU, "on")
    handle = install(meter_provider, gpu=False, system_metrics=["system.cpu.utilization", "system.cpu.time"])
    try:
        got = collect(metric_reader, SCOPE)
    finally:
        handle.shutdown()
    cpus = psutil.cpu_count()
    assert {dict(k)["cpu"] for k in got["system.cpu.utilization"].points} == set(range(1, cpus + 1))
    assert len(got["system.cpu.time"].points) == cpus * 4
    assert got["system.cpu.time"].unit == "s"


def test_all_and_explicit_lists(meter_provider: MeterProvider, metric_reader: InMemoryMetricReader) -> None:
    available = upstream_config()
    assert available is not None
    chosen = resolve_system_metrics("all", available)
    assert "system.network.connections" in chosen and len(chosen) == len(available)
    handle = install(meter_provider, gpu=False, system_metrics=["process.memory.usage", "system.network.connections"])
    try:
        got = collect(metric_reader, SCOPE)
    finally:
        handle.shutdown()
    assert "process.memory.usage" in got
    assert set(got) <= {"process.memory.usage", "system.network.connections"}
    if "system.network.connections" in got:  # needs permission to list sockets
        assert got["system.network.connections"].unit == "{connection}"


def test_unknown_metric_name_is_a_value_error_naming_setting_and_accepted_values(meter_provider: MeterProvider) -> None:
    with pytest.raises(ValueError, match=r"system_metrics: unknown system metric 'system.cpu.utilisation'") as info:
        start_resource_metrics(meter_provider=meter_provider, system_metrics=["system.cpu.utilisation"], gpu=False)
    assert "system.cpu.utilization" in str(info.value) and "default, all" in str(info.value)


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
    with pytest.raises(ValueError, match="system_metrics=5: expected 'default', 'all', a list"):
        start_resource_metrics(meter_provider=meter_provider, system_metrics=5)  # type: ignore[arg-type]
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


def test_upstream_exclusion_variable_is_honoured(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_SYSTEM_METRICS_EXCLUDED_METRICS", "system.*")
    handle = install(meter_provider, gpu=False)
    try:
        got = collect(metric_reader)
    finally:
        handle.shutdown()
    assert got and all(name.startswith("process.") for name in got)


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
    metrics = ["process.open_file_descriptor.count", "process.memory.usage", "process.thread.count",
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
    assert process.calls["num_threads"] >= 3
    assert snap.host is not None
    assert snap.host.process_open_file_descriptors is None and snap.host.process_memory_bytes is None
    assert snap.host.process_thread_count == psutil.Process().num_threads()
    absent = [r.getMessage() for r in caplog.records if "absent" in r.getMessage()]
    assert len(absent) == 5, absent  # fds, memory (metric, snapshot each) + context switches


def test_no_double_reporting_when_upstream_instrumented_the_global_provider(
    metric_reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

    class Instrumented:
        is_instrumented_by_opentelemetry = True

    monkeypatch.setattr(SystemMetricsInstrumentor, "_instance", Instrumented())
    with caplog.at_level(logging.INFO, logger="infertel"):
        handle = install(None, gpu=False)
    handle.shutdown()
    assert handle.system_metrics == ()
    assert any("not adding them twice" in r.getMessage() for r in caplog.records)
