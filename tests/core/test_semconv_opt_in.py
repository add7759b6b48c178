"""OTEL_SEMCONV_STABILITY_OPT_IN: the newer GenAI metric names, alone or beside the older ones, on both paths."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from core_helpers import collect
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, Sum
from opentelemetry.sdk.metrics.view import View

import infertel
from infertel import semconv
from infertel._internal.metrics.instruments import MODE_DEFAULT, MODE_DUP, MODE_LATEST, mode_from_env
from infertel._internal.metrics.recorder import InstrumentRecorder, PreAggregatedRecorder, recorder_for

_ENV = semconv.OTEL_SEMCONV_STABILITY_OPT_IN


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("", MODE_DEFAULT),
        ("http", MODE_DEFAULT),
        ("gen_ai_latest_experimental", MODE_LATEST),
        (" http , GEN_AI_LATEST_EXPERIMENTAL ", MODE_LATEST),
        ("gen_ai_latest_experimental/dup", MODE_DUP),
        ("gen_ai_latest_experimental,gen_ai_latest_experimental/dup", MODE_DUP),
        ("gen_ai_latest", MODE_DEFAULT),
    ],
)
def test_mode_from_env(value: str, mode: str) -> None:
    assert mode_from_env({_ENV: value}) == mode


# One client and one in-process call through record_metrics(), plus a failed client call:
# the values each naming mode must publish, per metric: (unit, instrument, {attributes: (count, sum)}).
_BASE = {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "m", semconv.GEN_AI_PROVIDER_NAME: "p"}
_ERR = {**_BASE, semconv.ERROR_TYPE: "TimeoutError"}
_IN = {**_BASE, semconv.GEN_AI_TOKEN_TYPE: "input"}
_OUT = {**_BASE, semconv.GEN_AI_TOKEN_TYPE: "output"}
_MOD = {**_BASE, semconv.GEN_AI_TOKEN_MODALITY: "unknown"}


def _key(attributes: dict[str, Any]) -> frozenset[tuple[str, Any]]:
    return frozenset(attributes.items())


_OLD_CLIENT = {
    semconv.GEN_AI_CLIENT_OPERATION_DURATION: ("s", "histogram", {_key(_BASE): (1, 1.5), _key(_ERR): (1, 3.0)}),
    semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK: ("s", "histogram", {_key(_BASE): (1, 0.25)}),
    semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK: ("s", "histogram", {_key(_BASE): (1, 0.05)}),
}
_OLD_SERVER = {
    semconv.GEN_AI_SERVER_REQUEST_DURATION: ("s", "histogram", {_key(_BASE): (1, 2.0)}),
    semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN: ("s", "histogram", {_key(_BASE): (1, 0.5)}),
    semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN: ("s", "histogram", {_key(_BASE): (1, 0.01)}),
}
_OLD_TOKENS = {
    semconv.GEN_AI_CLIENT_TOKEN_USAGE: ("{token}", "histogram", {_key(_IN): (2, 10 + 100), _key(_OUT): (2, 20 + 200)}),
}
_NEW_CLIENT = {
    semconv.GEN_AI_CLIENT_INFERENCE_DURATION: ("s", "histogram", {_key(_BASE): (1, 1.5), _key(_ERR): (1, 3.0)}),
    semconv.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK: ("s", "histogram", {_key(_BASE): (1, 0.25)}),
    semconv.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK: ("s", "histogram", {_key(_BASE): (1, 0.05)}),
}
_NEW_TOKENS = {
    semconv.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS: ("{token}", "histogram", {_key(_BASE): (2, 110)}),
    semconv.GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS: ("{token}", "histogram", {_key(_BASE): (2, 220)}),
    semconv.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS: ("{token}", "counter", {_key(_MOD): (None, 110)}),
    semconv.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS: ("{token}", "counter", {_key(_MOD): (None, 220)}),
}
EXPECTED = {
    "": {**_OLD_CLIENT, **_OLD_SERVER, **_OLD_TOKENS},
    # No newer names exist for the gen_ai.server.* histograms: they stay.
    "gen_ai_latest_experimental": {**_NEW_CLIENT, **_OLD_SERVER, **_NEW_TOKENS},
    "gen_ai_latest_experimental/dup": {**_OLD_CLIENT, **_OLD_SERVER, **_OLD_TOKENS, **_NEW_CLIENT, **_NEW_TOKENS},
}


def _summary(reader: InMemoryMetricReader) -> dict[str, Any]:
    out = {}
    for name, metric in collect(reader).items():
        if isinstance(metric.data, Sum):
            assert metric.data.is_monotonic
            values = {_key(dict(p.attributes)): (None, p.value) for p in metric.data.data_points}
            out[name] = (metric.unit, "counter", values)
        else:
            values = {_key(dict(p.attributes)): (p.count, round(p.sum, 9)) for p in metric.data.data_points}
            out[name] = (metric.unit, "histogram", values)
    return out


def _record(provider: MeterProvider) -> None:
    common = {"model": "m", "operation": "chat", "provider": "p", "meter_provider": provider}
    infertel.record_metrics(
        kind="client",
        duration_s=1.5,
        input_tokens=10,
        output_tokens=20,
        time_to_first_token_s=0.25,
        time_per_output_token_s=0.05,
        **common,
    )
    infertel.record_metrics(kind="client", duration_s=3.0, error_type="TimeoutError", **common)
    infertel.record_metrics(
        kind="internal",
        duration_s=2.0,
        input_tokens=100,
        output_tokens=200,
        time_to_first_token_s=0.5,
        time_per_output_token_s=0.01,
        **common,
    )


@pytest.mark.parametrize("opt_in", list(EXPECTED))
@pytest.mark.parametrize("temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA])
def test_names_by_opt_in_on_both_recording_paths(monkeypatch, opt_in: str, temporality: Any) -> None:
    monkeypatch.setenv(_ENV, opt_in)
    preferred = {Histogram: temporality, Counter: temporality}
    fast_reader = InMemoryMetricReader(preferred_temporality=preferred)
    slow_reader = InMemoryMetricReader(preferred_temporality=preferred)
    fast = MeterProvider(metric_readers=[fast_reader], shutdown_on_exit=False)
    # A pass-through View on the GenAI names makes infertel call Histogram.record / Counter.add per call.
    slow = MeterProvider(metric_readers=[slow_reader], views=[View(instrument_name="gen_ai.*")], shutdown_on_exit=False)
    try:
        assert isinstance(recorder_for(fast), PreAggregatedRecorder)
        assert isinstance(recorder_for(slow), InstrumentRecorder)
        for provider in (fast, slow):
            _record(provider)
        fast_summary, slow_summary = _summary(fast_reader), _summary(slow_reader)
        assert fast_summary == EXPECTED[opt_in]
        assert slow_summary == EXPECTED[opt_in]
        if temporality is AggregationTemporality.DELTA:  # a delta reader starts over: nothing new, nothing sent
            assert _summary(fast_reader) == _summary(slow_reader) == {}
        else:  # cumulative counters keep their totals
            assert _summary(fast_reader) == _summary(slow_reader) == EXPECTED[opt_in]
    finally:
        fast.shutdown()
        slow.shutdown()


def test_counter_temporality_follows_the_reader_per_instrument_class(monkeypatch) -> None:
    monkeypatch.setenv(_ENV, "gen_ai_latest_experimental")
    reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    try:
        assert isinstance(recorder_for(provider), PreAggregatedRecorder)
        for _ in range(2):
            _record(provider)
            metrics = collect(reader)
            histogram = metrics[semconv.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS].data
            counter = metrics[semconv.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS].data
            assert histogram.aggregation_temporality is AggregationTemporality.DELTA
            assert [p.sum for p in histogram.data_points] == [110]  # this interval only
            assert counter.aggregation_temporality is AggregationTemporality.CUMULATIVE
        assert [p.value for p in counter.data_points] == [220]  # both rounds
    finally:
        provider.shutdown()


def test_observed_stream_records_the_newer_names_per_chunk(monkeypatch, tracer_provider, span_exporter) -> None:
    monkeypatch.setenv(_ENV, "gen_ai_latest_experimental")
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)

    @infertel.observe(model="m", kind="client", provider="p", tracer_provider=tracer_provider, meter_provider=provider)
    def stream() -> Iterator[str]:
        yield from ["a", "b", "c", "d"]

    try:
        assert list(stream()) == ["a", "b", "c", "d"]
        metrics = collect(reader)
        (span,) = span_exporter.get_finished_spans()
        ok = {**_BASE, semconv.GEN_AI_RESPONSE_MODEL: "m"}
        assert set(metrics) == {
            semconv.GEN_AI_CLIENT_INFERENCE_DURATION,
            semconv.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
            semconv.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
            semconv.GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
            semconv.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
        }
        (gaps,) = metrics[semconv.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK].data.data_points
        assert (dict(gaps.attributes), gaps.count) == (ok, 3)  # one per chunk after the first
        (first,) = metrics[semconv.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK].data.data_points
        assert first.sum == pytest.approx(span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK])
        (used,) = metrics[semconv.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS].data.data_points
        assert (dict(used.attributes), used.value) == ({**ok, semconv.GEN_AI_TOKEN_MODALITY: "unknown"}, 4)
    finally:
        provider.shutdown()


def test_configured_mode_wins_over_a_later_environment(monkeypatch, install_runtime, meter_provider, metric_reader):
    # configure() read the variable once (kept in the runtime); changing it afterwards changes nothing.
    install_runtime(meter_provider=meter_provider, extras={"gen_ai_semconv_mode": MODE_LATEST})
    monkeypatch.setenv(_ENV, "")
    infertel.record_metrics(model="m", operation="chat", kind="client", provider="p", duration_s=1.0)
    assert set(collect(metric_reader)) == {semconv.GEN_AI_CLIENT_INFERENCE_DURATION}


def test_configure_reads_the_opt_in_once(fresh_otel, monkeypatch, tracer_provider) -> None:
    from infertel._internal import configure as configure_module
    from infertel._internal import state

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    monkeypatch.setenv(_ENV, "gen_ai_latest_experimental/dup")
    infertel.configure(service_name="opt-in", tracer_provider=tracer_provider, meter_provider=provider)
    try:
        assert state.current().extras["gen_ai_semconv_mode"] == MODE_DUP
        monkeypatch.setenv(_ENV, "")  # too late: configure() has read it

        @infertel.observe(model="m", kind="client", provider="p")
        def call() -> dict[str, Any]:
            return {"usage": {"prompt_tokens": 3, "completion_tokens": 4}}

        call()
        # configure() adds its own metrics (statistics, system) to the provider: the GenAI names only.
        assert {name for name in collect(reader) if name.startswith("gen_ai.")} == {
            semconv.GEN_AI_CLIENT_OPERATION_DURATION,
            semconv.GEN_AI_CLIENT_TOKEN_USAGE,
            semconv.GEN_AI_CLIENT_INFERENCE_DURATION,
            semconv.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
            semconv.GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
            semconv.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
            semconv.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
        }
    finally:
        configure_module.shutdown(timeout_millis=5_000)
        provider.shutdown()


@pytest.mark.parametrize(
    ("old", "value", "new"),
    [
        ("INFERTEL_STREAM", "infertel.stream", "GEN_AI_REQUEST_STREAM"),
        ("INFERTEL_TIME_TO_FIRST_TOKEN", "infertel.time_to_first_token", "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK"),
    ],
)
def test_replaced_infertel_names_are_deprecated_constants(old: str, value: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=f"semconv.{old} .* use infertel.semconv.{new}"):
        assert getattr(semconv, old) == value
    with pytest.raises(AttributeError, match="NOT_A_NAME"):
        semconv.NOT_A_NAME  # noqa: B018


_EMB = {
    semconv.GEN_AI_OPERATION_NAME: "embeddings",
    semconv.GEN_AI_REQUEST_MODEL: "e",
    semconv.GEN_AI_PROVIDER_NAME: "p",
}
_EMB_OLD = {
    semconv.GEN_AI_CLIENT_OPERATION_DURATION: ("s", "histogram", {_key(_EMB): (1, 0.5)}),
    semconv.GEN_AI_CLIENT_TOKEN_USAGE: (
        "{token}",
        "histogram",
        {_key({**_EMB, semconv.GEN_AI_TOKEN_TYPE: "input"}): (1, 7)},
    ),
}
_EMB_NEW = {  # client-embeddings: a duration and an input-token histogram, no counters, no output tokens
    semconv.GEN_AI_CLIENT_EMBEDDINGS_DURATION: ("s", "histogram", {_key(_EMB): (1, 0.5)}),
    semconv.GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS: ("{token}", "histogram", {_key(_EMB): (1, 7)}),
}


@pytest.mark.parametrize(
    ("opt_in", "expected"),
    [
        ("", _EMB_OLD),
        ("gen_ai_latest_experimental", _EMB_NEW),
        ("gen_ai_latest_experimental/dup", {**_EMB_OLD, **_EMB_NEW}),
    ],
    ids=["default", "latest", "dup"],
)
def test_embeddings_have_their_own_newer_names(monkeypatch, opt_in: str, expected: dict[str, Any]) -> None:
    monkeypatch.setenv(_ENV, opt_in)
    readers = [InMemoryMetricReader(), InMemoryMetricReader()]
    providers = [
        MeterProvider(metric_readers=[readers[0]], shutdown_on_exit=False),
        MeterProvider(metric_readers=[readers[1]], views=[View(instrument_name="gen_ai.*")], shutdown_on_exit=False),
    ]
    try:
        for provider in providers:
            infertel.record_metrics(
                model="e",
                operation="embeddings",
                kind="client",
                provider="p",
                duration_s=0.5,
                input_tokens=7,
                output_tokens=3,  # an embeddings model reports none; the newer names have nowhere to put it
                meter_provider=provider,
            )
        expected_with_output = dict(expected)
        if semconv.GEN_AI_CLIENT_TOKEN_USAGE in expected:
            unit, kind, values = expected[semconv.GEN_AI_CLIENT_TOKEN_USAGE]
            values = {**values, _key({**_EMB, semconv.GEN_AI_TOKEN_TYPE: "output"}): (1, 3)}
            expected_with_output[semconv.GEN_AI_CLIENT_TOKEN_USAGE] = (unit, kind, values)
        assert _summary(readers[0]) == _summary(readers[1]) == expected_with_output
    finally:
        for provider in providers:
            provider.shutdown()
