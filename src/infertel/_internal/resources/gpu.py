"""GPU metrics under the OpenTelemetry hardware semantic conventions (``hw.gpu.*``, ``hw.*``).

Every data point carries ``hw.id`` (the device UUID), ``hw.name`` (``gpu0``, ``gpu0/mig1``),
``hw.vendor``, ``hw.type=gpu``, ``infertel.gpu.pci_bus_id``, and for a MIG device ``hw.parent``
(the UUID of its GPU). The descriptive ``hw.model`` (product name) and ``hw.driver_version`` are
on ``hw.status`` and ``hw.gpu.memory.limit`` only (join on ``hw.id``): every attribute on every
point costs collection time. ``hw.temperature`` is reported on the
GPU's own ``hw.id`` (NVML's sensor is the GPU die). ``hw.gpu.utilization`` with
``hw.gpu.task=encoder`` / ``decoder`` appears once the video engine has been used. Beyond the
conventions: GPU memory per process (``infertel.gpu.process.memory.usage``, ``process.pid``)
and this process's share (``infertel.process.gpu.memory.usage``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from infertel import semconv
from infertel._internal.errors import handle_internal_errors
from infertel._internal.resources.nvml import STATUS_OK, GpuDevice, GpuReading
from infertel._internal.resources.snapshot import ResourceSampler
from infertel.version import __version__

_logger = logging.getLogger(__name__)

COLLECTION_REUSE_S = 0.2
"""Readings this fresh are reused by the later instruments' callbacks: one NVML pass per collection."""

_INIT_PID_NAMESPACE = "pid:[4026531836]"  # PROC_PID_INIT_INO, the host's PID namespace on Linux


def in_host_pid_namespace() -> bool:
    """Whether our PIDs are the host's, which are the PIDs NVML reports."""
    try:
        return os.readlink("/proc/self/ns/pid") == _INIT_PID_NAMESPACE
    except OSError:
        return True  # not Linux: there is one PID namespace


def device_attributes(device: GpuDevice) -> dict[str, str]:
    """The identifying attributes of every metric of ``device``."""
    attributes = {
        semconv.HW_ID: device.uuid,
        semconv.HW_NAME: device.name,
        semconv.HW_VENDOR: semconv.HW_VENDOR_NVIDIA,
        semconv.HW_TYPE: semconv.HW_TYPE_GPU,
    }
    if device.parent_uuid is not None:
        attributes[semconv.HW_PARENT] = device.parent_uuid
    if device.pci_bus_id is not None:
        attributes[semconv.INFERTEL_GPU_PCI_BUS_ID] = device.pci_bus_id
    return attributes


def descriptive_attributes(device: GpuDevice) -> dict[str, str]:
    """``hw.model`` and ``hw.driver_version``, carried by ``hw.status`` and ``hw.gpu.memory.limit`` only."""
    attributes = {semconv.HW_MODEL: device.model}
    if device.driver_version is not None:
        attributes[semconv.HW_DRIVER_VERSION] = device.driver_version
    return attributes


_Producer = Callable[[GpuReading, dict[str, str]], Iterable[Observation]]


class GpuCollector:
    """Observable instruments reporting each GPU through a :class:`ResourceSampler`.

    Threading: the callbacks run on the metric reader's thread (or the caller of
    ``collect()``); several readers may collect at once. Each collection reads the GPUs once,
    in the first instrument's callback; the other instruments reuse that reading (and so do
    :func:`infertel.resources.snapshot` readers within the interval).
    Exceptions: every callback runs inside ``handle_internal_errors``; a reading a device does
    not offer is simply absent, a device that stops answering drops out (``hw.status`` reports
    it ``failed``) while the others go on. Nothing is raised into the SDK.

    Args:
        meter_provider: Where the instruments are created.
        sampler: The shared reading cache, holding the GPU source.
        processes: Report ``infertel.gpu.process.memory.usage`` per PID.
        max_processes: At most this many PIDs per device (the largest), to bound cardinality.
        pid: The PID whose GPU memory is "this process"; default ``os.getpid()`` when this
            process sees the host's PIDs (NVML's), otherwise that metric is absent.

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> from infertel._internal.resources.nvml import NvmlSource
        >>> sampler = ResourceSampler(gpu_source=NvmlSource(), host_source=None)
        >>> collector = GpuCollector(MeterProvider(), sampler)  # no metrics where NVML sees no GPU
        >>> collector.shutdown()
    """

    def __init__(
        self,
        meter_provider: MeterProvider,
        sampler: ResourceSampler,
        *,
        processes: bool = True,
        max_processes: int = 32,
        pid: int | None = None,
    ) -> None:
        self._sampler = sampler
        self._processes = processes
        self._max_processes = max_processes
        self._pid = pid
        self._own_pid_usable = pid is not None or in_host_pid_namespace()
        self._own_pid_reported = False
        self._attributes: dict[str, dict[str, str]] = {}
        self._engines_used: set[tuple[str, str]] = set()
        self._stopped = False
        meter = meter_provider.get_meter(semconv.INSTRUMENTATION_SCOPE, __version__, schema_url=semconv.SCHEMA_URL)
        gauge, updown, counter = (
            meter.create_observable_gauge,
            meter.create_observable_up_down_counter,
            meter.create_observable_counter,
        )
        specs: list[tuple[Callable[..., Any], str, str, str, _Producer]] = [
            (gauge, semconv.HW_GPU_UTILIZATION, semconv.UNIT_RATIO,
             "Fraction of time the GPU spent on a task.", self._utilization),
            (gauge, semconv.HW_GPU_MEMORY_UTILIZATION, semconv.UNIT_RATIO,
             "Fraction of GPU memory used.", self._memory_utilization),
            (updown, semconv.HW_GPU_MEMORY_USAGE, semconv.UNIT_BYTES, "GPU memory used.", self._memory_usage),
            (updown, semconv.HW_GPU_MEMORY_LIMIT, semconv.UNIT_BYTES, "Size of the GPU memory.", self._memory_limit),
            (counter, semconv.HW_GPU_IO, semconv.UNIT_BYTES,
             "Received and transmitted bytes by the GPU (PCIe).", self._io),
            (gauge, semconv.HW_POWER, semconv.UNIT_WATTS, "Instantaneous power consumed by the GPU.", self._power),
            (counter, semconv.HW_ENERGY, semconv.UNIT_JOULES,
             "Energy consumed by the GPU since the driver was loaded.", self._energy),
            (gauge, semconv.HW_TEMPERATURE, semconv.UNIT_CELSIUS, "GPU temperature.", self._temperature),
            (counter, semconv.HW_ERRORS, semconv.UNIT_ERRORS,
             "ECC memory errors since the driver was loaded.", self._errors),
            (updown, semconv.HW_STATUS, semconv.UNIT_RATIO,
             "Operational status: 1 for the current hw.state, 0 for the others.", self._status),
            (updown, semconv.INFERTEL_PROCESS_GPU_MEMORY_USAGE, semconv.UNIT_BYTES,
             "GPU memory used by this process.", self._own_memory),
        ]  # fmt: skip
        if processes:
            specs.append(
                (updown, semconv.INFERTEL_GPU_PROCESS_MEMORY_USAGE, semconv.UNIT_BYTES,
                 "GPU memory used by each process on the GPU.", self._process_memory)
            )  # fmt: skip
        for position, (create, name, unit, description, producer) in enumerate(specs):
            callback = self._callback(producer, fresh=position == 0)
            create(name, callbacks=[callback], unit=unit, description=description)

    def shutdown(self) -> None:
        """Stop reporting (instruments cannot be removed from a MeterProvider; they go quiet)."""
        self._stopped = True

    # -- plumbing -----------------------------------------------------------------------------
    def _callback(self, producer: _Producer, *, fresh: bool) -> Callable[[CallbackOptions], list[Observation]]:
        # The SDK runs callbacks in registration order: the first instrument's reads the GPUs,
        # the others reuse that reading (a collection takes well under COLLECTION_REUSE_S).
        max_age_s = 0.0 if fresh else min(COLLECTION_REUSE_S, self._sampler.interval_s)

        def callback(options: CallbackOptions) -> list[Observation]:
            observations: list[Observation] = []
            if self._stopped:
                return observations
            with handle_internal_errors:
                for reading in self._sampler.gpus(max_age_s):
                    observations.extend(producer(reading, self._device_attributes(reading.device)))
            return observations

        return callback

    def _device_attributes(self, device: GpuDevice) -> dict[str, str]:
        attributes = self._attributes.get(device.uuid)
        if attributes is None:
            attributes = self._attributes[device.uuid] = device_attributes(device)
        return attributes

    # -- producers, one per instrument --------------------------------------------------------
    def _utilization(self, reading: GpuReading, attributes: dict[str, str]) -> Iterable[Observation]:
        if reading.utilization is not None:
            yield Observation(reading.utilization, {**attributes, semconv.HW_GPU_TASK: semconv.HW_GPU_TASK_GENERAL})
        # The video engines are idle in most inference services: their series appear once used.
        for task, value in (
            (semconv.HW_GPU_TASK_ENCODER, reading.encoder_utilization),
            (semconv.HW_GPU_TASK_DECODER, reading.decoder_utilization),
        ):
            key = (reading.device.uuid, task)
            if value is not None and (value > 0 or key in self._engines_used):
                self._engines_used.add(key)
                yield Observation(value, {**attributes, semconv.HW_GPU_TASK: task})

    @staticmethod
    def _single(value: float | None, attributes: dict[str, str]) -> Iterable[Observation]:
        if value is not None:
            yield Observation(value, attributes)

    def _memory_utilization(self, reading: GpuReading, attributes: dict[str, str]) -> Iterable[Observation]:
        return self._single(reading.memory_utilization, attributes)

    def _memory_usage(self, reading: GpuReading, attributes: dict[str, str]) -> Iterable[Observation]:
        return self._single(reading.memory_used_bytes, attributes)

    def _memory_limit(self, reading: GpuReading, attributes: dict[str, str]) -> Iterable[Observation]:
        return self._single(reading.memory_total_bytes, {**attributes, **descriptive_attributes(reading.device)})

    def _power(self, reading: GpuReading, attributes: dict[str, str]) -> Iterable[Observation]:
        return self._single(reading.power_watts, attributes)

    def _energy(self, reading: GpuReading, attributes: dict[str, str]) -> Iterable[Observation]:
        return self._single(reading.energy_joules, attributes)

    def _temperature(self, reading: GpuReading, attributes: dict[str, str]) -> Iterable[Observation]:
        return self._single(reading.temperature_celsius, attributes)

    @staticmethod
    def _io(reading: GpuReading, attributes: dict[str, str]) -> Iterable[Observation]:
        for direction, value in (
            (semconv.NETWORK_IO_DIRECTION_RECEIVE, reading.io_receive_bytes),
            (semconv.NETWORK_IO_DIRECTION_TRANSMIT, reading.io_transmit_bytes),
        ):
            if value is not None:
                yield Observation(value, {**attributes, semconv.NETWORK_IO_DIRECTION: direction})

    @staticmethod
    def _errors(reading: GpuReading, attributes: dict[str, str]) -> Iterable[Observation]:
        for error_type, value in (
            (semconv.HW_ERROR_TYPE_CORRECTED, reading.errors_corrected),
            (semconv.HW_ERROR_TYPE_UNCORRECTED, reading.errors_uncorrected),
        ):
            if value is not None:
                yield Observation(value, {**attributes, semconv.ERROR_TYPE: error_type})

    @staticmethod
    def _status(reading: GpuReading, attributes: dict[str, str]) -> Iterable[Observation]:
        attributes = {**attributes, **descriptive_attributes(reading.device)}
        ok = reading.status == STATUS_OK
        yield Observation(1 if ok else 0, {**attributes, semconv.HW_STATE: semconv.HW_STATE_OK})
        yield Observation(0 if ok else 1, {**attributes, semconv.HW_STATE: semconv.HW_STATE_FAILED})

    def _own_memory(self, reading: GpuReading, attributes: dict[str, str]) -> Iterable[Observation]:
        if not self._own_pid_usable:
            if not self._own_pid_reported:
                self._own_pid_reported = True
                _logger.info(
                    "infertel: %s is absent: this process runs in its own PID namespace (a container "
                    "without hostPID) and NVML reports host PIDs; see %s instead",
                    semconv.INFERTEL_PROCESS_GPU_MEMORY_USAGE,
                    semconv.INFERTEL_GPU_PROCESS_MEMORY_USAGE,
                )
            return
        value = reading.process_memory_bytes(self._pid if self._pid is not None else os.getpid())
        if value is not None:
            yield Observation(value, attributes)

    def _process_memory(self, reading: GpuReading, attributes: dict[str, str]) -> Iterable[Observation]:
        if reading.processes is None:
            return
        known = [process for process in reading.processes if process.memory_bytes is not None]
        known.sort(key=lambda process: process.memory_bytes or 0, reverse=True)
        for process in known[: self._max_processes]:
            yield Observation(process.memory_bytes or 0, {**attributes, semconv.PROCESS_PID: process.pid})
