"""Build infertel's exporters and providers, or add them to providers that are already installed.

``configure()`` may run several times, and the OpenTelemetry globals can be set only once, so
infertel attaches one *hub* processor per TracerProvider / LoggerProvider and swaps the hub's
delegates on each ``configure()``: a repeated call never stacks a second exporter. A MeterProvider's
readers are fixed when it is constructed, so an existing one is reused as it is (its readers stay
the user's) and a warning names what could not be added.

Extension points for later components (durable export, stats processors) are the ``build_*``
functions: each returns the list ``configure()`` installs. The exporters themselves are built in
:mod:`infertel._internal.exporter_build`.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import sampling as _sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from infertel._internal.compat import (
    BatchLogRecordProcessor,
    LoggerProvider,
    LogRecordProcessor,
    ReadWriteLogRecord,
    forward_on_ending,
)
from infertel._internal.config import Settings
from infertel._internal.errors import handle_internal_errors

_logger = logging.getLogger(__name__)

DEFAULT_STORE_METRIC_INTERVAL_MILLIS = 10_000
"""Embedded store: finer, so the dashboard's series have points every 10 s."""

_lock = threading.Lock()
_owned: weakref.WeakSet[Any] = weakref.WeakSet()  # providers configure() created
_span_hubs: weakref.WeakKeyDictionary[Any, SpanProcessorHub] = weakref.WeakKeyDictionary()
_log_hubs: weakref.WeakKeyDictionary[Any, LogRecordProcessorHub] = weakref.WeakKeyDictionary()


def _deadline_left(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))


class _Hub:
    """Forwarding to a swappable tuple of delegates (what both hubs share).

    Each set of delegates comes with a counter of the items forwarded to it (spans the SDK's batch
    processor would queue: sampled ones; every log record), so ``shutdown()`` can tell what an SDK
    batch processor dropped when its queue was full: it forwarded more than its exporter received.

    Threading: the delegates and their counter are one immutable pair swapped atomically by
    :meth:`replace`, so the application's threads forwarding to them need no lock
    (``next()`` on an ``itertools.count`` is atomic).
    """

    def __init__(self) -> None:
        self._generation: tuple[tuple[Any, ...], Iterator[int]] = ((), itertools.count())
        self.retired_forwarded = 0
        """Items forwarded to the last non-empty set of delegates that :meth:`replace` retired."""

    @property
    def delegates(self) -> tuple[Any, ...]:
        """The processors telemetry is forwarded to now."""
        return self._generation[0]

    def replace(self, delegates: Sequence[Any]) -> tuple[Any, ...]:
        """Forward to ``delegates`` from now on; return the previous ones (the caller shuts them down)."""
        (previous, forwarded), self._generation = self._generation, (tuple(delegates), itertools.count())
        if previous:  # retiring an empty set keeps the count of the last real one
            self.retired_forwarded = _count_of(forwarded)
        return previous

    def reset_after_fork(self) -> None:
        """A forked child counts from zero (its batch processors start with empty queues)."""
        self._generation = (self._generation[0], itertools.count())
        self.retired_forwarded = 0

    def shutdown(self) -> None:
        """Shut the delegates down and forget them (the hub stays attached, empty)."""
        for delegate in self.replace(()):
            delegate.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        return all([d.force_flush(_deadline_left(deadline)) for d in self._generation[0]])


def _count_of(counter: Iterator[int]) -> int:
    """How many times ``next()`` was called on a retired ``itertools.count`` (read once: this advances it)."""
    return next(counter)


class SpanProcessorHub(_Hub, SpanProcessor):
    """The one processor infertel adds to a TracerProvider; forwards to the current delegates.

    Threading: ``on_start``/``on_end`` run on the application's threads and read an immutable
    tuple (swapped atomically by :meth:`replace`). Exceptions from a delegate are handled by
    ``handle_internal_errors`` (logged once, span data dropped), never raised into ``span.end()``.
    """

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for delegate in self._generation[0]:
            with handle_internal_errors:
                delegate.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Span) -> None:
        for delegate in self._generation[0]:
            with handle_internal_errors:
                forward_on_ending(delegate, span)

    def on_end(self, span: ReadableSpan) -> None:
        delegates, forwarded = self._generation
        if delegates and span.context.trace_flags.sampled:  # what BatchSpanProcessor queues
            next(forwarded)
        for delegate in delegates:
            with handle_internal_errors:
                delegate.on_end(span)


class LogRecordProcessorHub(_Hub, LogRecordProcessor):
    """The one log record processor infertel adds to a LoggerProvider (same contract as the span hub)."""

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        delegates, forwarded = self._generation
        if delegates:
            next(forwarded)
        for delegate in delegates:
            with handle_internal_errors:
                delegate.on_emit(log_record)


def span_hub(provider: TracerProvider) -> SpanProcessorHub:
    """The hub attached to ``provider`` (attached on first use, exactly once)."""
    with _lock:
        hub = _span_hubs.get(provider)
        if hub is None:
            hub = _span_hubs[provider] = SpanProcessorHub()
            provider.add_span_processor(hub)
        return hub


def log_hub(provider: LoggerProvider) -> LogRecordProcessorHub:
    """The hub attached to ``provider`` (attached on first use, exactly once)."""
    with _lock:
        hub = _log_hubs.get(provider)
        if hub is None:
            hub = _log_hubs[provider] = LogRecordProcessorHub()
            provider.add_log_record_processor(hub)
        return hub


def reset_hubs_after_fork() -> None:
    """Every hub of this process counts from zero (the core's at-fork hook calls it in the child)."""
    for hub in [*_span_hubs.values(), *_log_hubs.values()]:
        hub.reset_after_fork()


def is_owned(provider: Any) -> bool:
    """Whether ``configure()`` created ``provider`` (then ``shutdown()`` shuts it down)."""
    return provider in _owned


def mark_owned(provider: Any) -> Any:
    """Record that ``configure()`` created ``provider``; returns it."""
    _owned.add(provider)
    return provider


# --- processors and readers --------------------------------------------------------------


def build_span_processors(exporters: Sequence[Any]) -> list[SpanProcessor]:
    """The span processors ``configure()`` installs (in the TracerProvider's hub), one per exporter.

    ``BatchSpanProcessor`` gets no arguments but the exporter: it reads ``OTEL_BSP_*`` itself.
    """
    processors: list[SpanProcessor] = []
    for exporter in exporters:
        if hasattr(exporter, "report_metrics_to"):  # a durable exporter: its processor never drops
            from infertel_exporters.durable import DurableBatchSpanProcessor

            processors.append(DurableBatchSpanProcessor(exporter))
        else:
            processors.append(BatchSpanProcessor(exporter))
    return processors


def build_log_processors(exporters: Sequence[Any]) -> list[LogRecordProcessor]:
    """The log record processors ``configure()`` installs (in the LoggerProvider's hub); they read ``OTEL_BLRP_*``."""
    return [BatchLogRecordProcessor(exporter) for exporter in exporters]


def build_metric_readers(exporters: Sequence[Any], settings: Settings) -> list[MetricReader]:
    """The readers of a MeterProvider ``configure()`` creates (Prometheus is added by the caller).

    A push exporter gets a ``PeriodicExportingMetricReader``; its interval is the argument, else
    ``OTEL_METRIC_EXPORT_INTERVAL`` / ``OTEL_METRIC_EXPORT_TIMEOUT`` as the SDK reads them, except
    that the embedded store defaults to 10 s so the dashboard's series have points. A registered
    pull exporter (a ``MetricReader``) is used as it is.
    """
    readers: list[MetricReader] = []
    for exporter in exporters:
        if isinstance(exporter, MetricReader):
            readers.append(exporter)
            continue
        interval = settings.metric_export_interval_millis
        if interval is None and _is_store(exporter):
            interval = DEFAULT_STORE_METRIC_INTERVAL_MILLIS
        if interval is None:
            readers.append(PeriodicExportingMetricReader(exporter))
        else:
            readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=interval))
    return readers


def _is_store(exporter: Any) -> bool:
    return type(exporter).__module__.startswith("infertel_exporters.sqlite")


# --- providers -----------------------------------------------------------------------------


def build_sampler(settings: Settings) -> _sampling.Sampler:
    """The Sampler named by ``settings.sampler`` (a user's Sampler instance is used as is)."""
    name, ratio = settings.sampler, settings.sampler_arg
    if isinstance(name, _sampling.Sampler):
        return name
    ratio = 1.0 if ratio is None else ratio
    samplers = {
        "always_on": lambda: _sampling.ALWAYS_ON,
        "always_off": lambda: _sampling.ALWAYS_OFF,
        "traceidratio": lambda: _sampling.TraceIdRatioBased(ratio),
        "parentbased_always_on": lambda: _sampling.ParentBased(_sampling.ALWAYS_ON),
        "parentbased_always_off": lambda: _sampling.ParentBased(_sampling.ALWAYS_OFF),
        "parentbased_traceidratio": lambda: _sampling.ParentBasedTraceIdRatio(ratio),
    }
    return samplers[name]()


def new_tracer_provider(settings: Settings, resource: Resource) -> TracerProvider:
    """A TracerProvider with the resource and sampler of ``settings``, marked as owned."""
    return mark_owned(TracerProvider(resource=resource, sampler=build_sampler(settings)))


def new_logger_provider(resource: Resource) -> LoggerProvider:
    """A LoggerProvider with ``resource``, marked as owned."""
    return mark_owned(LoggerProvider(resource=resource))


def new_meter_provider(resource: Resource, readers: Sequence[MetricReader]) -> MeterProvider:
    """A MeterProvider with ``readers``, marked as owned, with pre-aggregated GenAI histograms."""
    from infertel._internal.processors import options_from_env, statistics_views

    # Room for every statistics gauge point at the configured series bound (the SDK's default 2,000 is less).
    options = {k: v for k, v in options_from_env().items() if k in ("windows_s", "quantiles", "max_series")}
    views = statistics_views(**options)
    provider = mark_owned(MeterProvider(resource=resource, metric_readers=list(readers), views=views))
    try:
        from infertel._internal.metrics import enable_preaggregation
    except ImportError:  # the instrumentation core is not there yet: per-call record() is used
        return provider
    enable_preaggregation(provider)
    return provider
