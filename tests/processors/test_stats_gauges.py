"""The observable gauges read back through InMemoryMetricReader equal ``stats()``; exponential views."""

from __future__ import annotations

import inspect
import logging
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
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from stats_support import FakeClock, end_genai_span

from infertel import semconv
from infertel._internal.processors import (
    OVERFLOW_KEY,
    exponential_histogram_views,
    install,
    options_from_env,
    statistics_views,
)
from infertel._internal.processors._snapshot import Distribution, SeriesStats
from infertel._internal.providers import new_meter_provider

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


_SDK_LIMITS = "aggregation_cardinality_limit" in inspect.signature(View.__init__).parameters
"""Whether this opentelemetry-sdk limits attribute sets per instrument (>= 1.45, default 2,000)."""


def _fill_series(tracer: Any, n_models: int) -> None:
    """One streamed request per model (every distribution has quantiles); the first model fails 15 ways."""
    for i in range(n_models):
        end_genai_span(
            tracer, model=f"model-{i:04d}", latency_s=0.5 + i / 1000, ttft_s=0.05, tpot_s=0.01, output_tokens=10
        )
    for k in range(15):
        for _ in range(k + 1):  # error type k occurs k + 1 times
            end_genai_span(tracer, model="model-0000", latency_s=0.1, error_type=f"Error{k:02d}")


def test_every_point_is_published_at_the_series_bound(sdk_tracer_provider: TracerProvider) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], views=statistics_views(max_series=1000))
    clock = FakeClock(30.0)
    handle = install(sdk_tracer_provider, provider, max_series=1000, clock=clock)
    try:
        _fill_series(sdk_tracer_provider.get_tracer("test"), 1200)  # 999 series + the overflow series
        clock.now = 40.0
        got = _points(reader)
        snapshots = {f"{w:g}s": handle.snapshot(w) for w in (60, 300, 900)}
    finally:
        handle.uninstall()
        provider.shutdown()
    assert [len(snap) for snap in snapshots.values()] == [1000, 1000, 1000]
    expected = _expected(snapshots)
    for name in (*DISTRIBUTIONS, *RATES, semconv.INFERTEL_GEN_AI_IN_FLIGHT):
        assert got[name][1] == expected[name], name
    for name in DISTRIBUTIONS:
        assert len(got[name][1]) == 1000 * 3 * 5, name  # every window x series x quantile
    for name in RATES:
        assert len(got[name][1]) == 1000 * 3, name
    # error_rate_by_type: the 9 most frequent types of model-0000, the other 6 summed as _OTHER.
    by_type = got[semconv.INFERTEL_GEN_AI_ERROR_RATE_BY_TYPE][1]
    series = snapshots["60s"]["model-0000", "chat"]
    published = {
        dict(key)[semconv.ERROR_TYPE]: value
        for key, value in by_type.items()
        if dict(key)[semconv.STATS_WINDOW] == "60s" and dict(key).get(semconv.GEN_AI_REQUEST_MODEL) == "model-0000"
    }
    assert series.requests == 1 + sum(range(1, 16))
    assert published == {
        **{f"Error{k:02d}": (k + 1) / series.requests for k in range(14, 5, -1)},
        "_OTHER": sum(range(1, 7)) / series.requests,
    }
    assert len(by_type) == 3 * 10


def test_the_sdk_default_limit_would_drop_points(sdk_tracer_provider: TracerProvider) -> None:
    """The comparison the views are for: without them, an SDK with cardinality limits drops points."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    handle = install(sdk_tracer_provider, provider, max_series=1000, clock=FakeClock(30.0))
    try:
        _fill_series(sdk_tracer_provider.get_tracer("test"), 1200)
        got = _points(reader)
    finally:
        handle.uninstall()
        provider.shutdown()
    latency = got[semconv.INFERTEL_GEN_AI_LATENCY][1]
    if _SDK_LIMITS:
        assert len(latency) == 2000 + 1  # the SDK's default limit, plus its overflow point
        assert latency[frozenset({semconv.OTEL_METRIC_OVERFLOW: True}.items())] is not None
    else:  # opentelemetry-sdk < 1.45 has no limit: every point, unbounded
        assert len(latency) == 1000 * 3 * 5


def test_statistics_views_limits() -> None:
    if not _SDK_LIMITS:  # opentelemetry-sdk < 1.45: no limit to raise, no view needed
        assert statistics_views() == []
        return
    views = {view._instrument_name: view._aggregation_cardinality_limit for view in statistics_views()}
    assert views == {
        **dict.fromkeys(DISTRIBUTIONS, 2 * 1000 * 3 * 5),
        **dict.fromkeys(RATES, 2 * 1000 * 3),
        semconv.INFERTEL_GEN_AI_ERROR_RATE_BY_TYPE: 2 * 1000 * 3 * 10,
        semconv.INFERTEL_GEN_AI_IN_FLIGHT: 2 * 1000,
    }
    with pytest.raises(ValueError, match="max_series"):
        statistics_views(max_series=0)


def test_configure_meter_provider_has_room_for_the_configured_series(
    sdk_tracer_provider: TracerProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The MeterProvider configure() creates sizes its views from INFERTEL_STATS_* (300 x 3 x 5 > 2,000).
    monkeypatch.setenv("INFERTEL_STATS_MAX_SERIES", "300")
    reader = InMemoryMetricReader()
    provider = new_meter_provider(Resource.create({}), [reader])
    handle = install(sdk_tracer_provider, provider, **options_from_env(), clock=FakeClock(30.0))
    try:
        _fill_series(sdk_tracer_provider.get_tracer("test"), 400)
        latency = _points(reader)[semconv.INFERTEL_GEN_AI_LATENCY][1]
    finally:
        handle.uninstall()
        provider.shutdown()
    assert len(latency) == 300 * 3 * 5
    assert frozenset({semconv.OTEL_METRIC_OVERFLOW: True}.items()) not in latency


@pytest.mark.parametrize(
    ("views", "max_series", "warned"),
    [
        (False, 1000, _SDK_LIMITS),  # 15,000 points per gauge, 2,000 kept: said once
        (True, 1000, False),  # statistics_views() on the provider: room for all
        (False, 133, False),  # 133 x 3 x 5 = 1,995 points: within the default
    ],
)
def test_a_provider_without_room_is_reported(
    sdk_tracer_provider: TracerProvider, caplog: pytest.LogCaptureFixture, views: bool, max_series: int, warned: bool
) -> None:
    provider = MeterProvider(
        metric_readers=[InMemoryMetricReader()], views=statistics_views(max_series=max_series) if views else ()
    )
    with caplog.at_level(logging.WARNING, logger="infertel"):
        handle = install(sdk_tracer_provider, provider, max_series=max_series)
    handle.uninstall()
    provider.shutdown()
    messages = [r.getMessage() for r in caplog.records if "otel.metric.overflow" in r.getMessage()]
    expected = (
        "infertel: the statistics gauges publish up to 15000 points each (1000 series x 3 windows x 5 quantiles), "
        "but this MeterProvider keeps 2000 per instrument (the SDK's default); the rest fold into "
        "otel.metric.overflow. Create it with views=infertel.processors.statistics_views(...) (same options as the "
        "statistics)"
    )
    assert messages == ([expected] if warned else [])
