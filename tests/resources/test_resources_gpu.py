"""GPU metrics from canned NVML readings, read back through InMemoryMetricReader."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pynvml
import pytest
from fake_nvml import FakeGpu, FakeNvml, mig_gpu
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from readback import collect

from infertel import semconv
from infertel._internal.resources import ResourceMetrics, gpu, install
from infertel._internal.resources.nvml import GpuReadError, NvmlSource

GIB = 2**30
SCOPE = semconv.INSTRUMENTATION_SCOPE
OWN_PID = 4242


def three_gpus() -> list[FakeGpu]:
    return [
        FakeGpu(
            uuid="GPU-aaaa",
            bus_id="00000000:18:00.0",
            memory_used=20 * GIB,
            memory_total=80 * GIB,
            utilization=97,
            encoder=5,
            decoder=10,
            power_mw=612_345,
            energy_mj=9_876_543,
            temperature=71,
            ecc=(12, 1),
            pcie=(111, 222),
            compute=[(OWN_PID, 12 * GIB), (777, 6 * GIB)],
            graphics=[(OWN_PID, 12 * GIB), (888, None)],
        ),
        FakeGpu(
            uuid="GPU-bbbb",
            bus_id="00000000:2A:00.0",
            memory_used=1 * GIB,
            utilization=3,
            power_mw=None,  # the board does not report power: hw.power and nothing else absent
            energy_mj=None,
            ecc=None,
            pcie=None,
            compute=[(999, 1 * GIB)],
        ),
        mig_gpu("GPU-cccc", "00000000:3B:00.0"),
    ]


@pytest.fixture
def nvml() -> FakeNvml:
    return FakeNvml(three_gpus())


@pytest.fixture
def handle(meter_provider: MeterProvider, nvml: FakeNvml) -> Iterator[ResourceMetrics]:
    handle = install(meter_provider, system_metrics=False, gpu_source=NvmlSource(nvml), pid=OWN_PID)
    yield handle
    handle.shutdown()


def base(uuid: str, index: int, bus: str | None = None) -> dict:
    return {
        "hw.id": uuid,
        "hw.name": f"gpu{index}",
        "hw.vendor": "NVIDIA",
        "hw.type": "gpu",
        "infertel.gpu.pci_bus_id": bus,
    }


def described(attrs: dict, model: str = "NVIDIA H100 80GB HBM3") -> dict:
    """hw.status and hw.gpu.memory.limit also carry the descriptive attributes."""
    return {**attrs, "hw.model": model, "hw.driver_version": "550.54.15"}


def test_gpu_metrics_exact_names_units_attributes_values(
    handle: ResourceMetrics, metric_reader: InMemoryMetricReader
) -> None:
    got = collect(metric_reader, SCOPE)
    a = base("GPU-aaaa", 0, bus="00000000:18:00.0")
    b = base("GPU-bbbb", 1, bus="00000000:2A:00.0")
    c = base("GPU-cccc", 2, bus="00000000:3B:00.0")
    bus = "00000000:3B:00.0"
    m0 = {**base("MIG-GPU-cccc-0", 2, bus=bus), "hw.name": "gpu2/mig0", "hw.parent": "GPU-cccc"}
    m1 = {**base("MIG-GPU-cccc-1", 2, bus=bus), "hw.name": "gpu2/mig1", "hw.parent": "GPU-cccc"}
    a100, mig = "NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB MIG 3g.40gb"
    models = {"GPU-cccc": a100, "MIG-GPU-cccc-0": mig, "MIG-GPU-cccc-1": mig}

    def desc(attrs: dict) -> dict:
        return described(attrs, models.get(attrs["hw.id"], "NVIDIA H100 80GB HBM3"))

    def pts(*rows: tuple[dict, float]) -> dict:
        return {frozenset(attrs.items()): value for attrs, value in rows}

    expected = {
        "hw.gpu.utilization": ("1", "gauge", pts(
            ({**a, "hw.gpu.task": "general"}, 0.97), ({**a, "hw.gpu.task": "encoder"}, 0.05),
            ({**a, "hw.gpu.task": "decoder"}, 0.10), ({**b, "hw.gpu.task": "general"}, 0.03),
        )),  # b's video engines are idle: their series appear once used
        "hw.gpu.memory.utilization": ("1", "gauge", pts(
            (a, 0.25), (b, 1 / 80), (c, 3 / 80), (m0, 1 / 40), (m1, 2 / 40),
        )),
        "hw.gpu.memory.usage": ("By", "updowncounter", pts(
            (a, 20 * GIB), (b, 1 * GIB), (c, 3 * GIB), (m0, 1 * GIB), (m1, 2 * GIB),
        )),
        "hw.gpu.memory.limit": ("By", "updowncounter", pts(
            (desc(a), 80 * GIB), (desc(b), 80 * GIB), (desc(c), 80 * GIB), (desc(m0), 40 * GIB), (desc(m1), 40 * GIB),
        )),
        "hw.gpu.io": ("By", "counter", pts(
            ({**a, "network.io.direction": "receive"}, 111), ({**a, "network.io.direction": "transmit"}, 222),
        )),
        "hw.power": ("W", "gauge", pts((a, 612.345), (c, 250.5))),
        "hw.energy": ("J", "counter", pts((a, 9876.543), (c, 7000.0))),
        "hw.temperature": ("Cel", "gauge", pts((a, 71.0), (b, 60.0), (c, 45.0))),
        "hw.errors": ("{error}", "counter", pts(
            ({**a, "error.type": "corrected"}, 12), ({**a, "error.type": "uncorrected"}, 1),
            ({**c, "error.type": "corrected"}, 0), ({**c, "error.type": "uncorrected"}, 0),
        )),
        "hw.status": ("1", "updowncounter", pts(*(
            row for attrs in map(desc, (a, b, c, m0, m1))
            for row in (({**attrs, "hw.state": "ok"}, 1), ({**attrs, "hw.state": "failed"}, 0))
        ))),
        "infertel.process.gpu.memory.usage": ("By", "updowncounter", pts(
            (a, 12 * GIB), (b, 0), (c, 0), (m0, 0), (m1, 0),
        )),
        "infertel.gpu.process.memory.usage": ("By", "updowncounter", pts(
            ({**a, "process.pid": OWN_PID}, 12 * GIB), ({**a, "process.pid": 777}, 6 * GIB),
            ({**b, "process.pid": 999}, 1 * GIB),
            ({**m0, "process.pid": 5000}, 1 * GIB), ({**m1, "process.pid": 5001}, 2 * GIB),
        )),
    }  # fmt: skip
    assert sorted(got) == sorted(expected)
    for name, (unit, kind, points) in expected.items():
        assert (got[name].unit, got[name].kind) == (unit, kind), name
        assert got[name].points.keys() == points.keys(), name
        for attrs, value in points.items():
            assert got[name].points[attrs] == pytest.approx(value), (name, dict(attrs))


def test_one_nvml_pass_per_collection_and_unsupported_readings_asked_once(
    handle: ResourceMetrics, metric_reader: InMemoryMetricReader, nvml: FakeNvml
) -> None:
    for _ in range(3):
        collect(metric_reader)
    board_without_power, mig_device = nvml.gpus[1], nvml.gpus[2].migs[0]
    assert board_without_power.calls["memory"] == 3  # one read per collection, not one per instrument
    assert board_without_power.calls["power"] == 1  # NOT_SUPPORTED is remembered: nothing slowed
    assert board_without_power.calls["pcie"] == 1
    assert mig_device.calls["utilization"] == 1
    assert mig_device.calls["temperature"] == 1
    assert nvml.init_calls == 1
    assert handle.sampler.gpu_reads == 3


def test_device_failing_mid_run_drops_only_its_readings_and_logs_once(
    handle: ResourceMetrics,
    metric_reader: InMemoryMetricReader,
    nvml: FakeNvml,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert collect(metric_reader, SCOPE)["hw.gpu.memory.usage"].value(hw__id="GPU-bbbb") == GIB
    nvml.gpus[1].lost = True
    with caplog.at_level(logging.WARNING, logger="infertel"):
        for _ in range(3):
            got = collect(metric_reader, SCOPE)
            assert not got["hw.gpu.memory.usage"].by(hw__id="GPU-bbbb")
            assert not got["hw.temperature"].by(hw__id="GPU-bbbb")
            assert got["hw.gpu.memory.usage"].value(hw__id="GPU-aaaa") == 20 * GIB
            assert got["hw.status"].value(hw__id="GPU-bbbb", hw__state="failed") == 1
            assert got["hw.status"].value(hw__id="GPU-bbbb", hw__state="ok") == 0
            assert got["hw.status"].value(hw__id="GPU-aaaa", hw__state="ok") == 1
    lines = [r for r in caplog.records if "GPU-bbbb" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    nvml.gpus[1].lost = False
    assert collect(metric_reader, SCOPE)["hw.status"].value(hw__id="GPU-bbbb", hw__state="ok") == 1


def test_nvml_read_error_raises_gpu_read_error_for_a_lost_device(nvml: FakeNvml) -> None:
    source = NvmlSource(nvml)
    lost = source.devices()[1]
    nvml.gpus[1].lost = True
    with pytest.raises(GpuReadError, match="GPU-bbbb"):
        source.read(lost)
    source.close()
    assert nvml.shutdown_calls == 1
    source.close()
    assert nvml.shutdown_calls == 1


def test_driver_missing_means_no_gpu_metrics_one_line_one_init(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader, caplog: pytest.LogCaptureFixture
) -> None:
    nvml = FakeNvml(three_gpus(), init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    with caplog.at_level(logging.INFO, logger="infertel"):
        source = NvmlSource(nvml)
        handle = install(meter_provider, system_metrics=False, gpu_source=source)
        try:
            for _ in range(3):
                assert collect(metric_reader, SCOPE) == {}
            assert handle.snapshot().gpus == ()
        finally:
            handle.shutdown()
            source.close()
    assert nvml.init_calls == 1
    assert nvml.shutdown_calls == 0  # never initialised, never shut down
    lines = [r for r in caplog.records if "GPU metrics are absent" in r.getMessage()]
    assert len(lines) == 1 and "Shared Library Not Found" in lines[0].getMessage()


def test_nvml_library_absent_means_no_gpu_metrics(
    meter_provider: MeterProvider,
    metric_reader: InMemoryMetricReader,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    with caplog.at_level(logging.INFO, logger="infertel"):
        handle = install(meter_provider, system_metrics=False)
        try:
            for _ in range(2):
                assert collect(metric_reader, SCOPE) == {}
        finally:
            handle.shutdown()
    lines = [r.getMessage() for r in caplog.records if "GPU metrics are absent" in r.getMessage()]
    assert lines == ["infertel: GPU metrics are absent: nvidia-ml-py is not installed (pip install 'infertel[gpu]')"]


def test_real_nvml_source_never_raises_here() -> None:
    source = NvmlSource()
    devices = source.devices()
    assert isinstance(devices, tuple)
    if not devices:
        assert source.unavailable_reason
    source.close()


def test_per_process_metric_is_bounded_and_own_pid_absent_in_a_pid_namespace(
    meter_provider: MeterProvider,
    metric_reader: InMemoryMetricReader,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    crowded = FakeGpu(uuid="GPU-crowd", compute=[(1000 + i, (i + 1) * 2**20) for i in range(50)])
    monkeypatch.setattr(gpu, "in_host_pid_namespace", lambda: False)
    with caplog.at_level(logging.INFO, logger="infertel"):
        handle = install(meter_provider, system_metrics=False, gpu_source=NvmlSource(FakeNvml([crowded])))
        try:
            got = collect(metric_reader, SCOPE)
            collect(metric_reader, SCOPE)
        finally:
            handle.shutdown()
    per_pid = got["infertel.gpu.process.memory.usage"].points
    assert sorted(dict(attrs)["process.pid"] for attrs in per_pid) == list(range(1018, 1050))  # the 32 largest
    assert "infertel.process.gpu.memory.usage" not in got
    assert len([r for r in caplog.records if "own PID namespace" in r.getMessage()]) == 1


def test_gpu_process_metrics_can_be_turned_off(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    handle = install(
        meter_provider, system_metrics=False, gpu_processes=False, gpu_source=NvmlSource(FakeNvml(three_gpus()))
    )
    try:
        got = collect(metric_reader, SCOPE)
    finally:
        handle.shutdown()
    assert "infertel.gpu.process.memory.usage" not in got
    assert "hw.gpu.memory.usage" in got


def test_gpu_switch_off_touches_no_nvml(meter_provider: MeterProvider, metric_reader: InMemoryMetricReader) -> None:
    nvml = FakeNvml(three_gpus())
    handle = install(meter_provider, system_metrics=False, gpu=False, gpu_source=NvmlSource(nvml))
    try:
        assert collect(metric_reader, SCOPE) == {}
    finally:
        handle.shutdown()
    assert nvml.init_calls == 0


def test_a_bug_reading_one_device_drops_only_that_device(
    meter_provider: MeterProvider,
    metric_reader: InMemoryMetricReader,
    production_errors: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Buggy(NvmlSource):
        def read(self, device):  # type: ignore[no-untyped-def]
            if device.uuid == "GPU-bbbb":
                raise ZeroDivisionError("a bug")
            return super().read(device)

    handle = install(meter_provider, system_metrics=False, gpu_source=Buggy(FakeNvml(three_gpus())))
    try:
        with caplog.at_level(logging.WARNING, logger="infertel"):
            got = collect(metric_reader, SCOPE)
            collect(metric_reader, SCOPE)
    finally:
        handle.shutdown()
    assert {dict(k)["hw.id"] for k in got["hw.gpu.memory.usage"].points} == {
        "GPU-aaaa", "GPU-cccc", "MIG-GPU-cccc-0", "MIG-GPU-cccc-1",
    }  # fmt: skip
    assert len([r for r in caplog.records if "internal error" in r.getMessage()]) == 1


def test_shutdown_stops_reporting_and_releases_nvml(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader, nvml: FakeNvml
) -> None:
    handle = install(meter_provider, system_metrics=False, gpu_source=NvmlSource(nvml))
    assert collect(metric_reader, SCOPE)
    handle.shutdown()
    handle.shutdown()
    assert collect(metric_reader, SCOPE) == {}
    # An injected source belongs to the caller: the handle does not close it.
    assert nvml.shutdown_calls == 0


def test_video_engine_series_appear_once_used_and_stay(
    handle: ResourceMetrics, metric_reader: InMemoryMetricReader, nvml: FakeNvml
) -> None:
    assert not collect(metric_reader, SCOPE)["hw.gpu.utilization"].by(hw__id="GPU-bbbb", hw__gpu__task="encoder")
    nvml.gpus[1].encoder = 25
    assert collect(metric_reader, SCOPE)["hw.gpu.utilization"].value(hw__id="GPU-bbbb", hw__gpu__task="encoder") == 0.25
    nvml.gpus[1].encoder = 0
    assert collect(metric_reader, SCOPE)["hw.gpu.utilization"].value(hw__id="GPU-bbbb", hw__gpu__task="encoder") == 0.0
    assert not collect(metric_reader, SCOPE)["hw.gpu.utilization"].by(hw__id="GPU-bbbb", hw__gpu__task="decoder")


def test_no_gpu_means_no_gpu_metrics_and_one_line(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader, caplog: pytest.LogCaptureFixture
) -> None:
    nvml = FakeNvml([])
    with caplog.at_level(logging.INFO, logger="infertel"):
        handle = install(meter_provider, system_metrics=False, gpu_source=NvmlSource(nvml))
        try:
            for _ in range(3):
                assert collect(metric_reader, SCOPE) == {}
        finally:
            handle.shutdown()
    assert nvml.init_calls == 1
    assert [r.getMessage() for r in caplog.records] == ["infertel: GPU metrics are absent: NVML reports no GPU"]
