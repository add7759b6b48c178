"""Every use of a private OpenTelemetry member, each behind a feature probe with a public-API fallback.

infertel supports opentelemetry-api/sdk ``>=1.37.0,<2`` (contrib ``>=0.58b0``). Public APIs are used
everywhere else; the few private members read here are kept because the public equivalent costs
more on a hot path or does not exist. Each entry says why, which OTel releases have it (checked
on 1.37.0 and 1.45.2, the oldest and newest in CI), how it is probed, and what runs when the
probe fails. ``tests/core/test_compat.py`` forces every fallback and asserts identical results.

Entries:

* Logs SDK names: re-exported from :mod:`infertel._internal.otel_logs` (no private member there:
  ``opentelemetry.sdk._logs`` is the logs SDK's only, documented home; it resolves the names that
  changed in 1.39).
* :func:`prometheus_reader`: a Prometheus reader serving its own registry on contrib 0.58 too.
* :class:`BaseConfigurator`: the ``opentelemetry_configurator`` entry point's base class.
* :func:`statistics_span_hooks`: the statistics processor's ``on_start``/``on_end``, reading SDK spans.
* :func:`forward_on_ending`: the SDK's private ``SpanProcessor._on_ending`` hook, forwarded by the hub.
* :func:`runtime_context_var` / :func:`span_context_key`: the context runtime's ContextVar and the
  key of the current span in a Context.
* :class:`MetricsSDKInternals`: what pre-aggregating GenAI histograms needs from an SDK
  ``MeterProvider`` (its readers, views, resource, a reader's collect callback).
"""

from __future__ import annotations

import contextvars
import logging
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from infertel._internal import otel_logs
from infertel._internal.errors import log_internal_error, reraise_enabled

# The logs SDK's names across releases (no private member: see otel_logs), re-exported here.
from infertel._internal.otel_logs import (
    LoggerProvider,
    LogRecordProcessor,
    ReadWriteLogRecord,
    log_record_resource,
    logging_handler_class,
    new_log_record,
)

if TYPE_CHECKING:  # bound by __getattr__ below on first use (the 1.39+ names; 1.37-1.38 spell them differently)
    from infertel._internal.otel_logs import (
        BatchLogRecordProcessor,
        ConsoleLogRecordExporter,
        InMemoryLogRecordExporter,
        LogRecordExporter,
        LogRecordExportResult,
        SimpleLogRecordProcessor,
    )

__all__ = [
    "BaseConfigurator",
    "BatchLogRecordProcessor",
    "ConsoleLogRecordExporter",
    "InMemoryLogRecordExporter",
    "LogRecordExportResult",
    "LogRecordExporter",
    "LogRecordProcessor",
    "LoggerProvider",
    "MetricsSDKInternals",
    "ReadWriteLogRecord",
    "SimpleLogRecordProcessor",
    "default_explicit_histogram",
    "forward_on_ending",
    "log_record_resource",
    "logging_handler_class",
    "metrics_sdk_internals",
    "new_log_record",
    "prometheus_reader",
    "runtime_context_var",
    "span_context_key",
    "statistics_span_hooks",
]

_logger = logging.getLogger(__name__)

# --- Prometheus reader ---------------------------------------------------------------------------
# Serving /metrics from a registry of its own (not prometheus_client's global one, which other code
# of the application may fill or serve) needs the reader's ``registry=`` argument (contrib 0.6x).
# The 0.58-era reader registers its collector (``reader._collector``) in the global REGISTRY only:
# the same collector is registered in our registry too (a collector may be in several). Fallback
# when that member is missing: serve the global REGISTRY.


def prometheus_reader() -> tuple[Any, Any]:
    """``(PrometheusMetricReader, registry to serve)``; raises ``ImportError`` without the exporter.

    Example:
        >>> reader, registry = prometheus_reader()  # doctest: +SKIP
    """
    import inspect

    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import REGISTRY, CollectorRegistry

    registry = CollectorRegistry(auto_describe=True)
    if "registry" in inspect.signature(PrometheusMetricReader.__init__).parameters:
        return PrometheusMetricReader(registry=registry), registry
    reader = PrometheusMetricReader()
    collector = getattr(reader, "_collector", None)
    if collector is None or not callable(getattr(collector, "collect", None)):
        return reader, REGISTRY
    registry.register(collector)
    return reader, registry


# --- Configurator ------------------------------------------------------------------------------
# The ``opentelemetry_configurator`` entry point loads a subclass of ``_BaseConfigurator`` (as
# opentelemetry-distro's own configurator is); it has no public name. 1.37-1.45 have it. Fallback:
# the same contract spelled out (a singleton whose ``configure(**kwargs)`` calls ``_configure``),
# which is all ``opentelemetry-instrument`` calls.


class _PublicBaseConfigurator(ABC):
    """``_BaseConfigurator``'s contract: one instance, ``configure(**kwargs)`` -> ``_configure``."""

    _instance: Any = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    @abstractmethod
    def _configure(self, **kwargs: Any) -> None:
        """Configure the SDK."""

    def configure(self, **kwargs: Any) -> None:
        """Configure the SDK (called by ``opentelemetry-instrument``)."""
        self._configure(**kwargs)


def _base_configurator() -> type:
    try:
        from opentelemetry.sdk._configuration import _BaseConfigurator
    except ImportError:
        return _PublicBaseConfigurator
    return _BaseConfigurator if callable(getattr(_BaseConfigurator, "configure", None)) else _PublicBaseConfigurator


BaseConfigurator: Any  # declared here, bound by __getattr__ below on first use
"""Base class of infertel's ``opentelemetry_configurator`` entry point."""


def __getattr__(name: str) -> Any:
    # ``BaseConfigurator`` (the base class of infertel's ``opentelemetry_configurator`` entry point) is
    # resolved on first use: importing the SDK's configurator costs about 40 ms (importlib.metadata),
    # which only zero-code start-up needs. So are the logs SDK's processors and exporters and the probe
    # of the statistics processor's span reads (it builds a TracerProvider): configure() uses them.
    if name == "BaseConfigurator":
        value = globals()[name] = _base_configurator()
        return value
    if name in otel_logs.LOGS_EXPORT_NAMES:
        value = globals()[name] = getattr(otel_logs, name)
        return value
    if name == "SPAN_INTERNALS":
        return _span_internals()
    if name == "COMPILED_SPAN_HOOKS":
        return _compiled_span_hooks()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- Span reads of the statistics processor ------------------------------------------------------
# Hot path: the processor's own work must stay within 1.5 µs per GenAI span. The public
# ``span.attributes`` wraps the SDK's ``BoundedAttributes`` in a MappingProxyType, so each of the
# ~8 lookups goes through ``BoundedAttributes.__getitem__`` in Python (about 0.15 µs each); the
# public ``context.span_id``/``start_time``/``end_time``/``status.status_code``/``parent.span_id``
# are one or two Python property calls each (0.3 µs together against 0.09 µs). The SDK span
# (``Span`` and ``ReadableSpan``, 1.37-1.45) keeps them in ``_attributes`` (a ``BoundedAttributes``
# whose ``_dict`` is a plain dict), ``_context``, ``_start_time``, ``_end_time``,
# ``_status._status_code`` and ``_parent``; a ``SpanContext`` is a tuple whose item 1 is the span
# id. So this module builds the processor's ``on_start``/``on_end`` themselves, with those reads
# written inline: a reader function called from the processor's closures cost 0.075 µs more per
# span on Python 3.11 and 0.15 µs on 3.10 (one Python call each way). Any other span costs one
# dict lookup (the attribute the processor asks for, ``gen_ai.operation.name``, is absent).
# ``on_end`` appends the fields as one tuple, the processor's whole buffer record
# (``processors._fold.SPAN_RECORD_FIELDS``). With the C buffer (``processors._buffer``) the same
# pair is C code (``processors._records.Hooks``, reading the fields named in ``SPAN_FIELDS``): its
# append reads the six attribute values the fold needs while the span is in cache. It has its own
# probe, the same as the Python pair's; when it fails, the Python pair appends to the C buffer.
# Probe: the private pair, run on real SDK spans (live, ended, with and without the attribute,
# with and without a parent, an ERROR status), must record exactly what the public properties
# give, without falling back; otherwise the processor's public pair serves every span. A span of
# another shape (``AttributeError`` or ``TypeError`` in a private read) goes to the public pair.

_Hooks = tuple[Callable[..., None], Callable[[Any], None]]


def statistics_span_hooks(stats: Any, name: str, max_tracked: int, fold_batch: int, public: _Hooks) -> _Hooks:
    """The statistics processor's ``(on_start, on_end)``: SDK spans' private fields read inline when the probe passed.

    ``stats`` holds the containers the pair fills (``in_flight_spans``: span id -> attribute dict
    of a started span that has attribute ``name``, at most ``max_tracked``; ``buffer``: one record
    per ended span that has it, ``buffer_full()`` called when an append brings it to
    ``fold_batch``) and the ``clock`` read for each record. ``public`` is the same pair reading
    the public span properties: returned as is when the probe failed, and called by the private
    pair for a span of another shape. Both apply the ``handle_internal_errors`` policy.

    Example:
        >>> from types import SimpleNamespace
        >>> stats = SimpleNamespace(in_flight_spans={}, buffer=[], clock=float, buffer_full=None)
        >>> on_start, on_end = statistics_span_hooks(stats, "gen_ai.operation.name", 10, 100, (None, None))
    """
    if not _span_internals():
        return public
    compiled = _compiled_hooks(stats, name, max_tracked, fold_batch, public)
    return compiled if compiled is not None else _private_hooks(stats, name, max_tracked, fold_batch, public)


SPAN_FIELDS = ("_attributes", "_dict", "_context", "_parent", "_start_time", "_end_time", "_status", "_status_code")
"""The private SDK span fields the pair reads (above), by name: the C pair (:func:`_compiled_hooks`) reads these."""


def _compiled_hooks(stats: Any, name: str, max_tracked: int, fold_batch: int, public: _Hooks) -> _Hooks | None:
    """The same pair in C (``processors._records.Hooks``) when ``stats.buffer`` is the C buffer and its probe passed.

    It reads the fields of :data:`SPAN_FIELDS` as the Python pair does (a span of another shape goes
    to ``public``; any other ``Exception`` is logged once, or re-raised under the test switch), and
    appends to the buffer without a Python frame. Measured in cache against the Python pair on the
    same C buffer (``on_start`` + ``on_end``, µs per GenAI span): 0.67 against 0.88 on Python 3.10,
    0.59 against 0.67 on 3.11, 0.73 against 0.69 on 3.13 (whose specialising interpreter reads the
    span's fields faster than ``PyObject_GetAttr``).
    """
    from infertel._internal.processors import _buffer

    if type(stats.buffer) is not _buffer.Records or not _compiled_span_hooks():
        return None
    hooks = _buffer.Hooks(
        stats.buffer, stats.in_flight_spans, name, max_tracked, fold_batch, stats.buffer_full, stats.clock,
        *public, _compiled_hook_error, SPAN_FIELDS,
    )  # fmt: skip
    return hooks.on_start, hooks.on_end


def _compiled_hook_error(exc: BaseException) -> None:
    if reraise_enabled():
        raise exc
    log_internal_error(exc, ("infertel._internal.processors._records.Hooks", 0))


def _private_hooks(stats: Any, name: str, max_tracked: int, fold_batch: int, public: _Hooks) -> _Hooks:
    # Closures: every name they use is a fast local (a cell). The policy of handle_internal_errors
    # (re-raise under the test switch, else log once per call site and drop) is written out as
    # try/except: a ``with`` block costs 0.1-0.3 µs here, and try is free on 3.11+.
    started, buffer, clock, buffer_full = stats.in_flight_spans, stats.buffer, stats.clock, stats.buffer_full
    append = buffer.append
    public_on_start, public_on_end = public

    def on_start(span: Any, parent_context: Any = None) -> None:
        try:
            try:
                attributes = span._attributes._dict
                if attributes.get(name) is not None and len(started) < max_tracked:
                    # span id -> the live attribute dict: the series key is derived when in-flight counts are read.
                    started[span._context[1]] = attributes
            except (AttributeError, TypeError):  # a span of another shape
                public_on_start(span, parent_context)
        except Exception as exc:
            if reraise_enabled():
                raise
            log_internal_error(exc)

    def on_end(span: Any) -> None:
        try:
            try:
                attributes = span._attributes._dict
                value = attributes.get(name)
                if value is None:
                    return  # not a GenAI span
                parent = span._parent
                span_id = span._context[1]
                record = (
                    clock(),
                    value,
                    attributes,
                    span_id,
                    span._end_time - span._start_time,  # (a time the span lacks: TypeError, the public pair)
                    span._status._status_code,
                    None if parent is None else parent[1],
                )
            except (AttributeError, TypeError):  # a span of another shape
                public_on_end(span)
                return
            if started:
                started.pop(span_id, None)
            append(record)
            if len(buffer) >= fold_batch:
                buffer_full()
        except Exception as exc:
            if reraise_enabled():
                raise
            log_internal_error(exc)

    return on_start, on_end


def _span_hooks_agree(compiled: bool = False) -> bool:
    """Whether the private pair (``compiled``: the C pair, on a C buffer) records what the public properties give."""
    from types import SimpleNamespace

    from opentelemetry.sdk.trace import TracerProvider

    from infertel import semconv
    from infertel._internal.processors import _buffer

    op, model, ttft = (
        semconv.GEN_AI_OPERATION_NAME,
        semconv.GEN_AI_REQUEST_MODEL,
        semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    )
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("infertel.compat.probe")
    parent: Any = tracer.start_span("parent", attributes={op: "outer"})  # SDK spans (the API type has less)
    child: Any = tracer.start_span(
        "probe", context=trace.set_span_in_context(parent), attributes={op: "chat", model: "m", ttft: 2.5, "x": 2}
    )
    plain: Any = tracer.start_span("plain")
    fell_back: list[Any] = []
    sink = SimpleNamespace(in_flight_spans={}, buffer=[], clock=(0.5).__float__, buffer_full=fell_back.clear)
    public = (lambda span, context=None: fell_back.append(span), fell_back.append)
    on_start: Callable[..., None]
    on_end: Callable[[Any], None]
    if compiled:
        sink.buffer = _buffer.new_buffer(())
        hooks = _buffer.Hooks(
            sink.buffer, sink.in_flight_spans, op, 10, 100, sink.buffer_full, sink.clock, *public, fell_back.append,
            SPAN_FIELDS,
        )  # fmt: skip
        on_start, on_end = hooks.on_start, hooks.on_end
    else:
        on_start, on_end = _private_hooks(sink, op, 10, 100, public)
    for span in (parent, child, plain):
        on_start(span, None)
    live = {span.context.span_id: dict(span.attributes or {}) for span in (parent, child)}
    live_ok = sink.in_flight_spans == live and all(type(a) is dict for a in sink.in_flight_spans.values())
    child.set_status(trace.StatusCode.ERROR)
    for span in (child, plain, parent):
        span.end()
        on_end(span._readable_span())  # what the SDK hands on_end
    # (the C buffer gives a span record back with the six attribute values it read, here the model and TTFT)
    kept = (model, ttft) if compiled else tuple(child.attributes) + tuple(parent.attributes)
    expected = [
        (
            0.5,
            span.attributes[op],
            {k: v for k, v in span.attributes.items() if k in kept},
            span.context.span_id,
            span.end_time - span.start_time,
            span.status.status_code,
            None if span.parent is None else span.parent.span_id,
        )
        for span in (child, parent)
    ]
    records = sink.buffer.take(len(sink.buffer)).records() if compiled else list(sink.buffer)
    recorded = [(*record[:2], record[2] if type(record[2]) is dict else None, *record[3:]) for record in records]
    return live_ok and not fell_back and recorded == expected and not sink.in_flight_spans


def _span_internals() -> bool:
    return _probed("SPAN_INTERNALS", _span_hooks_agree)


def _compiled_span_hooks() -> bool:
    return _probed("COMPILED_SPAN_HOOKS", lambda: _span_hooks_agree(compiled=True))


def _probed(flag: str, probe: Callable[[], bool]) -> bool:
    """The cached result of ``probe`` (a surprise counts as ``False``: the public, or Python, pair serves)."""
    found = globals().get(flag)
    if found is None:
        try:
            found = probe()
        except Exception:  # noqa: BLE001 - any surprise means: use the public pair
            _logger.debug(
                "infertel: SDK span internals differ (%s); using the public span properties", flag, exc_info=True
            )
            found = False
        else:
            if not found:
                _logger.debug("infertel: SDK span internals differ (%s); using the public span properties", flag)
        globals()[flag] = found
    return bool(found)


SPAN_INTERNALS: bool  # bound by ``__getattr__`` / :func:`statistics_span_hooks` on first use
"""Whether :func:`statistics_span_hooks` reads private span fields (the probe builds a TracerProvider: about
2 ms and a thread pool that an import should not cost, so it runs when the first processor is built)."""
COMPILED_SPAN_HOOKS: bool  # bound by :func:`statistics_span_hooks` on first use with the C buffer
"""Whether the C pair (:func:`_compiled_hooks`) passed the same probe."""


# --- Span processor "on ending" hook ------------------------------------------------------------------
# SDK 1.39+ calls ``SpanProcessor._on_ending(span)`` on every processor just before a span ends
# (the spec's experimental OnEnding, still private upstream); 1.37-1.38 never call it. infertel's
# processor hub implements it to forward the call to its delegates. Probe: the delegate has it;
# fallback: nothing to forward (the SDK's own base class has a no-op).


def forward_on_ending(processor: Any, span: Any) -> None:
    """Forward the SDK's private ``_on_ending`` hook to ``processor`` when it has one.

    Example:
        >>> forward_on_ending(object(), None)
    """
    on_ending = getattr(processor, "_on_ending", None)
    if on_ending is not None:
        on_ending(span)


# --- Context runtime ---------------------------------------------------------------------------
# ``opentelemetry.context.attach/detach/get_current`` are two Python calls around one ContextVar
# (``_RUNTIME_CONTEXT._current_context`` of the default ``ContextVarsRuntimeContext``, 1.37-1.45);
# on the decorator's hot path they cost more than the rest of infertel's work. Probe: the default
# runtime class and a ContextVar; fallback (another runtime via OTEL_PYTHON_CONTEXT, or the
# attribute gone): the public functions.


def runtime_context_var() -> contextvars.ContextVar[Any] | None:
    """The ContextVar behind OpenTelemetry's default runtime context, or None (use the public functions).

    Example:
        >>> var = runtime_context_var()
        >>> var is None or var.get() is not None
        True
    """
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    if type(runtime) is not ContextVarsRuntimeContext:
        return None
    var = getattr(runtime, "_current_context", None)
    if not isinstance(var, contextvars.ContextVar):
        return None
    # The probe: attach through the public API must be visible through the variable.
    probe = otel_context.set_value("infertel.compat.probe", True, otel_context.Context())
    token = otel_context.attach(probe)
    try:
        return var if var.get() is probe else None
    finally:
        otel_context.detach(token)


# ``trace.set_span_in_context`` copies the context once; building the context of a call with the
# span and infertel's own key in one copy needs the key the API stores the span under
# (``opentelemetry.trace.propagation._SPAN_KEY``, 1.37-1.45). Probe: the key holds what
# ``set_span_in_context`` stored; fallback: ``set_span_in_context`` + ``set_value``.


def span_context_key() -> str | None:
    """The Context key under which the API keeps the current span, or None (use ``set_span_in_context``).

    Example:
        >>> key = span_context_key()
        >>> key is None or isinstance(key, str)
        True
    """
    try:
        from opentelemetry.trace.propagation import _SPAN_KEY as key
    except ImportError:
        return None
    probe = trace.set_span_in_context(trace.INVALID_SPAN, otel_context.Context())
    return key if probe.get(key) is trace.INVALID_SPAN else None


# --- Metrics SDK ----------------------------------------------------------------------------------
# Pre-aggregating GenAI histograms in process (one lock per call instead of five
# ``Histogram.record`` calls) and publishing them through every reader of an SDK MeterProvider
# needs: the provider's readers, Views, resource and state; each reader's histogram and counter
# temporality and aggregation; and the reader's collect callback (``reader._collect``, set by the
# provider) to wrap. (``MeterProvider.add_metric_reader``, public, exists from 1.39 only: hook.py
# wraps it where present.)
# None of it is public; 1.37-1.45 all have it in this shape. Probe: :func:`metrics_sdk_internals`
# checks every member on the given provider; fallback (None): infertel records each value with the
# public ``Histogram.record`` (``InstrumentRecorder``), which exports identical data.


class MetricsSDKInternals:
    """The private members of one SDK ``MeterProvider`` (and its readers) that pre-aggregation reads.

    ``counter`` selects the instrument class asked about: ``Counter`` when true, else ``Histogram``.
    Build it with :func:`metrics_sdk_internals`, which probes them first.
    """

    def __init__(self, provider: Any, histogram_cls: type, counter_cls: type) -> None:
        # Weak: the readers' collect hooks hold this object, and the provider holds its readers.
        self._provider_ref = weakref.ref(provider)
        self._classes = {False: histogram_cls, True: counter_cls}

    @property
    def _provider(self) -> Any:
        provider = self._provider_ref()
        if provider is None:
            raise ReferenceError("the MeterProvider was garbage-collected")
        return provider

    def readers(self) -> list[Any]:
        """The provider's metric readers."""
        return list(self._provider._measurement_consumer._reader_storages.keys())

    def active(self) -> bool:
        """Neither disabled (``OTEL_SDK_DISABLED``) nor shut down."""
        return not (self._provider._disabled or self._provider._shutdown)

    def resource(self) -> Any:
        """The provider's resource."""
        return self._provider._sdk_config.resource

    def view_matches(self, scope: Any, name: str, unit: str, description: str, *, counter: bool = False) -> bool:
        """Whether a View of the provider would select an instrument of that name and kind in ``scope``."""
        probe = self._classes[counter](name, scope, self._provider._measurement_consumer, unit, description)
        return any(view._match(probe) for view in self._provider._sdk_config.views)

    def aggregation(self, reader: Any, *, counter: bool = False) -> Any:
        """The aggregation ``reader`` prefers for histograms (counters)."""
        return reader._instrument_class_aggregation.get(self._classes[counter])

    def temporality(self, reader: Any, default: Any, *, counter: bool = False) -> Any:
        """The temporality ``reader`` prefers for histograms (counters)."""
        return reader._instrument_class_temporality.get(self._classes[counter], default)

    @staticmethod
    def collect_callback(reader: Any) -> Any:
        """The callback the provider gave ``reader`` to collect (None before it was registered)."""
        return reader._collect

    @staticmethod
    def set_collect_callback(reader: Any, callback: Any) -> None:
        """Replace ``reader``'s collect callback (it is called as ``callback(reader, timeout_millis=...)``)."""
        reader._collect = callback


def _default_explicit_histogram(aggregation: Any) -> bool:
    # ExplicitBucketHistogramAggregation() without boundaries, with min/max, is the default's
    # advisory-boundary behaviour (the OTLP exporters ask for it that way). 1.37-1.45.
    return aggregation._boundaries is None and aggregation._record_min_max is True


def default_explicit_histogram(aggregation: Any) -> bool:
    """Whether an ``ExplicitBucketHistogramAggregation`` has no boundaries of its own and records min/max.

    False (pre-aggregation declined) when its fields cannot be read.

    Example:
        >>> from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation
        >>> default_explicit_histogram(ExplicitBucketHistogramAggregation())
        True
    """
    try:
        return _default_explicit_histogram(aggregation)
    except AttributeError:
        return False


def metrics_sdk_internals(provider: Any) -> MetricsSDKInternals | None:
    """The private members pre-aggregation needs, after probing them on ``provider``; None when absent.

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> metrics_sdk_internals(MeterProvider()) is not None
        True
    """
    if not METRICS_INTERNALS:
        return None
    try:
        from opentelemetry.sdk.metrics._internal.instrument import _Counter, _Histogram
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        internals = MetricsSDKInternals(provider, _Histogram, _Counter)
        internals.active()
        internals.resource()
        for reader in internals.readers():
            for counter in (False, True):
                internals.aggregation(reader, counter=counter)
                internals.temporality(reader, None, counter=counter)
            if not callable(internals.collect_callback(reader)):
                return None
        scope = InstrumentationScope("infertel.compat.probe")
        internals.view_matches(scope, "infertel.compat.probe", "s", "")
    except Exception:  # noqa: BLE001 - an SDK without these members: per-call Histogram.record()
        _logger.debug("infertel: metrics SDK internals unavailable; recording per call", exc_info=True)
        return None
    return internals


METRICS_INTERNALS = True
"""Switch for :func:`metrics_sdk_internals` (tests set it False to force the public path)."""
