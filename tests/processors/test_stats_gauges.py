"""The observable gauges read back through InMemoryMetricReader equal ``stats()``; exponential views."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ExponentialHistogram,
    Gauge,
    Histogram,
    InMemoryMetricReader,
)
from opentelemetry.sdk.trace import TracerProvider
from stats_support import FakeClock, end_genai_span

from infertel import semconv
from infertel._internal.processors import OVERFLOW_KEY, exponential_histogram_views, install
from infertel._internal.processors._snapshot import Distribution, SeriesStats

DISTRIBUTIONS = {
    semconv.INFERTEL_GEN_AI_LATENCY: ("s", lambda s: s.latency),
    semconv.INFERTEL_GEN_AI_TIME_TO_FIRST_TOKEN: ("s", lambda s: s.ttft),
    semconv.INFERTEL_GEN_AI_TIME_PER_OUTPUT_TOKEN: ("s", lambda s: s.tpot),
    semconv.INFERTEL_GEN_AI_DECODE_SPEED: ("{token}/s", lambda s: s.decode_speed),
}
RATES = {
    semconv.INFERTEL_GEN_AI_OUTPUT_TOKENS_PER_SECOND: ("{token}/s", lambda s: s.output_tokens_per_s),
    semconv.INFERTEL_GEN_AI_INPUT_TOKENS_PER_SECOND: ("{token}/s", lambda s: s.input_tokens_per_s),
    semconv.INFERTEL_GEN_AI_REQUESTS_PER_SECOND: ("{request}/s", lambda s: s.requests_per_s),
    semconv.INFERTEL_GEN_AI_ERROR_RATE: ("1", lambda s: s.error_rate),
}


def _points(reader: InMemoryMetricReader) -> dict[str, tuple[str, dict[frozenset[tuple[str, Any]], float]]]:
    data = reader.get_metrics_data()
    assert data is not None
    out = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            if scope_metrics.scope.name != semconv.INSTRUMENTATION_SCOPE:
                continue
            for metric in scope_metrics.metrics:
                assert isinstance(metric.data, Gauge)
                points = {frozenset(p.attributes.items()): p.value for p in metric.data.data_points}
                assert len(points) == len(metric.data.data_points)  # no duplicate attribute sets
                out[metric.name] = (metric.unit, points)
    return out


def _expected(snapshots: dict[str, dict[Any, SeriesStats]]) -> dict[str, dict[frozenset[tuple[str, Any]], float]]:
    expected: dict[str, dict[frozenset[tuple[str, Any]], float]] = {name: {} for name in (*DISTRIBUTIONS, *RATES)}
    expected[semconv.INFERTEL_GEN_AI_ERROR_RATE_BY_TYPE] = {}
    expected[semconv.INFERTEL_GEN_AI_IN_FLIGHT] = {}
    for window, snap in snapshots.items():
        for series in snap.values():
            base = {**series.attributes, semconv.STATS_WINDOW: window}
            for name, (_, pick) in DISTRIBUTIONS.items():
                dist: Distribution = pick(series)
                for q, value in dist.quantiles.items():
                    expected[name][frozenset({**base, semconv.STATS_QUANTILE: f"{q:g}"}.items())] = value
            for name, (_, value_of) in RATES.items():
                expected[name][frozenset(base.items())] = value_of(series)
            for error_type, n in series.errors_by_type.items():
                key = frozenset({**base, semconv.ERROR_TYPE: error_type}.items())
                expected[semconv.INFERTEL_GEN_AI_ERROR_RATE_BY_TYPE][key] = n / series.requests
            expected[semconv.INFERTEL_GEN_AI_IN_FLIGHT][frozenset(series.attributes.items())] = series.in_flight
    return expected


def test_gauges_equal_stats_at_the_same_instant(
    sdk_tracer_provider: TracerProvider, meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    clock = FakeClock(0.0)
    handle = install(sdk_tracer_provider, meter_provider, windows_s=(60, 300), max_series=3, clock=clock)
    tracer = sdk_tracer_provider.get_tracer("test")
    rng = np.random.default_rng(5)
    clock.now = 20.0
    for i in range(300):
        end_genai_span(
            tracer,
            latency_s=float(rng.lognormal(0, 0.4)),
            ttft_s=0.05 + 0.001 * (i % 17),
            output_tokens=int(rng.integers(2, 300)),
            input_tokens=int(rng.integers(1, 100)),
            error_type="timeout" if i % 7 == 0 else None,
        )
    clock.now = 90.0
    for i in range(50):
        end_genai_span(tracer, model="small", operation="embeddings", latency_s=0.02 + 0.001 * i, input_tokens=8)
    for model in ("x", "y"):  # past max_series: the overflow series
        end_genai_span(tracer, model=model, latency_s=0.5, output_tokens=3)
    open_span = tracer.start_span(
        "chat llama-3-8b",
        attributes={semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "llama-3-8b"},
    )
    clock.now = 100.0

    got = _points(metric_reader)
    expected = _expected({"60s": handle.snapshot(60), "300s": handle.snapshot(300)})

    for name, points in expected.items():
        unit, actual = got[name]
        assert actual == points, name
    for name, (unit, _) in {**DISTRIBUTIONS, **RATES}.items():
        assert got[name][0] == unit
    assert got[semconv.INFERTEL_GEN_AI_IN_FLIGHT][0] == "{request}"
    assert got[semconv.INFERTEL_GEN_AI_ERROR_RATE_BY_TYPE][0] == "1"
    # Spot checks that the comparison is not vacuous.
    latency = got[semconv.INFERTEL_GEN_AI_LATENCY][1]
    p99_300 = frozenset(
        {
            semconv.GEN_AI_REQUEST_MODEL: "llama-3-8b",
            semconv.GEN_AI_OPERATION_NAME: "chat",
            semconv.STATS_WINDOW: "300s",
            semconv.STATS_QUANTILE: "0.99",
        }.items()
    )
    assert latency[p99_300] == handle.snapshot(300)["llama-3-8b", "chat"].latency.p99 > 0
    in_flight = got[semconv.INFERTEL_GEN_AI_IN_FLIGHT][1]
    key = frozenset({semconv.GEN_AI_REQUEST_MODEL: "llama-3-8b", semconv.GEN_AI_OPERATION_NAME: "chat"}.items())
    assert in_flight[key] == 1
    overflow = got[semconv.INFERTEL_GEN_AI_REQUESTS_PER_SECOND][1][
        frozenset({semconv.OTEL_METRIC_OVERFLOW: True, semconv.STATS_WINDOW: "60s"}.items())
    ]
    assert overflow == pytest.approx(2 / 50.0)  # window [50, 100): 2 requests
    assert handle.snapshot(60)[OVERFLOW_KEY].requests == 2
    # 5 quantiles x (3 series in the 300 s window + 2 in the 60 s one, where llama's requests expired)
    assert len(latency) == 5 * (3 + 2)
    open_span.end()


def test_no_data_points_after_uninstall(
    sdk_tracer_provider: TracerProvider, meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    handle = install(sdk_tracer_provider, meter_provider, clock=FakeClock(1.0))
    end_genai_span(sdk_tracer_provider.get_tracer("test"))
    assert _points(metric_reader)[semconv.INFERTEL_GEN_AI_LATENCY][1]
    handle.uninstall()
    data = metric_reader.get_metrics_data()
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics} if data else set()
    assert semconv.INFERTEL_GEN_AI_LATENCY not in names


def test_exponential_histogram_views_apply_to_genai_histograms() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], views=exponential_histogram_views(max_size=64))
    try:
        meter = provider.get_meter("test")
        duration = meter.create_histogram(semconv.GEN_AI_CLIENT_OPERATION_DURATION, unit="s")
        tokens = meter.create_histogram(semconv.GEN_AI_CLIENT_TOKEN_USAGE, unit="{token}")
        other = meter.create_histogram("http.server.request.duration", unit="s")
        for v in (0.1, 0.2, 0.4, 3.0):
            duration.record(v, {semconv.GEN_AI_REQUEST_MODEL: "m"})
            other.record(v)
        tokens.record(120, {semconv.GEN_AI_TOKEN_TYPE: "output"})
        data = reader.get_metrics_data()
        metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    finally:
        provider.shutdown()
    point = metrics[semconv.GEN_AI_CLIENT_OPERATION_DURATION].data.data_points[0]
    assert isinstance(metrics[semconv.GEN_AI_CLIENT_OPERATION_DURATION].data, ExponentialHistogram)
    assert (point.count, point.sum, point.min, point.max) == (4, pytest.approx(3.7), 0.1, 3.0)
    assert sum(point.positive.bucket_counts) == 4 and len(point.positive.bucket_counts) <= 64
    assert isinstance(metrics[semconv.GEN_AI_CLIENT_TOKEN_USAGE].data, ExponentialHistogram)
    assert isinstance(metrics["http.server.request.duration"].data, Histogram)  # untouched


@pytest.mark.parametrize(("options", "message"), [({"max_size": 1}, "max_size"), ({"max_scale": 21}, "max_scale")])
def test_exponential_view_options_are_checked(options, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        exponential_histogram_views(**options)
