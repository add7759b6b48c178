"""The spool's own metrics: observable instruments over every live pipeline of a meter provider.

One set of instruments per meter provider (registering an instrument name twice on one meter
would silently keep only the first callback); their callbacks walk the pipelines registered with
that provider, so the span, metric and log exporters share them, told apart by ``infertel.signal``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation, get_meter_provider

from infertel_exporters.durable import _names as semconv
from infertel_exporters.durable.version import __version__

_lock = threading.Lock()
_registries: weakref.WeakKeyDictionary[Any, weakref.WeakSet[Any]] = weakref.WeakKeyDictionary()


def register(pipeline: Any, meter_provider: MeterProvider | None) -> None:
    """Report ``pipeline``'s drops, size, backlog, corrupt records and deliveries on ``meter_provider``."""
    provider = meter_provider if meter_provider is not None else get_meter_provider()
    with _lock:
        pipelines = _registries.get(provider)
        if pipelines is not None:
            pipelines.add(pipeline)
            return
        pipelines = weakref.WeakSet([pipeline])
        _registries[provider] = pipelines
    meter = provider.get_meter("infertel_exporters.durable", __version__, schema_url=semconv.SCHEMA_URL)

    def live() -> list[Any]:
        return [p for p in list(pipelines) if not p.shut_down]

    def dropped(_: CallbackOptions) -> Iterable[Observation]:
        for p in live():
            for reason, items in sorted(dict(p.dropped).items()):
                yield Observation(items, {semconv.INFERTEL_SIGNAL: p.signal, semconv.INFERTEL_DROP_REASON: reason})

    def size(_: CallbackOptions) -> Iterable[Observation]:
        for p in live():
            yield Observation(p.size_bytes, {semconv.INFERTEL_SIGNAL: p.signal})

    def backlog(_: CallbackOptions) -> Iterable[Observation]:
        for p in live():
            yield Observation(p.backlog_items + p.adopted_items, {semconv.INFERTEL_SIGNAL: p.signal})

    def corrupt(_: CallbackOptions) -> Iterable[Observation]:
        for p in live():
            yield Observation(p.corrupt_records, {semconv.INFERTEL_SIGNAL: p.signal})

    def delivered(_: CallbackOptions) -> Iterable[Observation]:
        for p in live():
            yield Observation(p.delivered, {semconv.INFERTEL_SIGNAL: p.signal})

    meter.create_observable_counter(
        semconv.INFERTEL_EXPORTER_SPOOL_DROPPED,
        [dropped],
        unit=semconv.UNIT_ITEMS,
        description="Telemetry items lost for good by durable export.",
    )
    meter.create_observable_up_down_counter(
        semconv.INFERTEL_EXPORTER_SPOOL_SIZE,
        [size],
        unit=semconv.UNIT_BYTES,
        description="Bytes held by the durable export spool.",
    )
    meter.create_observable_up_down_counter(
        semconv.INFERTEL_EXPORTER_SPOOL_BACKLOG,
        [backlog],
        unit=semconv.UNIT_ITEMS,
        description="Telemetry items accepted and not yet acknowledged by the collector.",
    )
    meter.create_observable_counter(
        semconv.INFERTEL_EXPORTER_SPOOL_CORRUPT,
        [corrupt],
        unit=semconv.UNIT_RECORDS,
        description="Torn or corrupt spool records discarded during replay.",
    )
    meter.create_observable_counter(
        semconv.INFERTEL_EXPORTER_DELIVERED,
        [delivered],
        unit=semconv.UNIT_ITEMS,
        description="Telemetry items the collector acknowledged.",
    )
