"""The in-process snapshot: plain data, one reading per interval for any number of readers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace

import psutil
import pytest
from fake_nvml import FakeGpu, FakeNvml

import infertel.resources
from infertel._internal import state
from infertel._internal.resources import install
from infertel._internal.resources.host import PsutilSource
from infertel._internal.resources.nvml import GpuReading, NvmlSource
from infertel._internal.resources.snapshot import ResourceSampler, ResourceSnapshot


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def nvml() -> FakeNvml:
    return FakeNvml([FakeGpu(uuid="GPU-1", utilization=40), FakeGpu(uuid="GPU-2", utilization=80, power_mw=None)])


@pytest.fixture
def sampler(nvml: FakeNvml) -> Iterator[ResourceSampler]:
    clock = Clock()
    sampler = ResourceSampler(
        gpu_source=NvmlSource(nvml), host_source=PsutilSource(clock=clock), interval_s=2.0, clock=clock
    )
    yield sampler
    sampler.close()


def test_readers_within_one_interval_share_one_reading(sampler: ResourceSampler, nvml: FakeNvml) -> None:
    clock = sampler._gpu._clock  # the injected Clock
    assert isinstance(clock, Clock)
    first = sampler.snapshot()
    for _ in range(50):
        clock.now += 0.01
        assert sampler.snapshot().gpus is first.gpus
    assert (sampler.gpu_reads, sampler.host_reads) == (1, 1)
    assert nvml.gpus[0].calls["memory"] == 1
    clock.now = 1000.0 + 2.0  # one interval later
    second = sampler.snapshot()
    assert second.gpus is not first.gpus
    assert (sampler.gpu_reads, sampler.host_reads) == (2, 2)
    assert sampler.snapshot(max_age_s=0).gpus is not second.gpus  # a reader may ask for a fresh one
    assert sampler.gpu_reads == 3


def test_concurrent_readers_cost_one_reading(sampler: ResourceSampler) -> None:
    barrier = threading.Barrier(8)
    results: list[ResourceSnapshot] = []

    def reader() -> None:
        barrier.wait()
        for _ in range(20):
            results.append(sampler.snapshot())

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 160
    assert (sampler.gpu_reads, sampler.host_reads) == (1, 1)
    assert len({id(snap.gpus) for snap in results}) == 1


def test_snapshot_is_plain_data_with_the_canned_values(sampler: ResourceSampler) -> None:
    snap = sampler.snapshot()
    assert [(g.device.uuid, g.device.name, g.status, g.utilization) for g in snap.gpus] == [
        ("GPU-1", "gpu0", "ok", 0.4),
        ("GPU-2", "gpu1", "ok", 0.8),
    ]
    assert [g.power_watts for g in snap.gpus] == [300.0, None]
    assert snap.gpus[0].memory_utilization == 10 / 80
    as_dict = snap.to_dict()
    assert as_dict["gpus"][1]["device"]["uuid"] == "GPU-2"
    assert as_dict["host"]["memory_total_bytes"] == psutil.virtual_memory().total
    with pytest.raises(AttributeError):
        snap.gpus[0].utilization = 1.0  # type: ignore[misc]  # frozen


def test_failed_device_is_listed_as_failed(sampler: ResourceSampler, nvml: FakeNvml) -> None:
    nvml.gpus[1].lost = True
    snap = sampler.snapshot()
    assert [g.status for g in snap.gpus] == ["ok", "failed"]
    assert snap.gpus[1] == GpuReading(snap.gpus[1].device, status="failed")


def test_host_utilisation_from_deltas_with_an_injected_clock() -> None:
    clock = Clock()
    times = iter([SimpleNamespace(user=1.0, system=0.0), SimpleNamespace(user=1.5, system=0.5)])

    class Process:
        def cpu_times(self) -> SimpleNamespace:
            return next(times)

        def memory_info(self) -> SimpleNamespace:
            return SimpleNamespace(rss=123)

        def num_threads(self) -> int:
            return 7

        def num_fds(self) -> int:
            return 9

    source = PsutilSource(Process(), clock=clock, cpu_count=4)
    first = source.read()
    assert first.process_cpu_utilization is None and first.cpu_utilization is None
    clock.now += 0.5
    second = source.read()
    # 1.0 s of CPU over 0.5 s wall on 4 cores = half of the machine
    assert second.process_cpu_utilization == pytest.approx(0.5)
    assert (second.process_memory_bytes, second.process_thread_count, second.process_open_file_descriptors) == (
        123, 7, 9,
    )  # fmt: skip
    assert second.cpu_utilization is None or 0.0 <= second.cpu_utilization <= 1.0


def test_public_snapshot_reads_through_the_running_handle(nvml: FakeNvml) -> None:
    from opentelemetry.sdk.metrics import MeterProvider

    provider = MeterProvider()
    handle = install(provider, system_metrics=False, gpu_source=NvmlSource(nvml))
    try:
        snap = infertel.resources.snapshot()
        assert [g.device.uuid for g in snap.gpus] == ["GPU-1", "GPU-2"]
        assert infertel.resources.snapshot().gpus is snap.gpus
        previous = state.install(state.Runtime(extras={"resource_metrics": handle}))
        try:
            assert infertel.resources.snapshot().gpus is snap.gpus
        finally:
            state.install(previous)
    finally:
        handle.shutdown()
        provider.shutdown()
    # Without a running handle: a process-wide reader (no GPU on this machine, or the real ones).
    assert infertel.resources.snapshot().host is not None
