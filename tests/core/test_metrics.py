"""GenAI metrics: exact structures, pre-aggregated == per-call record(), reader hook robustness."""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from core_helpers import collect, point_summary, points
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

import infertel
from infertel import semconv
from infertel._internal.instrument import invocation, reaper
from infertel._internal.metrics import aggregate, enable_preaggregation
from infertel._internal.metrics.recorder import InstrumentRecorder, PreAggregatedRecorder, recorder_for

BASE = {
    semconv.GEN_AI_OPERATION_NAME: "chat",
    semconv.GEN_AI_REQUEST_MODEL: "llama",
    semconv.GEN_AI_PROVIDER_NAME: "vllm",
}


def _delta_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})


def test_internal_kind_metric_structure(meter_provider, metric_reader, tracer_provider) -> None:
    assert isinstance(recorder_for(meter_provider), PreAggregatedRecorder)

    @infertel.observe(model="llama", provider="vllm", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def stream() -> Iterator[str]:
        yield from ["a", "b", "c"]

    @infertel.observe(model="llama", provider="vllm", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def fail() -> None:
        raise KeyError("x")

    assert list(stream()) == ["a", "b", "c"]
    with pytest.raises(KeyError):
        fail()
    metrics = collect(metric_reader)
    assert set(metrics) == {
        semconv.GEN_AI_SERVER_REQUEST_DURATION,
        semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
        semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
        semconv.GEN_AI_CLIENT_TOKEN_USAGE,
    }
    ok = {**BASE, semconv.GEN_AI_RESPONSE_MODEL: "llama"}
    duration = metrics[semconv.GEN_AI_SERVER_REQUEST_DURATION]
    assert (duration.unit, duration.description) == (
        "s",
        "Generative AI server request duration such as time-to-last byte or last output token.",
    )
    assert duration.data.aggregation_temporality is AggregationTemporality.CUMULATIVE
    by_attrs = points(duration)
    assert set(by_attrs) == {frozenset(ok.items()), frozenset({**BASE, semconv.ERROR_TYPE: "KeyError"}.items())}
    for point in by_attrs.values():
        assert point.count == 1 and sum(point.bucket_counts) == 1
        assert tuple(point.explicit_bounds) == semconv.DURATION_BUCKETS
        assert point.min == point.max == point.sum
    (ttft,) = metrics[semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN].data.data_points
    assert dict(ttft.attributes) == ok
    assert tuple(ttft.explicit_bounds) == semconv.TIME_TO_FIRST_TOKEN_BUCKETS
    (tpot,) = metrics[semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN].data.data_points
    assert tuple(tpot.explicit_bounds) == semconv.TIME_PER_OUTPUT_TOKEN_BUCKETS
    tokens = metrics[semconv.GEN_AI_CLIENT_TOKEN_USAGE]
    assert tokens.unit == "{token}"
    (output,) = tokens.data.data_points
    assert dict(output.attributes) == {**ok, semconv.GEN_AI_TOKEN_TYPE: "output"}
    assert (output.count, output.sum, output.min, output.max) == (1, 3, 3, 3)
    assert tuple(output.explicit_bounds) == semconv.TOKEN_USAGE_BUCKETS
    assert list(output.bucket_counts) == [0, 1] + [0] * 13  # 3 lies in (1, 4]


def test_record_metrics_client_kind(meter_provider, metric_reader) -> None:
    infertel.record_metrics(
        model="gpt-4o",
        operation="chat",
        kind="client",
        provider="openai",
        duration_s=0.5,
        input_tokens=10,
        output_tokens=100,
        time_to_first_token_s=0.1,
        time_per_output_token_s=0.004,
        server_address="api.openai.com",
        server_port=443,
        meter_provider=meter_provider,
    )
    metrics = collect(metric_reader)
    attrs = {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: "gpt-4o",
        semconv.GEN_AI_PROVIDER_NAME: "openai",
        semconv.SERVER_ADDRESS: "api.openai.com",
        semconv.SERVER_PORT: 443,
    }
    summaries = {name: sorted(map(point_summary, m.data.data_points), key=repr) for name, m in metrics.items()}
    duration_buckets = semconv.DURATION_BUCKETS
    assert summaries == {
        semconv.GEN_AI_CLIENT_OPERATION_DURATION: [
            (attrs, 1, 0.5, tuple(1 if i == 6 else 0 for i in range(15)), duration_buckets, 0.5, 0.5)
        ],
        semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK: [
            (attrs, 1, 0.1, tuple(1 if i == 4 else 0 for i in range(15)), duration_buckets, 0.1, 0.1)
        ],
        semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK: [
            (attrs, 1, 0.004, tuple(1 if i == 0 else 0 for i in range(15)), duration_buckets, 0.004, 0.004)
        ],
        semconv.GEN_AI_CLIENT_TOKEN_USAGE: sorted(
            [
                (
                    {**attrs, semconv.GEN_AI_TOKEN_TYPE: "input"},
                    1,
                    10,
                    tuple(1 if i == 2 else 0 for i in range(15)),
                    semconv.TOKEN_USAGE_BUCKETS,
                    10,
                    10,
                ),
                (
                    {**attrs, semconv.GEN_AI_TOKEN_TYPE: "output"},
                    1,
                    100,
                    tuple(1 if i == 4 else 0 for i in range(15)),
                    semconv.TOKEN_USAGE_BUCKETS,
                    100,
                    100,
                ),
            ],
            key=repr,
        ),
    }


def test_record_metrics_validation(meter_provider, metric_reader, caplog) -> None:
    with pytest.raises(ValueError, match="^kind: 'server' is not one of 'internal', 'client'"):
        infertel.record_metrics(model="m", operation="chat", kind="server", duration_s=1.0)
    with caplog.at_level(logging.WARNING, logger="infertel"):
        infertel.record_metrics(
            model="m",
            operation="chat",
            duration_s=0.2,
            input_tokens=-3,
            output_tokens=float("nan"),
            meter_provider=meter_provider,
        )
    metrics = collect(metric_reader)
    assert set(metrics) == {semconv.GEN_AI_SERVER_REQUEST_DURATION}
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "invalid input token count -3" in messages and "invalid output token count nan" in messages


def _fake_clock(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = random.Random(seed)
    state = itertools.count(1_000_000_000)

    def clock() -> int:
        # Irregular steps from 1 µs to 3 s, identical for both runs of the same seed.
        return next(state) + int(rng.lognormvariate(13, 3)) % 3_000_000_000

    monotonic = [0]

    def monotonic_clock() -> int:
        monotonic[0] = max(monotonic[0] + 1, clock())
        return monotonic[0]

    monkeypatch.setattr(invocation, "_perf_ns", monotonic_clock)
    # A stream released unfinished is ended by the reaper thread, at the time it was released.
    monkeypatch.setattr(reaper, "_perf_ns", monotonic_clock)


def _workload(provider: MeterProvider, seed: int) -> None:
    rng = random.Random(seed)

    def make(kind: str, model: str, stream: bool) -> Any:
        if stream:

            def fn(n: int) -> Iterator[str]:
                for i in range(n):
                    yield str(i)
        else:

            def fn(n: int) -> dict[str, Any]:  # type: ignore[misc]
                if n == 0:
                    raise TimeoutError("t")
                return {"usage": {"prompt_tokens": n * 7, "completion_tokens": n * 13 + 1}}

        return infertel.observe(model=model, kind=kind, provider="p", meter_provider=provider)(fn)

    functions = [make(k, m, s) for k in ("internal", "client") for m in ("a", "b") for s in (False, True)]
    for _ in range(300):
        fn = rng.choice(functions)
        n = rng.randint(0, 40)
        try:
            result = fn(n)
            if not isinstance(result, dict):
                taken = rng.randint(0, n + 1)
                for i, _chunk in enumerate(result):
                    if i >= taken:
                        break
                del result
                # Ended by the reaper thread: wait, so the fake clock is read in the same order in both runs.
                assert reaper.wait_reaped(time.monotonic() + 10)
        except TimeoutError:
            pass
    for i in range(50):
        infertel.record_metrics(
            model=rng.choice("ab"),
            operation="chat",
            kind=rng.choice(("internal", "client")),
            duration_s=rng.random() * 20,
            input_tokens=rng.randint(0, 100000),
            output_tokens=rng.randint(0, 5000),
            time_to_first_token_s=rng.random(),
            time_per_output_token_s=rng.random() / 10,
            error_type="E" if i % 7 == 0 else None,
            meter_provider=provider,
        )


def _summary(point: Any) -> tuple[Any, ...]:
    if hasattr(point, "bucket_counts"):
        return point_summary(point)
    return (dict(point.attributes), point.value)  # a counter (OTEL_SEMCONV_STABILITY_OPT_IN names)


def _snapshot(reader: InMemoryMetricReader) -> dict[str, Any]:
    return {
        name: (
            metric.unit,
            metric.description,
            metric.data.aggregation_temporality,
            sorted(map(_summary, metric.data.data_points), key=repr),
        )
        for name, metric in collect(reader).items()
    }


@pytest.mark.parametrize(
    ("opt_in", "metric_count"), [("", 7), ("gen_ai_latest_experimental/dup", 14)], ids=["default", "dup"]
)
@pytest.mark.parametrize("temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA])
def test_preaggregated_equals_per_call_record(monkeypatch, temporality, opt_in: str, metric_count: int) -> None:
    monkeypatch.setenv(semconv.OTEL_SEMCONV_STABILITY_OPT_IN, opt_in)
    preferred = {Histogram: temporality, Counter: temporality}
    fast_reader = InMemoryMetricReader(preferred_temporality=preferred)
    slow_reader = InMemoryMetricReader(preferred_temporality=preferred)
    fast = MeterProvider(metric_readers=[fast_reader], shutdown_on_exit=False)
    # A pass-through View on the GenAI names makes infertel honour Views: per-call record().
    slow = MeterProvider(metric_readers=[slow_reader], views=[View(instrument_name="gen_ai.*")], shutdown_on_exit=False)
    try:
        assert isinstance(recorder_for(fast), PreAggregatedRecorder)
        assert isinstance(recorder_for(slow), InstrumentRecorder)
        rounds = []
        for seed in (1, 2, 3):
            for provider in (fast, slow):
                _fake_clock(monkeypatch, seed)
                _workload(provider, seed)
            rounds.append((_snapshot(fast_reader), _snapshot(slow_reader)))
        for fast_snapshot, slow_snapshot in rounds:
            assert set(fast_snapshot) == {spec for spec in slow_snapshot}
            assert len(fast_snapshot) == metric_count  # every GenAI instrument of the naming mode took part
            for name in fast_snapshot:
                assert fast_snapshot[name] == slow_snapshot[name], name
        # Something was actually aggregated in every round.
        assert all(any(v[3] for v in snap.values()) for snap, _ in rounds)
    finally:
        fast.shutdown()
        slow.shutdown()


def test_preaggregation_refused_where_it_cannot_be_exact() -> None:
    assert enable_preaggregation(NoOpMeterProvider()) is False
    assert enable_preaggregation(object()) is False
    exponential = InMemoryMetricReader(preferred_aggregation={Histogram: ExponentialBucketHistogramAggregation()})
    provider = MeterProvider(metric_readers=[exponential], shutdown_on_exit=False)
    assert enable_preaggregation(provider) is False
    assert isinstance(recorder_for(provider), InstrumentRecorder)
    other_meter_view = MeterProvider(
        views=[View(instrument_name="*", meter_name="someone-else")], shutdown_on_exit=False
    )
    assert enable_preaggregation(other_meter_view) is True
    for p in (provider, other_meter_view):
        p.shutdown()


@pytest.mark.skipif(
    not hasattr(MeterProvider, "add_metric_reader"), reason="MeterProvider.add_metric_reader came after SDK 1.37"
)
def test_readers_added_later_and_several_temporalities() -> None:
    cumulative = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[cumulative], shutdown_on_exit=False)
    assert enable_preaggregation(provider)
    delta = _delta_reader()
    provider.add_metric_reader(delta)
    try:
        for value in (0.1, 0.2):
            infertel.record_metrics(model="m", operation="chat", duration_s=value, meter_provider=provider)
        first_delta = collect(delta)[semconv.GEN_AI_SERVER_REQUEST_DURATION].data.data_points[0]
        assert (first_delta.count, first_delta.sum) == (2, pytest.approx(0.3))
        infertel.record_metrics(model="m", operation="chat", duration_s=0.4, meter_provider=provider)
        second_delta = collect(delta)[semconv.GEN_AI_SERVER_REQUEST_DURATION].data.data_points[0]
        assert (second_delta.count, second_delta.sum, second_delta.min) == (1, 0.4, 0.4)
        assert collect(delta) == {}  # nothing new: a delta reader exports nothing
        total = collect(cumulative)[semconv.GEN_AI_SERVER_REQUEST_DURATION].data.data_points[0]
        assert (total.count, total.min, total.max) == (3, 0.1, 0.4)
        again = collect(cumulative)[semconv.GEN_AI_SERVER_REQUEST_DURATION].data.data_points[0]
        assert again.count == 3  # cumulative keeps exporting
    finally:
        provider.shutdown()


def test_sdk_metrics_and_ours_share_the_scope(meter_provider, metric_reader) -> None:
    # infertel's own meters (the statistics gauges) carry its schema URL: one scope with the GenAI histograms.
    meter = meter_provider.get_meter("infertel", infertel.__version__, schema_url=semconv.SCHEMA_URL)
    meter.create_counter("infertel.test.counter").add(2)
    infertel.record_metrics(model="m", operation="chat", duration_s=1.0, meter_provider=meter_provider)
    data = metric_reader.get_metrics_data()
    (resource_metrics,) = data.resource_metrics
    scopes = [sm for sm in resource_metrics.scope_metrics if sm.scope.name == "infertel"]
    assert len(scopes) == 1
    assert {m.name for m in scopes[0].metrics} == {"infertel.test.counter", semconv.GEN_AI_SERVER_REQUEST_DURATION}
    assert scopes[0].scope.schema_url == scopes[0].schema_url == semconv.SCHEMA_URL
    assert resource_metrics.resource is meter_provider._sdk_config.resource


def test_failing_hook_never_breaks_collection(production_errors, meter_provider, metric_reader, monkeypatch, caplog):
    meter_provider.get_meter("other").create_counter("other.counter").add(1)
    infertel.record_metrics(model="m", operation="chat", duration_s=1.0, meter_provider=meter_provider)

    def broken(self: Any, reader: Any) -> Any:
        raise RuntimeError("aggregator bug")

    monkeypatch.setattr(aggregate.PreAggregator, "collect", broken)
    with caplog.at_level(logging.WARNING, logger="infertel"):
        data = metric_reader.get_metrics_data()
    names = [m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    assert names == ["other.counter"]  # the SDK's own data still comes through
    assert any("infertel internal error" in r.getMessage() for r in caplog.records)


def test_cardinality_is_bounded() -> None:
    aggregator = aggregate.PreAggregator(cardinality_limit=3)
    reader = object()
    aggregator.register_reader(reader, AggregationTemporality.CUMULATIVE)
    from infertel._internal.metrics.instruments import SERVER_REQUEST_DURATION

    for i in range(10):
        series = aggregator.series(SERVER_REQUEST_DURATION, {"gen_ai.request.model": f"m{i}"})
        with aggregator.lock:
            aggregate.add(series, 1.0)
    (metric,) = aggregator.collect(reader)
    by_attrs = {tuple(sorted(p.attributes.items())): p.count for p in metric.data.data_points}
    assert by_attrs == {
        (("gen_ai.request.model", "m0"),): 1,
        (("gen_ai.request.model", "m1"),): 1,
        (("gen_ai.request.model", "m2"),): 1,
        ((semconv.OTEL_METRIC_OVERFLOW, True),): 7,
    }


def test_prometheus_reader_gets_the_histograms() -> None:
    prometheus = pytest.importorskip("opentelemetry.exporter.prometheus")
    from prometheus_client import REGISTRY, generate_latest

    reader = prometheus.PrometheusMetricReader(disable_target_info=True)
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    try:
        assert enable_preaggregation(provider)
        infertel.record_metrics(model="m", operation="chat", duration_s=0.03, meter_provider=provider)
        lines = [line for line in generate_latest(REGISTRY).decode().splitlines() if "gen_ai_server" in line]
        buckets = {
            line.split('le="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1]) for line in lines if "_bucket{" in line
        }
        assert buckets == {
            **{str(b): (1.0 if b >= 0.04 else 0.0) for b in semconv.DURATION_BUCKETS},
            "+Inf": 1.0,
        }
        assert any(line.startswith("gen_ai_server_request_duration_seconds_count{") for line in lines)
    finally:
        provider.shutdown()  # also unregisters the reader's collector from the registry
    assert "gen_ai_server_request_duration" not in generate_latest(REGISTRY).decode()


def test_concurrent_recording_loses_nothing(meter_provider, metric_reader) -> None:
    import threading

    def work() -> None:
        for _ in range(500):
            infertel.record_metrics(
                model="m", operation="chat", duration_s=0.25, output_tokens=2, meter_provider=meter_provider
            )

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    collected_midway = collect(metric_reader)  # collections race with recording
    for thread in threads:
        thread.join()
    metrics = collect(metric_reader)
    (duration,) = metrics[semconv.GEN_AI_SERVER_REQUEST_DURATION].data.data_points
    assert (duration.count, duration.sum) == (4000, 1000.0)
    (tokens,) = metrics[semconv.GEN_AI_CLIENT_TOKEN_USAGE].data.data_points
    assert (tokens.count, tokens.sum) == (4000, 8000)
    if collected_midway:
        (early,) = collected_midway[semconv.GEN_AI_SERVER_REQUEST_DURATION].data.data_points
        assert early.count <= 4000


def test_global_meter_provider_followed_without_caching(tracer_provider, span_exporter) -> None:
    from infertel._internal.metrics.recorder import GlobalRecorder

    @infertel.observe(model="m", tracer_provider=tracer_provider)
    def generate() -> dict[str, Any]:
        return {"usage": {"prompt_tokens": 1, "completion_tokens": 2}}

    for _ in range(3):
        assert generate() == {"usage": {"prompt_tokens": 1, "completion_tokens": 2}}
    assert len(span_exporter.get_finished_spans()) == 3
    site_binding = next(
        c.cell_contents for c in generate.__closure__ if type(c.cell_contents).__name__ == "Site"
    ).binding()
    assert isinstance(site_binding.recorder, GlobalRecorder)
    assert site_binding.handles == {}  # the global provider may change: nothing cached
