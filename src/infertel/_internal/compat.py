"""Every use of a private OpenTelemetry member, each behind a feature probe with a public-API fallback.

infertel supports opentelemetry-api/sdk ``>=1.37.0,<2`` (contrib ``>=0.58b0``). Public APIs are used
everywhere else; the few private members read here are kept because the public equivalent costs
more on a hot path or does not exist. Each entry says why, which OTel releases have it (checked
on 1.37.0 and 1.45.2, the oldest and newest in CI), how it is probed, and what runs when the
probe fails. ``tests/core/test_compat.py`` forces every fallback and asserts identical results.

Entries:

* Logs SDK names (``opentelemetry.sdk._logs``): the logs SDK is underscore-named upstream in every
  supported release, so that module *is* the public path; the names changed in 1.39
  (``LogData`` -> ``ReadWriteLogRecord``/``ReadableLogRecord``, ``LogExporter`` ->
  ``LogRecordExporter``), both spellings resolved here, with :func:`log_record_resource`,
  :func:`new_log_record` and :func:`logging_handler_class`. Likewise the OTLP log exporters live
  only in ``opentelemetry.exporter.otlp.proto.{grpc,http}._log_exporter`` upstream, and the logs
  API (``LogRecord``, ``SeverityNumber``, ``get_logger_provider``) only in ``opentelemetry._logs``:
  importing them from there is the documented path, not a private member.
* :func:`prometheus_reader`: a Prometheus reader serving its own registry on contrib 0.58 too.
* :class:`BaseConfigurator`: the ``opentelemetry_configurator`` entry point's base class.
* :data:`span_start_fields` / :data:`span_end_fields`: the statistics processor's span reads.
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

# ``opentelemetry.sdk._logs`` is the only home of the logs SDK in every supported release (the
# upstream docs import it from there); some names inside changed in 1.39, resolved below.
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor

if TYPE_CHECKING:  # bound by __getattr__ below on first use (the 1.39+ names; 1.37-1.38 spell them differently)
    from opentelemetry.sdk._logs.export import (
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
    "public_end_fields",
    "public_start_fields",
    "runtime_context_var",
    "span_context_key",
    "span_end_fields",
    "span_start_fields",
]

_logger = logging.getLogger(__name__)

# --- Logs SDK ---------------------------------------------------------------------------------
# 1.39 replaced ``LogData`` by ``ReadWriteLogRecord``/``ReadableLogRecord`` and renamed
# ``LogExporter``/``LogExportResult``/``InMemoryLogExporter``/``ConsoleLogExporter`` to
# ``LogRecord*`` (the old names stay as deprecated aliases there, which warn). Probe: the import.

# (The names are read with getattr, newest first, so that the old, deprecated ones are never touched
# where the new ones exist, and the type checker sees the 1.39+ classes.)
if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadWriteLogRecord
else:
    from opentelemetry.sdk import _logs as _sdk_logs

    # 1.39+: the record a processor/exporter receives carries the resource itself;
    # 1.37-1.38: LogData(log_record, instrumentation_scope), the resource on log_record.
    ReadWriteLogRecord = getattr(_sdk_logs, "ReadWriteLogRecord", None) or _sdk_logs.LogData

# The log processors and exporters (``opentelemetry.sdk._logs.export``, about 1.5 ms to import) are
# resolved on first use by ``__getattr__`` below: only configure() builds log pipelines, and
# ``from infertel import observe`` does not pay for them.
_LOGS_EXPORT_NAMES = frozenset(
    {
        "BatchLogRecordProcessor",
        "ConsoleLogRecordExporter",
        "InMemoryLogRecordExporter",
        "LogRecordExportResult",
        "LogRecordExporter",
        "SimpleLogRecordProcessor",
    }
)


def _logs_export_names() -> dict[str, Any]:
    from opentelemetry.sdk._logs import export

    def newest(name: str, old_name: str) -> Any:  # the 1.39+ name, else the 1.37-1.38 one
        found = getattr(export, name, None)
        return found if found is not None else getattr(export, old_name)

    return {
        "BatchLogRecordProcessor": export.BatchLogRecordProcessor,
        "SimpleLogRecordProcessor": export.SimpleLogRecordProcessor,
        "ConsoleLogRecordExporter": newest("ConsoleLogRecordExporter", "ConsoleLogExporter"),
        "InMemoryLogRecordExporter": newest("InMemoryLogRecordExporter", "InMemoryLogExporter"),
        "LogRecordExporter": newest("LogRecordExporter", "LogExporter"),
        "LogRecordExportResult": newest("LogRecordExportResult", "LogExportResult"),
    }


def logging_handler_class() -> type | None:
    """The OpenTelemetry ``logging.Handler`` that emits records to a LoggerProvider, or None.

    Newer contrib releases ship it in ``opentelemetry-instrumentation-logging`` (and deprecate the
    SDK's); with contrib 0.58-era releases the SDK's own ``opentelemetry.sdk._logs.LoggingHandler``
    is the one. Probe: the import.

    Example:
        >>> logging_handler_class().__name__
        'LoggingHandler'
    """
    try:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
    except ImportError:
        import importlib.util

        if importlib.util.find_spec("opentelemetry.instrumentation.logging") is None:
            return None  # opentelemetry-instrumentation-logging is not installed
        from opentelemetry.sdk import _logs as sdk_logs

        return getattr(sdk_logs, "LoggingHandler")  # noqa: B009  (absent from the type stubs of 1.39+)
    return LoggingHandler


def log_record_resource(record: Any) -> Any:
    """The resource of an SDK log record as an exporter receives it (every supported release).

    Example:
        >>> from opentelemetry.sdk._logs import LoggerProvider
        >>> log_record_resource  # doctest: +ELLIPSIS
        <function log_record_resource at ...>
    """
    resource = getattr(record, "resource", None)  # 1.39+: ReadableLogRecord.resource
    if resource is None:  # 1.37-1.38: LogData.log_record.resource
        resource = getattr(record.log_record, "resource", None)
    return resource


def new_log_record(logger: Any, **fields: Any) -> Any:
    """A log record for ``logger.emit(...)``, built from keyword ``fields`` (``context=``, ``attributes=``...).

    The API's ``opentelemetry._logs.LogRecord`` everywhere, except on an SDK logger of 1.37-1.38:
    its ``emit`` converts an API record by passing ``trace_id``/``span_id`` to the SDK record, whose
    constructor then warns that this is deprecated (an upstream bug); the SDK's own ``LogRecord``
    (public there, with the logger's public ``resource``) is what it expects. Probe: the SDK module
    still exports ``LogRecord`` with a ``resource`` parameter (gone in 1.39).

    Example:
        >>> from opentelemetry._logs import SeverityNumber
        >>> new_log_record(None, severity_number=SeverityNumber.WARN).severity_number
        <SeverityNumber.WARN: 13>
    """
    resource = getattr(logger, "resource", None)
    if _SDK_LOG_RECORD is not None and resource is not None:
        return _SDK_LOG_RECORD(resource=resource, **fields)
    from opentelemetry._logs import LogRecord

    return LogRecord(**fields)


def _sdk_log_record() -> Any:
    import inspect

    from opentelemetry.sdk import _logs

    cls = getattr(_logs, "LogRecord", None)
    if cls is None:
        return None
    try:
        return cls if "resource" in inspect.signature(cls.__init__).parameters else None
    except (TypeError, ValueError):
        return None


_SDK_LOG_RECORD = _sdk_log_record()


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
    # which only zero-code start-up needs. So are the logs SDK's processors and exporters and the
    # statistics processor's span readers (their probe builds a TracerProvider): configure() uses them.
    if name == "BaseConfigurator":
        value = globals()[name] = _base_configurator()
        return value
    if name in _LOGS_EXPORT_NAMES:
        globals().update(_logs_export_names())
        return globals()[name]
    if name in _SPAN_READS:
        globals().update(_span_reads())
        return globals()[name]
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
# id. One reader per processor call reads every field that call needs at once (a Python call
# costs about 0.05 µs on 3.10), and only for a span that has the attribute the processor asks for
# (``gen_ai.operation.name``): any other span costs one dict lookup. The start reader puts the span
# in the caller's in-flight dict itself; the end reader also reads the caller's clock (only for
# such a span) and returns it first: its tuple is then the processor's whole buffer record, built
# once (the attribute values are read later, by the batch fold). Plain functions, not
# ``operator.attrgetter``: measured, they are as fast on 3.10 and faster on 3.11+. Probe: the
# private readers must agree with the public ones on a real SDK span, live and ended, with and
# without the attribute; otherwise the public readers serve. A span of another shape raises
# ``AttributeError`` in the private readers: callers then use the public ones.


def public_start_fields(span: Any, name: str, into: dict[int, Any]) -> None:
    """``into[span_id] = attributes`` for a starting span that has attribute ``name`` (public properties).

    The caller's dict is filled here rather than a tuple returned: 0.03 µs less per span.
    """
    attributes = span.attributes or {}
    if attributes.get(name) is not None:
        into[span.context.span_id] = attributes


def public_end_fields(
    span: Any, name: str, clock: Callable[[], float]
) -> tuple[float, Any, Any, int, int, Any, int | None] | None:
    """``(clock(), value of name, attributes, span_id, end_time - start_time, status_code, parent span id)``.

    Of an ended span, through the public properties; ``None`` (and no clock read) when the span
    does not have attribute ``name``. A time the span does not have reads 0; no parent reads
    ``None``. The clock's reading comes first so that the tuple is the caller's whole record.
    """
    attributes = span.attributes or {}
    value = attributes.get(name)
    if value is None:
        return None
    parent = span.parent
    return (
        clock(),
        value,
        attributes,
        span.context.span_id,
        (span.end_time or 0) - (span.start_time or 0),
        span.status.status_code,
        None if parent is None else parent.span_id,
    )


def _private_start_fields(span: Any, name: str, into: dict[int, Any]) -> None:
    attributes = span._attributes._dict
    if attributes.get(name) is not None:
        into[span._context[1]] = attributes


def _private_end_fields(
    span: Any, name: str, clock: Callable[[], float]
) -> tuple[float, Any, Any, int, int, Any, int | None] | None:
    attributes = span._attributes._dict
    value = attributes.get(name)
    if value is None:
        return None
    parent = span._parent
    return (
        clock(),
        value,
        attributes,
        span._context[1],
        (span._end_time or 0) - (span._start_time or 0),
        span._status._status_code,
        None if parent is None else parent[1],
    )


def _plain(fields: tuple[Any, ...] | None, attributes_at: int = 1) -> tuple[Any, ...] | None:
    if fields is None:
        return None
    return (*fields[:attributes_at], dict(fields[attributes_at]), *fields[attributes_at + 1 :])


def _span_reads_agree() -> bool:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("infertel.compat.probe")
    parent = tracer.start_span("parent")
    child = tracer.start_span("probe", context=trace.set_span_in_context(parent), attributes={"k": 1})
    live: dict[int, Any] = {}
    public: dict[int, Any] = {}
    for reader, into in ((_private_start_fields, live), (public_start_fields, public)):
        reader(child, "k", into)
        reader(child, "absent", into)
    live_ok = (
        len(live) == 1
        and all(type(attributes) is dict for attributes in live.values())
        and {k: dict(v) for k, v in live.items()} == {k: dict(v) for k, v in public.items()}
    )
    child.set_status(trace.StatusCode.ERROR)
    child.end()
    parent.end()
    ended = [span._readable_span() for span in (child, parent)]  # type: ignore[attr-defined]
    clock = (0.5).__float__  # a fixed reading: both readers must return it first
    fields = [_private_end_fields(span, "k", clock) for span in ended]
    return (
        live_ok
        and fields[0] is not None
        and type(fields[0][2]) is dict
        and _plain(fields[0], 2) == _plain(public_end_fields(ended[0], "k", clock), 2)
        and fields[0][0] == 0.5
        and fields[1] is None
        and _private_end_fields(ended[1], "absent", clock) is public_end_fields(ended[1], "absent", clock) is None
    )


def _probe_span_reads() -> bool:
    try:
        return _span_reads_agree()
    except Exception:  # noqa: BLE001 - any surprise means: use the public readers
        _logger.debug("infertel: SDK span internals differ; using the public span properties", exc_info=True)
        return False


# The three names below are bound by ``__getattr__`` on first use (the statistics processor's
# import, at configure() time): the probe builds a TracerProvider, about 2 ms and a thread pool
# that an import should not cost.
_SPAN_READS = frozenset({"SPAN_INTERNALS", "span_start_fields", "span_end_fields"})

SPAN_INTERNALS: bool
"""Whether :data:`span_start_fields` and :data:`span_end_fields` read private fields."""

span_start_fields: Callable[[Any, str, dict[int, Any]], None]
"""``(span, name, into)``: ``into[span_id] = attributes`` when the starting span has attribute ``name``
(the attributes are a plain dict on the fast path). ``AttributeError``: use :func:`public_start_fields`."""

span_end_fields: Callable[[Any, str, Callable[[], float]], tuple[float, Any, Any, int, int, Any, int | None] | None]
"""``(span, name, clock) -> (clock(), value of name, attributes, span_id, end_time - start_time, status_code,
parent span id)`` or ``None`` without attribute ``name``. ``AttributeError``: use :func:`public_end_fields`."""


def _span_reads() -> dict[str, Any]:
    private = _probe_span_reads()
    return {
        "SPAN_INTERNALS": private,
        "span_start_fields": _private_start_fields if private else public_start_fields,
        "span_end_fields": _private_end_fields if private else public_end_fields,
    }


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
