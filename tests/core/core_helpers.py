"""Helpers for the core instrumentation tests (metric collection and comparison)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, Metric


def collect(reader: InMemoryMetricReader) -> dict[str, Metric]:
    """Metrics of the ``infertel`` scope by name (one collection)."""
    data = reader.get_metrics_data()
    found: dict[str, Metric] = {}
    if data is None:
        return found
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            if scope_metrics.scope.name != "infertel":
                continue
            for metric in scope_metrics.metrics:
                assert metric.name not in found, f"duplicate metric {metric.name}"
                found[metric.name] = metric
    return found


def points(metric: Metric) -> dict[frozenset[tuple[str, Any]], HistogramDataPoint]:
    """Data points keyed by their attribute set."""
    return {frozenset(p.attributes.items()): p for p in metric.data.data_points}


def point_summary(point: HistogramDataPoint) -> tuple[Any, ...]:
    """Everything but timestamps and exemplars."""
    return (
        dict(point.attributes),
        point.count,
        point.sum,
        tuple(point.bucket_counts),
        tuple(point.explicit_bounds),
        point.min,
        point.max,
    )
