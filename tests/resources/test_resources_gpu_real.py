"""The real NVML path on a machine with an NVIDIA GPU; skipped cleanly without one."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from readback import collect

from infertel import semconv
from infertel._internal.resources import install
from infertel._internal.resources.nvml import NvmlSource


@pytest.fixture
def real_nvml() -> NvmlSource:
    source = NvmlSource()
    if not source.devices():
        source.close()
        pytest.skip(f"no NVIDIA GPU here: {source.unavailable_reason}")
    return source


@pytest.mark.gpu
def test_real_gpu_readings_are_plausible(
    real_nvml: NvmlSource, meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    handle = install(meter_provider, system_metrics=False, gpu_source=real_nvml)
    try:
        got = collect(metric_reader, semconv.INSTRUMENTATION_SCOPE)
        snap = handle.snapshot()
    finally:
        handle.shutdown()
        real_nvml.close()
    for gpu in snap.gpus:
        print(gpu)  # the closing note quotes this output (pytest -s)
        assert gpu.status == "ok"
        assert gpu.device.uuid.startswith(("GPU-", "MIG-"))
        if gpu.utilization is not None:
            assert 0.0 <= gpu.utilization <= 1.0
        assert gpu.memory_used_bytes is not None and gpu.memory_total_bytes is not None
        assert 0 <= gpu.memory_used_bytes <= gpu.memory_total_bytes
        if gpu.power_watts is not None:
            assert 0.0 < gpu.power_watts < 2000.0
        if gpu.temperature_celsius is not None:
            assert 0.0 < gpu.temperature_celsius < 120.0
    assert got["hw.gpu.memory.limit"].unit == "By"
    for attrs, used in got["hw.gpu.memory.usage"].points.items():
        assert used <= got["hw.gpu.memory.limit"].points[attrs]
    assert all(0.0 <= v <= 1.0 for v in got["hw.gpu.memory.utilization"].points.values())
    if "hw.gpu.utilization" in got:
        assert all(0.0 <= v <= 1.0 for v in got["hw.gpu.utilization"].points.values())
    assert all(v == 1 for k, v in got["hw.status"].points.items() if dict(k)["hw.state"] == "ok")
