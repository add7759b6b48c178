"""The statistics span processor on a real SDK TracerProvider, against exact answers."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider
from stats_buffers import BUFFERS, buffer_kind
from stats_support import FakeClock, end_genai_span

import infertel
from infertel import semconv
from infertel._internal import processors
from infertel._internal.processors import OVERFLOW_KEY, InferenceStats, install
from infertel._internal.quantiles import QuantileSketch

QS = (0.5, 0.9, 0.95, 0.99, 0.999)


def _close(estimate: float | None, truth: float) -> bool:
    return estimate is not None and abs(estimate - truth) <= 0.01 * truth


def test_series_statistics_match_exact_answers(tracer_provider: TracerProvider, clock: FakeClock) -> None:
    handle = install(tracer_provider, windows_s=(60, 300), clock=clock)
    tracer = tracer_provider.get_tracer("test")
    rng = np.random.default_rng(1)
    latencies = rng.lognormal(0.0, 0.5, 400)
    ttfts = latencies * rng.uniform(0.05, 0.3, 400)
    outputs = rng.integers(2, 500, 400)
    clock.now = 30.0
    for i in range(400):
        end_genai_span(
            tracer,
            latency_s=float(latencies[i]),
            ttft_s=float(ttfts[i]),
            input_tokens=10 + i,
            output_tokens=int(outputs[i]),
            error_type=("timeout" if i % 10 == 0 else "rate_limit" if i % 25 == 1 else None),
        )
    end_genai_span(tracer, model="other", operation="embeddings", latency_s=0.01, input_tokens=5)

    snap = infertel.stats(window_s=60)
    s = snap["llama-3-8b", "chat"]

    lat = np.round(latencies * 1e9) / 1e9  # the span's nanosecond clock
    decode = (outputs - 1) / (lat - ttfts)
    tpot = (lat - ttfts) / (outputs - 1)
    assert (s.model, s.operation, s.window_s, s.duration_s) == ("llama-3-8b", "chat", 60.0, 30.0)
    assert s.attributes == {semconv.GEN_AI_REQUEST_MODEL: "llama-3-8b", semconv.GEN_AI_OPERATION_NAME: "chat"}
    assert (s.requests, s.errors, dict(s.errors_by_type)) == (400, 56, {"timeout": 40, "rate_limit": 16})
    assert (s.input_tokens, s.output_tokens) == (sum(range(10, 410)), int(outputs.sum()))
    assert s.requests_per_s == pytest.approx(400 / 30)
    assert s.output_tokens_per_s == pytest.approx(outputs.sum() / 30)
    assert s.input_tokens_per_s == pytest.approx(sum(range(10, 410)) / 30)
    assert s.error_rate == pytest.approx(56 / 400)
    assert s.in_flight == 0
    for dist, truth in ((s.latency, lat), (s.ttft, ttfts), (s.tpot, tpot), (s.decode_speed, decode)):
        assert dist.count == 400
        assert set(dist.quantiles) == set(QS)
        for q in QS:
            assert _close(dist.quantile(q), float(np.quantile(truth, q))), q
    assert (s.latency.p50, s.latency.p999) == (s.latency.quantiles[0.5], s.latency.quantiles[0.999])

    other = snap["other", "embeddings"]
    assert (other.requests, other.input_tokens, other.ttft.count, other.tpot.count) == (1, 5, 0, 0)
    assert other.ttft.p99 is None and other.decode_speed.count == 0
    assert infertel.stats(window_s=60, model="other").keys() == {("other", "embeddings")}
    assert handle.snapshot(300)["llama-3-8b", "chat"].requests == 400


def test_non_genai_spans_are_ignored(tracer_provider: TracerProvider, clock: FakeClock) -> None:
    handle = install(tracer_provider, clock=clock)
    tracer = tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("GET /", attributes={semconv.GEN_AI_REQUEST_MODEL: "m"}):
        pass
    assert len(handle.snapshot(60)) == 0 and handle.stats.series_count() == 0


def test_in_flight_counts_started_spans_until_they_end(tracer_provider: TracerProvider, clock: FakeClock) -> None:
    handle = install(tracer_provider, clock=clock)
    tracer = tracer_provider.get_tracer("test")
    attrs = {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "m"}
    spans = [tracer.start_span("chat m", attributes=attrs) for _ in range(3)]
    assert handle.snapshot(60)["m", "chat"].in_flight == 3
    spans[0].end()
    s = handle.snapshot(60)["m", "chat"]
    assert (s.in_flight, s.requests) == (2, 1)
    for span in spans[1:]:
        span.end()
    assert handle.snapshot(60)["m", "chat"].in_flight == 0


def test_window_expiry_and_merging_with_injected_clock(sdk_tracer_provider: TracerProvider, clock: FakeClock) -> None:
    handle = install(sdk_tracer_provider, windows_s=(60, 300), slots_per_window=6, clock=clock)
    tracer = sdk_tracer_provider.get_tracer("test")
    first = [0.1 * (i + 1) for i in range(10)]
    second = [2.0 + 0.05 * i for i in range(20)]
    clock.now = 5.0  # slot [0, 10) of the 60 s window
    for v in first:
        end_genai_span(tracer, latency_s=v, output_tokens=3)
    clock.now = 25.0  # slot [20, 30)
    for v in second:
        end_genai_span(tracer, latency_s=v, output_tokens=1)

    clock.now = 59.0
    s = handle.snapshot(60)["llama-3-8b", "chat"]
    union = QuantileSketch.from_values([round(v * 1e9) / 1e9 for v in first + second])
    assert (s.requests, s.output_tokens, s.duration_s) == (30, 50, 59.0)
    assert [s.latency.quantile(q) for q in QS] == union.quantiles(QS)  # merging slots adds no error

    clock.now = 65.0  # the window now starts at 10 s: slot [0, 10) expired
    s = handle.snapshot(60)["llama-3-8b", "chat"]
    only_second = QuantileSketch.from_values([round(v * 1e9) / 1e9 for v in second])
    assert (s.requests, s.output_tokens, s.duration_s) == (20, 20, 55.0)
    assert [s.latency.quantile(q) for q in QS] == only_second.quantiles(QS)
    assert s.requests_per_s == pytest.approx(20 / 55)

    clock.now = 85.0  # window starts at 30 s: everything expired from the 60 s window ...
    s = handle.snapshot(60)["llama-3-8b", "chat"]
    assert (s.requests, s.latency.count, s.latency.p50, s.requests_per_s) == (0, 0, None, 0.0)
    assert handle.snapshot(300)["llama-3-8b", "chat"].requests == 30  # ... not from the 300 s one

    clock.now = 400.0  # and later from every window: the idle series is dropped
    assert len(handle.snapshot(300)) == 0
    assert handle.stats.series_count() == 0


def test_late_samples_count_in_the_open_slot(sdk_tracer_provider: TracerProvider, clock: FakeClock) -> None:
    stats = InferenceStats(windows_s=(60,), clock=clock)
    clock.now = 50.0
    stats.record_end(stats.end_record(("m", "chat"), 1.0, None, None, None, None, None))
    clock.now = 12.0
    late = stats.end_record(("m", "chat"), 2.0, None, None, None, None, None)  # clocked before the slot
    clock.now = 50.0
    stats.record_end(late)
    assert stats.snapshot(60)["m", "chat"].requests == 2


def test_a_full_buffer_while_folding_stalls_drops_and_counts_the_excess(
    sdk_tracer_provider: TracerProvider, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infertel._internal.processors import InferenceStatsSpanProcessor, _processor, _stats

    monkeypatch.setattr(_processor, "FOLD_BATCH", 2)  # every append from the second on tries to fold
    monkeypatch.setattr(_stats, "MAX_BUFFER", 6)
    processor = InferenceStatsSpanProcessor(windows_s=(60,), clock=clock)
    sdk_tracer_provider.add_span_processor(processor)
    tracer = sdk_tracer_provider.get_tracer("test")
    stats = processor.stats
    with stats._lock:  # a long query holds the lock: nothing can be folded
        for _ in range(10):
            end_genai_span(tracer, output_tokens=1)
        assert len(stats.buffer) == 6
    assert (stats.losses(), processor.force_flush()) == (4, False)
    assert (stats.losses(), processor.force_flush()) == (4, True)  # nothing lost since the last flush
    snap = stats.snapshot(60)["llama-3-8b", "chat"]
    assert (snap.requests, snap.output_tokens, snap.latency.count) == (6, 6, 6)
    end_genai_span(tracer)
    end_genai_span(tracer)  # the second append folds the buffer (the lock is free)
    assert (len(stats.buffer), stats.losses(), processor.force_flush()) == (0, 4, True)


@pytest.mark.parametrize("buffer", BUFFERS)
def test_the_background_folder_drains_a_full_batch_or_a_buffer_whose_oldest_record_waited(
    buffer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from infertel._internal.processors import _folder

    monkeypatch.setattr(_folder, "DRAIN_RECORDS", 50)
    # Each buffer kind waits its own time: the other kind's is far too long for the test to pass with it.
    monkeypatch.setattr(_folder, "MAX_WAIT_S", 0.8 if buffer == "list" else 100.0)
    monkeypatch.setattr(_folder, "MAX_WAIT_COMPACT_S", 100.0 if buffer == "list" else 0.8)
    with buffer_kind(buffer):
        stats = InferenceStats(windows_s=(60,))  # the real clock: the folder compares the records' times with it

    def drained_within(seconds: float) -> float | None:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            if not stats.buffer:
                return time.monotonic() - start
            time.sleep(0.01)
        return None

    first = time.monotonic()
    for _ in range(10):  # fewer than DRAIN_RECORDS: they wait for the oldest to be 0.8 s old
        stats.record_end(stats.end_record(("m", "chat"), 0.5, None, None, 1, 2, None))
    assert drained_within(0.5) is None  # the folder looked at least once meanwhile, and left it
    assert drained_within(3.0) is not None
    assert time.monotonic() - first >= 0.8
    for _ in range(60):  # a full batch: drained at the next look (every 0.25 s), long before 0.8 s
        stats.record_end(stats.end_record(("m", "chat"), 0.5, None, None, 1, 2, None))
    waited = drained_within(3.0)
    assert waited is not None and waited < 0.6
    assert stats.snapshot(60)["m", "chat"].requests == 70


def test_a_subclass_override_runs_and_reaches_the_processor_through_super(
    sdk_tracer_provider: TracerProvider, clock: FakeClock
) -> None:
    from infertel._internal.processors import InferenceStatsSpanProcessor

    seen: list[str] = []

    class Counting(InferenceStatsSpanProcessor):
        def on_end(self, span: Any) -> None:
            seen.append(span.name)
            super().on_end(span)

    processor = Counting(windows_s=(60,), clock=clock)
    sdk_tracer_provider.add_span_processor(processor)
    tracer = sdk_tracer_provider.get_tracer("test")
    end_genai_span(tracer, output_tokens=3)
    tracer.start_span("plain").end()
    assert seen == ["chat llama-3-8b", "plain"]
    snap = processor.stats.snapshot(60)["llama-3-8b", "chat"]
    assert (snap.requests, snap.output_tokens) == (1, 3)
    processor.shutdown()
    end_genai_span(tracer, output_tokens=3)  # still seen by the subclass, no longer counted
    assert len(seen) == 3
    assert processor.stats.snapshot(60)["llama-3-8b", "chat"].requests == 1


@pytest.mark.usefixtures("production_errors")
def test_a_record_that_breaks_the_fold_is_dropped_alone(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    stats = InferenceStats(windows_s=(60,), clock=clock, extra_attributes=("tenant",))
    good = stats.end_record(("m", "chat", "a"), 1.0, None, None, 1, 2, None)
    broken = stats.end_record(("m", "chat", ["unhashable"]), 1.0, None, None, 1, 2, None)
    with caplog.at_level(logging.WARNING, logger="infertel"):
        for record in (good, broken, good, good):
            stats.record_end(record)
        snap = stats.snapshot(60)
    assert {key: s.requests for key, s in snap.items()} == {("m", "chat", "a"): 3}
    assert any("infertel internal error" in r.getMessage() for r in caplog.records)


def test_eight_threads_lose_nothing(sdk_tracer_provider: TracerProvider) -> None:
    handle = install(sdk_tracer_provider, windows_s=(900,))  # real monotonic clock
    tracer = sdk_tracer_provider.get_tracer("test")
    per_thread = 3000
    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            end_genai_span(tracer, model=f"m{n % 2}", latency_s=0.001 * (i % 100 + 1), output_tokens=n + 1)
            if i % 500 == 0:
                handle.snapshot(900)  # queries race with the hot path too

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    snap = handle.snapshot(900)
    m0, m1 = snap["m0", "chat"], snap["m1", "chat"]
    assert (m0.requests, m1.requests) == (4 * per_thread, 4 * per_thread)
    assert m0.output_tokens == per_thread * (1 + 3 + 5 + 7)
    assert m1.output_tokens == per_thread * (2 + 4 + 6 + 8)
    assert m0.latency.count == m1.latency.count == 4 * per_thread
    assert m0.in_flight == m1.in_flight == 0


def test_concurrent_asyncio_tasks_lose_nothing(sdk_tracer_provider: TracerProvider, clock: FakeClock) -> None:
    handle = install(sdk_tracer_provider, clock=clock)
    tracer = sdk_tracer_provider.get_tracer("test")
    attrs = {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "m"}

    async def request(i: int) -> None:
        with tracer.start_as_current_span("chat m", attributes=attrs) as span:
            await asyncio.sleep(0)
            span.set_attribute(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, i)

    async def main() -> int:
        tasks = [asyncio.create_task(request(i)) for i in range(2000)]
        await asyncio.sleep(0)
        in_flight = handle.snapshot(60)["m", "chat"].in_flight
        await asyncio.gather(*tasks)
        return in_flight

    assert asyncio.run(main()) == 2000
    s = handle.snapshot(60)["m", "chat"]
    assert (s.requests, s.output_tokens, s.in_flight) == (2000, sum(range(2000)), 0)


def test_overflow_series_after_max_series(
    sdk_tracer_provider: TracerProvider, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    handle = install(sdk_tracer_provider, max_series=3, clock=clock)
    tracer = sdk_tracer_provider.get_tracer("test")
    with caplog.at_level(logging.WARNING, logger="infertel"):
        for n in range(5):
            for _ in range(n + 1):
                end_genai_span(tracer, model=f"m{n}", latency_s=1.0)
        snap = handle.snapshot(60)
        end_genai_span(tracer, model="m9", latency_s=1.0)
        handle.snapshot(60)
    assert set(snap) == {("m0", "chat"), ("m1", "chat"), OVERFLOW_KEY}
    overflow = snap[OVERFLOW_KEY]
    assert overflow.requests == 3 + 4 + 5
    assert overflow.overflow and (overflow.model, overflow.operation) == (None, None)
    assert overflow.attributes == {semconv.OTEL_METRIC_OVERFLOW: True}
    assert not snap["m0", "chat"].overflow
    warnings = [r for r in caplog.records if semconv.OTEL_METRIC_OVERFLOW in r.getMessage()]
    assert len(warnings) == 1  # one-time warning


def test_extra_attributes_split_series(sdk_tracer_provider: TracerProvider, clock: FakeClock) -> None:
    handle = install(sdk_tracer_provider, extra_attributes=("gen_ai.provider.name",), clock=clock)
    tracer = sdk_tracer_provider.get_tracer("test")
    end_genai_span(tracer, extra={"gen_ai.provider.name": "vllm"})
    end_genai_span(tracer, extra={"gen_ai.provider.name": "tgi"})
    end_genai_span(tracer)
    snap = handle.snapshot(60)
    assert set(snap) == {("llama-3-8b", "chat", "vllm"), ("llama-3-8b", "chat", "tgi"), ("llama-3-8b", "chat", None)}
    assert snap["llama-3-8b", "chat", "vllm"].attributes["gen_ai.provider.name"] == "vllm"
    assert "gen_ai.provider.name" not in snap["llama-3-8b", "chat", None].attributes


def test_bad_attribute_values_are_dropped_with_a_warning(
    sdk_tracer_provider: TracerProvider, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    handle = install(sdk_tracer_provider, clock=clock)
    tracer = sdk_tracer_provider.get_tracer("test")
    with caplog.at_level(logging.WARNING, logger="infertel"):
        end_genai_span(tracer, input_tokens="many", output_tokens=-4, ttft_s=-1.0, latency_s=2.0)
        s = handle.snapshot(60)["llama-3-8b", "chat"]
    assert (s.requests, s.input_tokens, s.output_tokens, s.ttft.count, s.latency.count) == (1, 0, 0, 0, 1)
    assert any("gen_ai.usage.input_tokens" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("production_errors")
def test_internal_failure_never_reaches_span_end(
    sdk_tracer_provider: TracerProvider, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_clock() -> float:
        raise RuntimeError("clock broke")

    stats = InferenceStats(clock=lambda: 0.0)
    stats.clock = broken_clock
    sdk_tracer_provider.add_span_processor(processors.InferenceStatsSpanProcessor(stats))
    tracer = sdk_tracer_provider.get_tracer("test")
    with caplog.at_level(logging.WARNING, logger="infertel"):
        end_genai_span(tracer)  # must not raise
    assert any("infertel internal error" in r.getMessage() for r in caplog.records)


def test_internal_failure_reraises_in_the_test_suite(sdk_tracer_provider: TracerProvider) -> None:
    stats = InferenceStats(clock=lambda: 0.0)

    def broken_clock() -> float:
        raise RuntimeError("clock broke")

    stats.clock = broken_clock
    sdk_tracer_provider.add_span_processor(processors.InferenceStatsSpanProcessor(stats))
    with pytest.raises(RuntimeError, match="clock broke"):
        end_genai_span(sdk_tracer_provider.get_tracer("test"))


def test_stats_without_anything_installed_is_empty() -> None:
    snap = infertel.stats()
    assert (len(snap), snap.window_s, snap.get(("llama-3-8b", "chat"))) == (0, 60.0, None)


def test_stats_is_exported_from_infertel() -> None:
    assert infertel.stats is processors.stats
    assert infertel.Snapshot is processors.Snapshot


def test_unknown_window_is_a_value_error(sdk_tracer_provider: TracerProvider) -> None:
    install(sdk_tracer_provider, windows_s=(60, 300))
    with pytest.raises(ValueError, match=r"window_s must be one of the configured windows \(60, 300\)"):
        infertel.stats(window_s=61)


def test_uninstall_stops_recording(sdk_tracer_provider: TracerProvider, clock: FakeClock) -> None:
    handle = install(sdk_tracer_provider, clock=clock)
    handle.uninstall()
    end_genai_span(sdk_tracer_provider.get_tracer("test"))
    assert len(handle.snapshot(60)) == 0 and len(infertel.stats()) == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"windows_s": (0,)}, "windows_s must be one or more positive"),
        ({"windows_s": (-60, 300)}, "windows_s must be one or more positive"),
        ({"windows_s": ()}, "windows_s"),
        ({"windows_s": ("soon",)}, "windows_s must be positive numbers"),
        ({"quantiles": (0.0, 0.5)}, r"quantiles must be one or more numbers in the open interval \(0, 1\)"),
        ({"quantiles": (1.0,)}, "quantiles"),
        ({"max_series": 0}, "max_series must be an integer >= 1"),
        ({"max_series": 2.5}, "max_series"),
        ({"extra_attributes": ("",)}, "extra_attributes"),
        ({"slots_per_window": 0}, "slots_per_window must be an integer >= 1"),
        ({"relative_accuracy": 0.0}, r"relative_accuracy must be in \(0, 0.5\)"),
    ],
)
def test_configuration_errors_name_the_setting(sdk_tracer_provider: TracerProvider, options, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        install(sdk_tracer_provider, **options)


def test_install_needs_an_sdk_tracer_provider() -> None:
    from opentelemetry.trace import NoOpTracerProvider

    with pytest.raises(ValueError, match="tracer_provider must be an OpenTelemetry SDK TracerProvider"):
        install(NoOpTracerProvider())  # type: ignore[arg-type]


def test_options_from_environment() -> None:
    env = {
        "INFERTEL_STATS_WINDOWS": "60, 600",
        "INFERTEL_STATS_QUANTILES": "0.5,0.99",
        "INFERTEL_STATS_MAX_SERIES": "50",
        "INFERTEL_STATS_EXTRA_ATTRIBUTES": "gen_ai.provider.name",
    }
    assert processors.options_from_env(env) == {
        "windows_s": (60.0, 600.0),
        "quantiles": (0.5, 0.99),
        "max_series": 50,
        "extra_attributes": ("gen_ai.provider.name",),
    }
    assert processors.options_from_env({}) == {}
    with pytest.raises(ValueError, match="INFERTEL_STATS_WINDOWS must be comma-separated positive seconds"):
        processors.options_from_env({"INFERTEL_STATS_WINDOWS": "a minute"})
    with pytest.raises(ValueError, match="INFERTEL_STATS_MAX_SERIES"):
        processors.options_from_env({"INFERTEL_STATS_MAX_SERIES": "0"})


def test_rates_right_after_start_divide_by_at_least_one_second(
    sdk_tracer_provider: TracerProvider, clock: FakeClock
) -> None:
    handle = install(sdk_tracer_provider, clock=clock)
    clock.now = 0.25
    end_genai_span(sdk_tracer_provider.get_tracer("test"), output_tokens=40)
    s = handle.snapshot(60)["llama-3-8b", "chat"]
    assert (s.duration_s, s.requests_per_s, s.output_tokens_per_s) == (1.0, 1.0, 40.0)


def test_error_status_without_error_type_counts_as_other(sdk_tracer_provider: TracerProvider, clock: FakeClock) -> None:
    from opentelemetry.trace import Status, StatusCode

    handle = install(sdk_tracer_provider, clock=clock)
    tracer = sdk_tracer_provider.get_tracer("test")
    span = tracer.start_span(
        "chat m", attributes={semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "m"}
    )
    span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end()
    s = handle.snapshot(60)["m", "chat"]
    assert (s.errors, dict(s.errors_by_type), s.error_rate) == (1, {"_OTHER": 1}, 1.0)


def test_install_without_attaching_lets_the_caller_add_the_processor(
    sdk_tracer_provider: TracerProvider, clock: FakeClock
) -> None:
    handle = install(None, attach=False, clock=clock)
    end_genai_span(sdk_tracer_provider.get_tracer("test"))
    assert len(infertel.stats()) == 0  # not attached: nothing recorded
    sdk_tracer_provider.add_span_processor(handle.processor)
    end_genai_span(sdk_tracer_provider.get_tracer("test"))
    assert infertel.stats()["llama-3-8b", "chat"].requests == 1


def test_a_request_seen_by_nested_spans_of_one_series_counts_once() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    from infertel._internal.processors import InferenceStatsSpanProcessor

    provider = TracerProvider()
    processor = InferenceStatsSpanProcessor(windows_s=(60,))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    genai = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
    # An HTTP server span that learns its GenAI attributes late, around the in-process model call.
    with tracer.start_as_current_span("POST /v1/chat/completions") as server:
        with tracer.start_as_current_span("chat m", attributes=genai):
            pass
        server.set_attributes(genai)
    # A child of another series and a lone span still count.
    with tracer.start_as_current_span("chat m", attributes=genai):
        with tracer.start_as_current_span("chat e", attributes={**genai, "gen_ai.request.model": "e"}):
            pass
    snap = processor.stats.snapshot(60)
    assert (snap["m", "chat"].requests, snap["e", "chat"].requests) == (2, 1)
    provider.shutdown()
