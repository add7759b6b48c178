"""A canned NVML: the subset of the ``pynvml`` API that NvmlSource calls, fed with fixed readings.

Errors are real ``pynvml.NVMLError`` subclasses and constants come from the real ``pynvml``, so
NvmlSource's error handling is exercised exactly as against a driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml


def nvml_error(code: int) -> pynvml.NVMLError:
    return pynvml.NVMLError(code)


@dataclass
class FakeGpu:
    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    bus_id: str = "00000000:18:00.0"
    memory_used: int = 10 * 2**30
    memory_total: int = 80 * 2**30
    utilization: int | None = 50  # percent; None = NOT_SUPPORTED (MIG devices)
    encoder: int | None = 0
    decoder: int | None = 0
    power_mw: int | None = 300_000
    energy_mj: int | None = 1_000_000
    temperature: int | None = 60
    ecc: tuple[int, int] | None = (3, 0)  # corrected, uncorrected
    pcie: tuple[int, int] | None = (1_000, 2_000)  # rx, tx bytes
    compute: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, used bytes)
    graphics: list[tuple[int, int | None]] = field(default_factory=list)
    migs: list[FakeGpu] | None = None  # MIG enabled when a list
    lost: bool = False  # every call answers GPU_IS_LOST
    calls: dict[str, int] = field(default_factory=dict)


class FakeNvml:
    """Module-like object standing in for ``pynvml``."""

    def __init__(self, gpus: list[FakeGpu], *, init_error: int | None = None, driver: str = "550.54.15") -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.driver = driver
        self.init_calls = 0
        self.shutdown_calls = 0

    def __getattr__(self, name: str) -> Any:
        # Constants and exception classes; any other pynvml function is deliberately missing.
        if name.startswith("NVML") and not name.startswith("nvml"):
            return getattr(pynvml, name)
        raise AttributeError(name)

    # -- library ------------------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self.init_calls += 1
        if self.init_error is not None:
            raise nvml_error(self.init_error)

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        return self.gpus[index]

    # -- identity -----------------------------------------------------------------------------
    @staticmethod
    def _use(gpu: FakeGpu, what: str) -> None:
        gpu.calls[what] = gpu.calls.get(what, 0) + 1
        if gpu.lost:
            raise nvml_error(pynvml.NVML_ERROR_GPU_IS_LOST)

    def nvmlDeviceGetUUID(self, gpu: FakeGpu) -> str:
        return gpu.uuid

    def nvmlDeviceGetName(self, gpu: FakeGpu) -> bytes:
        return gpu.name.encode()  # older pynvml returned bytes; NvmlSource accepts both

    def nvmlDeviceGetPciInfo(self, gpu: FakeGpu) -> SimpleNamespace:
        return SimpleNamespace(busId=gpu.bus_id)

    def nvmlDeviceGetMigMode(self, gpu: FakeGpu) -> list[int]:
        if gpu.migs is None:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return [pynvml.NVML_DEVICE_MIG_ENABLE, pynvml.NVML_DEVICE_MIG_ENABLE]

    def nvmlDeviceGetMaxMigDeviceCount(self, gpu: FakeGpu) -> int:
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, gpu: FakeGpu, slot: int) -> FakeGpu:
        if gpu.migs is None or slot >= len(gpu.migs):
            raise nvml_error(pynvml.NVML_ERROR_NOT_FOUND)
        return gpu.migs[slot]

    # -- readings -----------------------------------------------------------------------------
    def nvmlDeviceGetMemoryInfo(self, gpu: FakeGpu) -> SimpleNamespace:
        self._use(gpu, "memory")
        return SimpleNamespace(used=gpu.memory_used, total=gpu.memory_total, free=gpu.memory_total - gpu.memory_used)

    def _maybe(self, gpu: FakeGpu, what: str, value: Any) -> Any:
        self._use(gpu, what)
        if value is None:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return value

    def nvmlDeviceGetUtilizationRates(self, gpu: FakeGpu) -> SimpleNamespace:
        return SimpleNamespace(gpu=self._maybe(gpu, "utilization", gpu.utilization), memory=0)

    def nvmlDeviceGetEncoderUtilization(self, gpu: FakeGpu) -> list[int]:
        return [self._maybe(gpu, "encoder", gpu.encoder), 167_000]

    def nvmlDeviceGetDecoderUtilization(self, gpu: FakeGpu) -> list[int]:
        return [self._maybe(gpu, "decoder", gpu.decoder), 167_000]

    def nvmlDeviceGetPowerUsage(self, gpu: FakeGpu) -> int:
        return self._maybe(gpu, "power", gpu.power_mw)

    def nvmlDeviceGetTotalEnergyConsumption(self, gpu: FakeGpu) -> int:
        return self._maybe(gpu, "energy", gpu.energy_mj)

    def nvmlDeviceGetTemperature(self, gpu: FakeGpu, sensor: int) -> int:
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return self._maybe(gpu, "temperature", gpu.temperature)

    def nvmlDeviceGetTotalEccErrors(self, gpu: FakeGpu, error_type: int, counter_type: int) -> int:
        assert counter_type == pynvml.NVML_VOLATILE_ECC
        ecc = self._maybe(gpu, "ecc", gpu.ecc)
        return ecc[0] if error_type == pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED else ecc[1]

    def nvmlDeviceGetFieldValues(self, gpu: FakeGpu, field_ids: list[int]) -> list[SimpleNamespace]:
        self._use(gpu, "pcie")
        values = []
        for field_id in field_ids:
            if gpu.pcie is None:
                values.append(SimpleNamespace(nvmlReturn=pynvml.NVML_ERROR_NOT_SUPPORTED, value=None))
                continue
            number = gpu.pcie[0] if field_id == pynvml.NVML_FI_DEV_PCIE_COUNT_RX_BYTES else gpu.pcie[1]
            values.append(SimpleNamespace(nvmlReturn=pynvml.NVML_SUCCESS, value=SimpleNamespace(ullVal=number)))
        return values

    def nvmlDeviceGetComputeRunningProcesses(self, gpu: FakeGpu) -> list[SimpleNamespace]:
        self._use(gpu, "compute")
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in gpu.compute]

    def nvmlDeviceGetGraphicsRunningProcesses(self, gpu: FakeGpu) -> list[SimpleNamespace]:
        self._use(gpu, "graphics")
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in gpu.graphics]


def mig_gpu(uuid: str, bus_id: str) -> FakeGpu:
    """An A100 in MIG mode with two 3g.40gb devices: NVML reads memory and processes per MIG device only."""
    migs = [
        FakeGpu(
            uuid=f"MIG-{uuid}-{slot}",
            name="NVIDIA A100-SXM4-80GB MIG 3g.40gb",
            bus_id=bus_id,
            memory_used=(slot + 1) * 2**30,
            memory_total=40 * 2**30,
            utilization=None,
            encoder=None,
            decoder=None,
            power_mw=None,
            energy_mj=None,
            temperature=None,
            ecc=None,
            pcie=None,
            compute=[(5000 + slot, (slot + 1) * 2**30)],
        )
        for slot in range(2)
    ]
    return FakeGpu(
        uuid=uuid,
        name="NVIDIA A100-SXM4-80GB",
        bus_id=bus_id,
        memory_used=3 * 2**30,
        memory_total=80 * 2**30,
        utilization=None,  # NVML does not report utilisation of a GPU in MIG mode
        encoder=None,
        decoder=None,
        power_mw=250_500,
        energy_mj=7_000_000,
        temperature=45,
        ecc=(0, 0),
        pcie=None,
        migs=migs,
    )
