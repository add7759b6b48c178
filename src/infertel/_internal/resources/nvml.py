"""GPU readings as plain data, and the NVML source that produces them.

The collector (:mod:`.gpu`) and the snapshot (:mod:`.snapshot`) read GPUs only through the
:class:`GpuSource` protocol, so tests and benchmarks inject canned readings. :class:`NvmlSource`
is the real one: a thin wrapper over ``nvidia-ml-py`` (``pynvml``) that initialises NVML once,
enumerates the GPUs (and their MIG devices) once, and converts NVML's units (mW, mJ, percent)
to the OpenTelemetry ones (W, J, ratio).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from infertel import semconv

_logger = logging.getLogger(__name__)

STATUS_OK = semconv.HW_STATE_OK
STATUS_FAILED = semconv.HW_STATE_FAILED


@dataclass(frozen=True)
class GpuDevice:
    """Identity of one GPU or MIG device, read once.

    Attributes:
        index: NVML index of the physical GPU (of the parent GPU for a MIG device).
        uuid: Device UUID (``GPU-...`` or ``MIG-...``); the ``hw.id`` of its metrics.
        name: Short name, ``gpu0`` or ``gpu0/mig1``; the ``hw.name``.
        model: Product name (``NVIDIA H100 80GB HBM3``); the ``hw.model``.
        pci_bus_id: PCI bus id of the physical GPU, when known.
        parent_uuid: UUID of the physical GPU for a MIG device; the ``hw.parent``.
        mig_index: Index of the MIG device within its GPU, ``None`` for a physical GPU.
        driver_version: NVIDIA driver version, when known.

    Example:
        >>> GpuDevice(index=0, uuid="GPU-5f3c", name="gpu0", model="NVIDIA L4").name
        'gpu0'
    """

    index: int
    uuid: str
    name: str
    model: str
    pci_bus_id: str | None = None
    parent_uuid: str | None = None
    mig_index: int | None = None
    driver_version: str | None = None


@dataclass(frozen=True)
class GpuProcess:
    """One process holding memory on a GPU (PID as NVML reports it, in the host PID namespace).

    Example:
        >>> GpuProcess(pid=4242, memory_bytes=2**30).memory_bytes
        1073741824
    """

    pid: int
    memory_bytes: int | None


@dataclass(frozen=True)
class GpuReading:
    """One reading of one device. ``None`` means "not available on this device".

    Attributes:
        device: The device read.
        status: ``"ok"``, or ``"failed"`` when the device stopped answering (then every reading is ``None``).
        utilization: Fraction of time the GPU was busy (0..1), ``hw.gpu.task=general``.
        encoder_utilization: Fraction of time the video encoder was busy (0..1).
        decoder_utilization: Fraction of time the video decoder was busy (0..1).
        memory_used_bytes: GPU memory in use.
        memory_total_bytes: GPU memory size.
        power_watts: Power draw.
        energy_joules: Energy consumed since the driver was loaded.
        temperature_celsius: GPU die temperature.
        errors_corrected: Corrected ECC errors since the driver was loaded.
        errors_uncorrected: Uncorrected ECC errors since the driver was loaded.
        io_receive_bytes: PCIe bytes received, cumulative.
        io_transmit_bytes: PCIe bytes transmitted, cumulative.
        processes: Processes holding memory on the device; ``None`` when the list cannot be read.

    Example:
        >>> device = GpuDevice(index=0, uuid="GPU-5f3c", name="gpu0", model="NVIDIA L4")
        >>> GpuReading(device, memory_used_bytes=6, memory_total_bytes=24).memory_utilization
        0.25
    """

    device: GpuDevice
    status: str = STATUS_OK
    utilization: float | None = None
    encoder_utilization: float | None = None
    decoder_utilization: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    power_watts: float | None = None
    energy_joules: float | None = None
    temperature_celsius: float | None = None
    errors_corrected: int | None = None
    errors_uncorrected: int | None = None
    io_receive_bytes: int | None = None
    io_transmit_bytes: int | None = None
    processes: tuple[GpuProcess, ...] | None = field(default=None)

    @property
    def memory_utilization(self) -> float | None:
        """Fraction of the memory in use (used / total), ``None`` when either is unknown."""
        if self.memory_used_bytes is None or not self.memory_total_bytes:
            return None
        return self.memory_used_bytes / self.memory_total_bytes

    def process_memory_bytes(self, pid: int) -> int | None:
        """GPU memory held by ``pid`` on this device (0 when it holds none), ``None`` when unknown."""
        if self.processes is None:
            return None
        total = 0
        for process in self.processes:
            if process.pid == pid:
                if process.memory_bytes is None:
                    return None
                total += process.memory_bytes
        return total


class GpuReadError(Exception):
    """A device stopped answering (fell off the bus, driver reset): its reading is dropped.

    Example:
        >>> raise GpuReadError("gpu1 (GPU-5f3c) is lost")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        GpuReadError: gpu1 (GPU-5f3c) is lost
    """


@runtime_checkable
class GpuSource(Protocol):
    """What the GPU collector and the snapshot read. Implement it to feed canned readings.

    Threading: :meth:`read` may be called from several threads (metric readers, snapshot
    readers) at once. Exceptions: :meth:`devices` never raises (no GPU, no driver: empty);
    :meth:`read` raises :class:`GpuReadError` for a device that stopped answering.

    Example:
        >>> class OneGpu:
        ...     dev = GpuDevice(index=0, uuid="GPU-1", name="gpu0", model="Test GPU")
        ...     def devices(self): return (self.dev,)
        ...     def read(self, device): return GpuReading(device, utilization=0.5)
        ...     def close(self): pass
    """

    def devices(self) -> Sequence[GpuDevice]:
        """The devices to read, enumerated once."""
        ...

    def read(self, device: GpuDevice) -> GpuReading:
        """Read one device now."""
        ...

    def close(self) -> None:
        """Release the library (idempotent)."""
        ...


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class NvmlSource:
    """:class:`GpuSource` backed by NVML through ``pynvml`` (``nvidia-ml-py``).

    NVML is initialised once, on first use: without ``nvidia-ml-py``, without the driver
    (``libnvidia-ml.so`` missing) or without a GPU, :meth:`devices` is empty for the life of the
    source and one line is logged. A reading NVML does not support on a device (power on a MIG
    device, ECC on a consumer GPU, PCIe byte counters before Hopper) is asked once, then never
    again. A device that stops answering (``GPU_IS_LOST``) makes :meth:`read` raise
    :class:`GpuReadError`; other errors on one reading drop that reading, logged once per device.

    Threading: safe to share between threads (NVML is thread-safe; initialisation is locked).

    Args:
        nvml: An object with the ``pynvml`` functions and constants; default ``import pynvml``, imported
            here (NVML itself starts on first use). Tests pass a canned one.

    Example:
        >>> source = NvmlSource()
        >>> readings = [source.read(device) for device in source.devices()]
        >>> source.close()
    """

    def __init__(self, nvml: Any = None) -> None:
        if nvml is None:
            # Imported here, on the thread that builds the source (configure(), a check's factory), not
            # on first use: that is a collection on a background thread, and a fork() during an import
            # leaves the child's lock of that module held for ever (a --preload server's workers hang).
            try:
                import pynvml

                nvml = pynvml
            except ImportError:
                pass
        self._nvml = nvml
        self._lock = threading.Lock()
        self._started = False
        self._initialised = False
        self._closed = False
        self._devices: tuple[GpuDevice, ...] = ()
        self._handles: dict[str, Any] = {}
        self._unsupported: set[tuple[str, str]] = set()
        self._reported: set[tuple[str, str]] = set()
        self.unavailable_reason: str | None = None
        """Why no GPU is read (``None`` while NVML works), for logs and health checks."""

    # -- life cycle ---------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            try:
                self._initialise()
            finally:
                # Set last: a concurrent devices() waits on the lock instead of seeing no device yet.
                self._started = True

    def _initialise(self) -> None:
        if self._closed:
            return
        nvml = self._nvml
        if nvml is None:
            self._unavailable("nvidia-ml-py is not installed (pip install 'infertel[gpu]')")
            return
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            self._unavailable(f"NVML could not be initialised ({exc}); no NVIDIA driver or GPU?")
            return
        self._initialised = True
        try:
            self._devices = tuple(self._enumerate())
        except nvml.NVMLError as exc:
            self._unavailable(f"NVML could not list the GPUs ({exc})")
            return
        if not self._devices:
            self._unavailable("NVML reports no GPU")

    def _unavailable(self, reason: str) -> None:
        self.unavailable_reason = reason
        _logger.info("infertel: GPU metrics are absent: %s", reason)

    def close(self) -> None:
        """Shut NVML down if this source initialised it (idempotent)."""
        with self._lock:
            if self._initialised and not self._closed:
                try:
                    self._nvml.nvmlShutdown()
                except self._nvml.NVMLError as exc:
                    _logger.debug("nvmlShutdown failed: %s", exc)
            self._closed = True
            self._devices = ()
            self._handles.clear()

    def _enumerate(self) -> list[GpuDevice]:
        nvml = self._nvml
        driver = self._optional(nvml.nvmlSystemGetDriverVersion)
        devices: list[GpuDevice] = []
        for index in range(nvml.nvmlDeviceGetCount()):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                uuid = _text(nvml.nvmlDeviceGetUUID(handle))
                model = _text(nvml.nvmlDeviceGetName(handle))
            except nvml.NVMLError as exc:
                _logger.warning("infertel: GPU %d is skipped, NVML cannot identify it: %s", index, exc)
                continue
            pci = self._optional(nvml.nvmlDeviceGetPciInfo, handle)
            bus_id = _text(pci.busId) if pci is not None else None
            gpu = GpuDevice(index, uuid, f"gpu{index}", model, bus_id, driver_version=_text(driver) if driver else None)
            devices.append(gpu)
            self._handles[uuid] = handle
            devices.extend(self._enumerate_mig(gpu, handle))
        return devices

    def _enumerate_mig(self, gpu: GpuDevice, handle: Any) -> list[GpuDevice]:
        nvml = self._nvml
        mode = self._optional(nvml.nvmlDeviceGetMigMode, handle)
        if not mode or mode[0] != nvml.NVML_DEVICE_MIG_ENABLE:
            return []
        migs: list[GpuDevice] = []
        for slot in range(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
            try:
                mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
            except nvml.NVMLError:
                continue  # an empty slot: NVML answers NOT_FOUND
            uuid = _text(nvml.nvmlDeviceGetUUID(mig))
            model = _text(self._optional(nvml.nvmlDeviceGetName, mig) or gpu.model)
            name = f"{gpu.name}/mig{len(migs)}"
            migs.append(
                GpuDevice(gpu.index, uuid, name, model, gpu.pci_bus_id, gpu.uuid, len(migs), gpu.driver_version)
            )
            self._handles[uuid] = mig
        return migs

    def _optional(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._nvml.NVMLError:
            return None

    # -- GpuSource ----------------------------------------------------------------------------
    def devices(self) -> Sequence[GpuDevice]:
        """The GPUs and MIG devices, enumerated once; empty when NVML is unavailable."""
        if not self._started:
            self._start()
        return self._devices

    def read(self, device: GpuDevice) -> GpuReading:
        """Read one device now (about a dozen NVML calls, fewer once unsupported ones are known)."""
        handle = self._handles.get(device.uuid)
        if handle is None:
            raise GpuReadError(f"{device.name} ({device.uuid}) is not an NVML device of this source")
        nvml = self._nvml
        call = self._call
        memory = call(device, "memory", nvml.nvmlDeviceGetMemoryInfo, handle)
        rates = call(device, "utilization", nvml.nvmlDeviceGetUtilizationRates, handle)
        encoder = call(device, "encoder", nvml.nvmlDeviceGetEncoderUtilization, handle)
        decoder = call(device, "decoder", nvml.nvmlDeviceGetDecoderUtilization, handle)
        power = call(device, "power", nvml.nvmlDeviceGetPowerUsage, handle)
        energy = call(device, "energy", nvml.nvmlDeviceGetTotalEnergyConsumption, handle)
        temperature = call(device, "temperature", nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
        corrected = call(
            device, "ecc", nvml.nvmlDeviceGetTotalEccErrors, handle,
            nvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, nvml.NVML_VOLATILE_ECC,
        )  # fmt: skip
        uncorrected = None
        if corrected is not None:
            uncorrected = call(
                device, "ecc", nvml.nvmlDeviceGetTotalEccErrors, handle,
                nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, nvml.NVML_VOLATILE_ECC,
            )  # fmt: skip
        rx, tx = self._pcie_bytes(device, handle)
        return GpuReading(
            device,
            utilization=rates.gpu / 100.0 if rates is not None else None,
            encoder_utilization=encoder[0] / 100.0 if encoder is not None else None,
            decoder_utilization=decoder[0] / 100.0 if decoder is not None else None,
            memory_used_bytes=int(memory.used) if memory is not None else None,
            memory_total_bytes=int(memory.total) if memory is not None else None,
            power_watts=power / 1000.0 if power is not None else None,
            energy_joules=energy / 1000.0 if energy is not None else None,
            temperature_celsius=float(temperature) if temperature is not None else None,
            errors_corrected=int(corrected) if corrected is not None else None,
            errors_uncorrected=int(uncorrected) if uncorrected is not None else None,
            io_receive_bytes=rx,
            io_transmit_bytes=tx,
            processes=self._processes(device, handle),
        )

    def _call(self, device: GpuDevice, what: str, fn: Any, *args: Any) -> Any:
        key = (device.uuid, what)
        if key in self._unsupported:
            return None
        nvml = self._nvml
        try:
            return fn(*args)
        except nvml.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code == nvml.NVML_ERROR_GPU_IS_LOST:
                raise GpuReadError(f"{device.name} ({device.uuid}) is lost: {exc}") from exc
            if code in (
                nvml.NVML_ERROR_NOT_SUPPORTED,
                nvml.NVML_ERROR_NO_PERMISSION,
                nvml.NVML_ERROR_FUNCTION_NOT_FOUND,
                nvml.NVML_ERROR_INVALID_ARGUMENT,
                nvml.NVML_ERROR_NOT_FOUND,
            ):
                self._unsupported.add(key)
                _logger.debug("NVML reading %s is not available on %s: %s", what, device.name, exc)
                return None
            if key not in self._reported:
                self._reported.add(key)
                _logger.warning("infertel: NVML reading %s failed on %s, dropped: %s", what, device.name, exc)
            return None

    def _pcie_bytes(self, device: GpuDevice, handle: Any) -> tuple[int | None, int | None]:
        nvml = self._nvml
        fields = (nvml.NVML_FI_DEV_PCIE_COUNT_RX_BYTES, nvml.NVML_FI_DEV_PCIE_COUNT_TX_BYTES)
        values = self._call(device, "pcie", nvml.nvmlDeviceGetFieldValues, handle, fields)
        if values is None:
            return None, None
        if any(value.nvmlReturn != nvml.NVML_SUCCESS for value in values):
            self._unsupported.add((device.uuid, "pcie"))
            return None, None
        return int(values[0].value.ullVal), int(values[1].value.ullVal)

    def _processes(self, device: GpuDevice, handle: Any) -> tuple[GpuProcess, ...] | None:
        nvml = self._nvml
        compute = self._call(device, "compute-processes", nvml.nvmlDeviceGetComputeRunningProcesses, handle)
        graphics = self._call(device, "graphics-processes", nvml.nvmlDeviceGetGraphicsRunningProcesses, handle)
        if compute is None and graphics is None:
            return None
        memory: dict[int, int | None] = {}
        for process in list(compute or ()) + list(graphics or ()):
            pid, used = int(process.pid), process.usedGpuMemory
            used = None if used is None else int(used)
            if pid in memory:
                # A "C+G" process is listed twice with its one figure (as nvidia-smi shows it): keep the larger.
                previous = memory[pid]
                memory[pid] = None if previous is None or used is None else max(previous, used)
            else:
                memory[pid] = used
        return tuple(GpuProcess(pid, used) for pid, used in memory.items())
