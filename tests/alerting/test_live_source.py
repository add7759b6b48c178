"""The live source: real statistics from the span processor, canned resource readings, the disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from processors.stats_support import FakeClock, end_genai_span

from infertel._internal.processors import install
from infertel._internal.resources.host import HostReading
from infertel._internal.resources.nvml import GpuDevice, GpuReading
from infertel._internal.resources.snapshot import ResourceSnapshot
from infertel.alerting import AlertEngine, LiveSource, SLORule, ThresholdRule


@pytest.fixture
def stats() -> tuple[TracerProvider, FakeClock, object]:
    clock = FakeClock(1000.0)
    provider = TracerProvider()
    handle = install(provider, clock=clock, windows_s=(60.0, 300.0))
    yield provider, clock, handle
    handle.uninstall()
    provider.shutdown()


def _resources() -> ResourceSnapshot:
    host = HostReading(cpu_utilization=0.91, memory_used_bytes=3, memory_total_bytes=4, memory_utilization=0.75,
                       process_pid=1, process_cpu_utilization=0.1, process_memory_bytes=1, process_thread_count=2,
                       process_open_file_descriptors=3)  # fmt: skip
    gpu = GpuReading(GpuDevice(index=0, uuid="GPU-1", name="gpu0", model="L4"), utilization=0.5,
                     memory_used_bytes=23, memory_total_bytes=24)  # fmt: skip
    return ResourceSnapshot(timestamp=0.0, host=host, gpus=(gpu,))


def test_samples_from_statistics_resources_and_disk(stats: tuple, tmp_path: Path) -> None:
    provider, clock, handle = stats
    tracer = provider.get_tracer("t")
    for i in range(60):  # 60 requests in the last minute: a third fail, a tenth take 2 s
        end_genai_span(tracer, model="llama", latency_s=2.0 if i % 10 == 0 else 0.2, ttft_s=0.05, output_tokens=10,
                       error_type="timeout" if i % 3 == 0 else None)  # fmt: skip
    source = LiveSource(stats=handle.snapshot, resources=_resources, disk_paths=(str(tmp_path),),
                        latency_thresholds_s=(1.0,))  # fmt: skip
    first = {(name, tuple(sorted(labels.items()))): value for name, labels, value, _ in source.collect(0.0)}
    second = {(name, tuple(sorted(labels.items()))): value for name, labels, value, _ in source.collect(15.0)}
    series = (("gen_ai_operation_name", "chat"), ("gen_ai_request_model", "llama"))
    assert first[("infertel_live_requests_total", series)] == 0.0  # the first round has no interval to integrate
    (live,) = handle.snapshot(60.0).values()  # the rates the source integrates over the 15 s between rounds
    requests_per_s = live.requests_per_s
    assert (live.requests, live.errors) == (60, 20)
    assert second[("infertel_live_requests_total", series)] == pytest.approx(requests_per_s * 15)
    assert second[("infertel_live_errors_total", series)] == pytest.approx(requests_per_s * 15 / 3)
    assert second[("infertel_live_output_tokens_total", series)] == pytest.approx(10 * requests_per_s * 15)
    slow = second[("infertel_live_slow_requests_total", (*series, ("le", "1")))]
    assert 0 < slow <= requests_per_s * 15 * 0.1 + 1e-9  # about a tenth are slower than 1 s (quantile-interpolated)
    assert second[("infertel_live_latency_seconds", (*series, ("quantile", "0.5")))] == pytest.approx(0.2, rel=0.02)
    assert second[("infertel_live_latency_seconds", (*series, ("quantile", "0.99")))] == pytest.approx(2.0, rel=0.02)
    assert second[("infertel_live_ttft_seconds", (*series, ("quantile", "0.5")))] == pytest.approx(0.05, rel=0.02)
    assert second[("infertel_live_cpu_utilization", ())] == 0.91
    assert second[("infertel_live_memory_utilization", ())] == 0.75
    assert second[("infertel_live_gpu_utilization", (("hw_id", "GPU-1"),))] == 0.5
    assert second[("infertel_live_gpu_memory_utilization", (("hw_id", "GPU-1"),))] == pytest.approx(23 / 24)
    usage = shutil.disk_usage(tmp_path)
    disk = second[("infertel_live_filesystem_utilization", (("mountpoint", str(tmp_path)),))]
    assert disk == pytest.approx(usage.used / usage.total, abs=0.01)


def test_live_rules_fire_on_the_live_series(stats: tuple, tmp_path: Path) -> None:
    provider, clock, handle = stats
    tracer = provider.get_tracer("t")
    source = LiveSource(stats=handle.snapshot, resources=_resources, disk_paths=(), latency_thresholds_s=(1.0,))
    rules = [
        ThresholdRule("HotCpu", signal="cpu_utilization", threshold=0.9),
        ThresholdRule("Errors", signal="error_rate", threshold=0.2, window_s=60),
        ThresholdRule("SlowP99", signal="latency_p99", threshold=1.5),
        SLORule("Availability", objective=0.99, period_s=86_400.0, min_events=10),
    ]
    engine = AlertEngine(rules, source=source)
    for step in range(12):
        for i in range(20):
            end_genai_span(tracer, model="llama", latency_s=2.0 if i == 0 else 0.3,
                           error_type="timeout" if i % 4 == 0 else None)  # fmt: skip
        clock.advance(15)
        engine.evaluate(step * 15.0)
    firing = sorted((a.name, a.labels.get("gen_ai_request_model", ""), a.severity) for a in engine.alerts()
                    if a.state == "firing")  # fmt: skip
    assert firing == [
        ("Availability", "llama", "page"),
        ("Availability", "llama", "ticket"),
        ("Errors", "llama", "warning"),
        ("HotCpu", "", "warning"),
        ("SlowP99", "llama", "warning"),
    ]


def test_a_window_that_is_not_configured_falls_back_to_the_closest_one(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(1000.0)
    provider = TracerProvider()
    handle = install(provider, clock=clock, windows_s=(30.0, 900.0))  # neither 60 nor 300
    try:
        end_genai_span(provider.get_tracer("t"), model="llama", latency_s=0.5)
        source = LiveSource(resources=None, disk_paths=())  # reads infertel.stats(), the installed statistics
        for at in (0.0, 15.0):
            names = {name for name, _, _, _ in source.collect(at)}
        assert {"infertel_live_requests_total", "infertel_live_latency_seconds"} <= names
        warnings = [r.getMessage() for r in caplog.records if "not configured" in r.getMessage()]
        assert warnings == [
            "alerting: statistics window 60s is not configured (INFERTEL_STATS_WINDOWS); using 30s",
            "alerting: statistics window 300s is not configured (INFERTEL_STATS_WINDOWS); using 30s",
        ]  # once each, not every round
    finally:
        handle.uninstall()
        provider.shutdown()
