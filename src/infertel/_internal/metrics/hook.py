"""Publish :class:`~infertel._internal.metrics.aggregate.PreAggregator` data through SDK readers.

:func:`enable_preaggregation` wraps the collect callback the SDK ``MeterProvider`` installs on
each of its readers: the wrapper calls the SDK's own collection first,
then adds the pre-aggregated GenAI histograms to the returned ``MetricsData`` under the
``infertel`` instrumentation scope and the provider's resource. Every reader kind works the
same way (periodic exporting, in-memory, Prometheus), each in its own temporality.

The wrapper never breaks a collection: its own failures go through ``handle_internal_errors``
and the SDK's data is returned unchanged. The SDK members this needs are not public: they are read
through :mod:`infertel._internal.compat` (:func:`~infertel._internal.compat.metrics_sdk_internals`),
and where that probe fails infertel records with ``Histogram.record`` instead (the same data).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider as SDKMeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Metric,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.metrics.view import DefaultAggregation, ExplicitBucketHistogramAggregation, SumAggregation
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from infertel import semconv
from infertel._internal import forking  # noqa: F401  (its at-fork hook resets every aggregator)
from infertel._internal.compat import MetricsSDKInternals, default_explicit_histogram, metrics_sdk_internals
from infertel._internal.errors import handle_internal_errors
from infertel._internal.metrics.aggregate import PreAggregator
from infertel._internal.metrics.instruments import ALL_SPECS
from infertel.version import __version__

_logger = logging.getLogger(__name__)

SCOPE = InstrumentationScope(semconv.INSTRUMENTATION_SCOPE, __version__, schema_url=semconv.SCHEMA_URL)
"""The instrumentation scope of infertel's GenAI metrics (same for both recording paths)."""

_lock = threading.Lock()
_aggregators: weakref.WeakKeyDictionary[Any, PreAggregator] = weakref.WeakKeyDictionary()
_refused: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def enable_preaggregation(meter_provider: object) -> bool:
    """Publish infertel's GenAI histograms from in-process aggregates through every reader of ``meter_provider``.

    Idempotent. Returns False, and infertel then calls ``Histogram.record()`` per call, when
    the provider is not an OpenTelemetry SDK ``MeterProvider``, is disabled or shut down,
    has a View that matches one of the GenAI histograms, or has a reader whose preferred
    histogram aggregation is not the default one (so Views and reader preferences are
    always honoured).

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        >>> enable_preaggregation(MeterProvider(metric_readers=[InMemoryMetricReader()]))
        True
    """
    if not isinstance(meter_provider, SDKMeterProvider):
        return False
    with _lock:
        if meter_provider in _aggregators:
            return True
        if meter_provider in _refused:
            return False
        try:
            internals = metrics_sdk_internals(meter_provider)
            eligible = internals is not None and _eligible(internals)
            if internals is not None and eligible:
                aggregator = PreAggregator()
                for reader in internals.readers():
                    _hook_reader(internals, aggregator, reader)
                _wrap_reader_management(meter_provider, internals, aggregator)
                _aggregators[meter_provider] = aggregator
        except Exception:  # a future SDK without the internals we rely on: per-call record() still works
            _logger.debug("infertel: pre-aggregation unavailable for %r", meter_provider, exc_info=True)
            eligible = False
        if not eligible:
            _refused[meter_provider] = True
        return eligible


def aggregator_for(meter_provider: object) -> PreAggregator | None:
    """The aggregator :func:`enable_preaggregation` installed on ``meter_provider``, if any."""
    try:
        return _aggregators.get(meter_provider)
    except TypeError:  # not weak-referenceable
        return None


def _eligible(internals: MetricsSDKInternals) -> bool:
    if not internals.active():
        return False
    for spec in ALL_SPECS:
        if internals.view_matches(SCOPE, spec.name, spec.unit, spec.description, counter=spec.counter):
            return False
    return all(
        _default_histograms(internals.aggregation(reader))
        and isinstance(internals.aggregation(reader, counter=True), (DefaultAggregation, SumAggregation))
        for reader in internals.readers()
    )


def _default_histograms(aggregation: Any) -> bool:
    """Whether a reader aggregates histograms as the SDK's default does (the advisory boundaries).

    The OTLP metric exporters ask for ``ExplicitBucketHistogramAggregation()`` without boundaries,
    which is the same thing.
    """
    if isinstance(aggregation, DefaultAggregation):
        return True
    return isinstance(aggregation, ExplicitBucketHistogramAggregation) and default_explicit_histogram(aggregation)


class _CollectHook:
    """Replaces a reader's collect callback: the SDK's collection plus the pre-aggregated histograms."""

    def __init__(self, original: Callable[..., Any], aggregator: PreAggregator, internals: MetricsSDKInternals) -> None:
        self.original = original
        self.aggregator = aggregator
        self._internals = internals

    def __call__(self, reader: Any, *args: Any, **kwargs: Any) -> MetricsData | None:
        data: MetricsData | None = self.original(reader, *args, **kwargs)
        with handle_internal_errors:
            metrics = self.aggregator.collect(reader)
            if metrics:
                data = _merge(data, metrics, self._internals)
        return data


def _hook_reader(internals: MetricsSDKInternals, aggregator: PreAggregator, reader: Any) -> None:
    original = internals.collect_callback(reader)
    if original is None or isinstance(original, _CollectHook):
        return
    temporality = internals.temporality(reader, AggregationTemporality.CUMULATIVE)
    counter_temporality = internals.temporality(reader, AggregationTemporality.CUMULATIVE, counter=True)
    aggregator.register_reader(reader, temporality, counter_temporality)
    internals.set_collect_callback(reader, _CollectHook(original, aggregator, internals))


def _wrap_reader_management(
    provider: SDKMeterProvider, internals: MetricsSDKInternals, aggregator: PreAggregator
) -> None:
    add_original = getattr(provider, "add_metric_reader", None)
    remove_original = getattr(provider, "remove_metric_reader", None)
    if add_original is None or remove_original is None:
        return  # SDK 1.37-1.38: readers are fixed when the provider is built

    def add_metric_reader(metric_reader: Any) -> None:
        add_original(metric_reader)
        with handle_internal_errors:
            _hook_reader(internals, aggregator, metric_reader)

    def remove_metric_reader(metric_reader: Any) -> None:
        remove_original(metric_reader)
        with handle_internal_errors:
            aggregator.unregister_reader(metric_reader)

    provider.add_metric_reader = add_metric_reader  # type: ignore[method-assign]
    provider.remove_metric_reader = remove_metric_reader  # type: ignore[method-assign]


def _merge(data: MetricsData | None, metrics: list[Metric], internals: MetricsSDKInternals) -> MetricsData:
    if data is None or not data.resource_metrics:
        resource = internals.resource()
        return MetricsData(
            resource_metrics=[
                ResourceMetrics(
                    resource=resource,
                    scope_metrics=[ScopeMetrics(scope=SCOPE, metrics=metrics, schema_url=SCOPE.schema_url or "")],
                    schema_url=resource.schema_url,
                )
            ]
        )
    first = data.resource_metrics[0]
    scope_metrics = list(first.scope_metrics)
    for i, existing in enumerate(scope_metrics):
        if existing.scope == SCOPE:
            scope_metrics[i] = ScopeMetrics(
                scope=existing.scope, metrics=[*existing.metrics, *metrics], schema_url=existing.schema_url
            )
            break
    else:
        scope_metrics.append(ScopeMetrics(scope=SCOPE, metrics=metrics, schema_url=SCOPE.schema_url or ""))
    merged = ResourceMetrics(resource=first.resource, scope_metrics=scope_metrics, schema_url=first.schema_url)
    return MetricsData(resource_metrics=[merged, *data.resource_metrics[1:]])
