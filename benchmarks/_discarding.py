"""Exporters that accept and drop everything, and a throw-away registration of them as entry points.

A benchmark of the per-call cost wants the real pipeline (processors, batching, readers) without
the exporter's own work on a background thread competing for the GIL with the measured loop.
:func:`registration` makes a folder with a ``.dist-info`` that registers both exporters under the
standard ``opentelemetry_traces_exporter`` / ``opentelemetry_metrics_exporter`` groups as
``bench_discard``: with that folder and this one on ``PYTHONPATH``, ``OTEL_TRACES_EXPORTER=bench_discard``
selects them exactly as it selects any installed exporter (``infertel.configure()`` and
``opentelemetry-instrument`` alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

NAME = "bench_discard"


class DiscardingSpanExporter(SpanExporter):
    """Accepts every batch and keeps nothing."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class DiscardingMetricExporter(MetricExporter):
    """Accepts every collection and keeps nothing."""

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def registration(folder: Path) -> Path:
    """Write a distribution's metadata registering both exporters as ``bench_discard`` into ``folder``."""
    dist_info = folder / "infertel_bench_discard-0.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: infertel-bench-discard\nVersion: 0\n")
    (dist_info / "entry_points.txt").write_text(
        f"[opentelemetry_traces_exporter]\n{NAME} = _discarding:DiscardingSpanExporter\n\n"
        f"[opentelemetry_metrics_exporter]\n{NAME} = _discarding:DiscardingMetricExporter\n"
    )
    return folder
