"""Streams let go unfinished: their spans end on the reaper thread, never inside a finalizer.

A finalizer runs wherever CPython frees the stream, possibly in a garbage collection on a thread
that holds a lock the span's end needs (a metric aggregator's, a span processor's). These tests
hold such a lock while the stream is freed: before the reaper existed, the first one hung.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from span_helpers import LockingProcessor, wait_reaped

import infertel
from infertel import semconv
from infertel._internal.instrument import reaper


def _observed(tracer_provider: Any, meter_provider: Any) -> Any:
    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def tokens(n: int = 100) -> Iterator[int]:
        yield from range(n)

    return tokens


def test_collected_stream_ends_on_the_reaper_while_the_collecting_thread_holds_the_lock(
    tracer_provider, meter_provider, span_exporter
) -> None:
    locking = LockingProcessor()
    tracer_provider.add_span_processor(locking)
    tokens = _observed(tracer_provider, meter_provider)
    stream = tokens()
    next(stream)
    holder: list[Any] = [stream]
    holder.append(holder)  # a cycle: only the garbage collector frees it
    del stream, holder
    with locking.lock:
        before_ns = time.time_ns()
        gc.collect()  # finalizes the stream on this thread, which holds the processor's lock
        after_ns = time.time_ns()
        assert locking.ended == []  # not ended inside the finalizer
        time.sleep(0.2)
    wait_reaped(10.0)
    assert locking.ended == [("infertel-stream-reaper", True)]
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_ABANDONED
    assert span.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 1
    # The span ends when the stream was released, not when the reaper got the lock 0.2 s later.
    assert span.end_time is not None and before_ns - 1_000_000 <= span.end_time <= after_ns + 1_000_000


def test_released_stream_after_break_is_closed_with_the_release_time(
    tracer_provider, meter_provider, span_exporter
) -> None:
    locking = LockingProcessor()
    tracer_provider.add_span_processor(locking)
    tokens = _observed(tracer_provider, meter_provider)
    with locking.lock:
        for chunk in tokens():
            if chunk == 2:
                break
        released_ns = time.time_ns()
        time.sleep(0.3)
    wait_reaped(10.0)
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_CLOSED
    assert span.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 3
    assert span.end_time is not None and span.start_time is not None
    assert span.end_time <= released_ns + 1_000_000  # the release, give or take the clocks' reads
    assert span.end_time - span.start_time < 250_000_000  # the 0.3 s wait is not in the duration
    assert locking.ended == [("infertel-stream-reaper", True)]


def test_async_stream_released_unread_is_abandoned_on_the_reaper(
    tracer_provider, meter_provider, span_exporter
) -> None:
    locking = LockingProcessor()
    tracer_provider.add_span_processor(locking)

    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider)
    async def tokens() -> Any:
        yield 1

    with locking.lock:
        stream = tokens()
        del stream
        assert locking.ended == []
    wait_reaped(10.0)
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_ABANDONED
    assert span.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 0
    assert locking.ended == [("infertel-stream-reaper", True)]


def test_close_raising_in_a_finalizer_is_an_error_span(
    tracer_provider, meter_provider, span_exporter, monkeypatch
) -> None:
    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def tokens() -> Iterator[int]:
        try:
            yield 1
            yield 2
        finally:
            raise KeyError("cleanup failed")

    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    stream = tokens()
    next(stream)
    del stream
    wait_reaped(10.0)
    # CPython reports the KeyError raised in a finalizer as unraisable, unchanged.
    assert [(type(u.exc_value), u.exc_value.args) for u in unraisable] == [(KeyError, ("cleanup failed",))]
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "KeyError"
    assert span.status.status_code.name == "ERROR"


@pytest.mark.timeout(120)
def test_thousands_of_abandoned_streams_while_a_reader_collects_in_a_tight_loop(
    tracer_provider, meter_provider, metric_reader, span_exporter
) -> None:
    models = [f"model-{i}" for i in range(40)]  # 40 series: collection allocates a lot under the SDK's locks
    streams_of = [
        infertel.observe(model=model, tracer_provider=tracer_provider, meter_provider=meter_provider)(
            lambda: (yield from range(10))
        )
        for model in models
    ]
    stop = threading.Event()
    collections = [0]

    def read() -> None:
        while not stop.is_set():
            metric_reader.get_metrics_data()
            collections[0] += 1

    reader = threading.Thread(target=read, name="reader", daemon=True)  # daemon: a deadlock fails, never hangs
    thresholds = gc.get_threshold()
    reader.start()
    batches, per_batch = 40, 100
    try:
        for batch in range(batches):
            # Make garbage with the collector off, then let the reader allocate: the collections, and so
            # the streams' finalizers, run on the reader's thread, often inside the SDK's locked sections.
            gc.disable()
            for i in range(per_batch):
                stream = streams_of[(batch + i) % len(models)]()
                if i % 2:
                    next(stream)
                holder: list[Any] = [stream]
                holder.append(holder)
                del stream, holder
            gc.set_threshold(20)
            gc.enable()
            time.sleep(0.01)
    finally:
        gc.set_threshold(*thresholds)
        gc.enable()
        stop.set()
        reader.join(30)
    assert not reader.is_alive(), "the reader thread deadlocked"
    gc.collect()
    wait_reaped(10.0)
    assert collections[0] > 0
    spans = span_exporter.get_finished_spans()
    streams = batches * per_batch
    reasons = [s.attributes[semconv.INFERTEL_STREAM_END_REASON] for s in spans]
    assert reasons == [semconv.STREAM_END_ABANDONED] * streams
    assert sorted(s.attributes[semconv.INFERTEL_STREAM_CHUNKS] for s in spans) == [0] * (streams // 2) + [1] * (
        streams // 2
    )
    assert reaper.pending() == 0


def test_a_stream_ends_once_when_shutdown_and_its_consumer_race(tracer_provider, meter_provider, span_exporter) -> None:
    tokens = _observed(tracer_provider, meter_provider)
    streams = [tokens(1_000) for _ in range(50)]
    consumers = [threading.Thread(target=lambda s=s: sum(s)) for s in streams]
    for consumer in consumers:
        consumer.start()
    ended, left = reaper.end_open(semconv.STREAM_END_SHUTDOWN, time.monotonic() + 10)
    for consumer in consumers:
        consumer.join()
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 50  # each exactly once, whoever got there first
    reasons = {s.attributes[semconv.INFERTEL_STREAM_END_REASON] for s in spans}
    assert reasons <= {semconv.STREAM_END_SHUTDOWN, semconv.STREAM_END_EXHAUSTED}
    shut = sum(s.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_SHUTDOWN for s in spans)
    assert (ended, left) == (shut, 0)


def test_a_stream_ended_by_hand_then_dropped_leaves_the_registry(
    tracer_provider, meter_provider, span_exporter
) -> None:
    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def tokens() -> Iterator[int]:
        infertel.current_inference().end("stopped early")  # type: ignore[union-attr]
        yield from range(3)

    before = reaper.pending()
    stream = tokens()
    next(stream)
    assert reaper.pending() == before + 1
    del stream
    wait_reaped(10.0)
    assert reaper.pending() == before  # no leak in a long-running process
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == "stopped early"
