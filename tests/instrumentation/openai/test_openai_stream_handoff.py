"""openai streams let go unfinished end on infertel's reaper thread; streams still open at shutdown are stored.

A stream proxy freed unfinished is finalized wherever CPython frees it, possibly in a garbage
collection on a thread holding a lock the span's end needs. These tests hold such a lock while the
proxy is freed (the span must not end there), stress the hand-off with a metric reader collecting
in a tight loop, and check that ``infertel.shutdown()`` ends and stores streams still open, all
against the real openai client and the OpenAI-compatible server of ``openai_peer``.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from openai_peer import REPLY_WORDS, RESPONSE_MODEL_SUFFIX, FakeOpenAIServer  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402
from span_helpers import LockingProcessor, split_timings, wait_reaped  # noqa: E402

import infertel  # noqa: E402
from infertel import semconv  # noqa: E402
from infertel._internal.instrument import reaper  # noqa: E402
from infertel_exporters.sqlite import SQLiteStore  # noqa: E402
from infertel_instrumentation.openai import OpenAIInstrumentor  # noqa: E402

MODEL = "gpt-test"
MESSAGES = [{"role": "user", "content": "Say hello"}]
REAPER = "infertel-stream-reaper"


@pytest.fixture
def instrumented(tracer_provider: TracerProvider, meter_provider: MeterProvider) -> Iterator[None]:
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        yield
    finally:
        OpenAIInstrumentor().uninstrument()


@pytest.fixture
def client(openai_server: FakeOpenAIServer, instrumented: None) -> Iterator[Any]:
    with openai.OpenAI(base_url=openai_server.base_url, api_key="sk-test", max_retries=0) as c:
        yield c


def _abandoned_attributes(server: FakeOpenAIServer, chunks: int) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: MODEL,
        semconv.GEN_AI_PROVIDER_NAME: "openai",
        semconv.SERVER_ADDRESS: server.host,
        semconv.SERVER_PORT: server.port,
        semconv.GEN_AI_REQUEST_STREAM: True,
        semconv.INFERTEL_STREAM_CHUNKS: chunks,
        semconv.INFERTEL_STREAM_END_REASON: semconv.STREAM_END_ABANDONED,
    }
    if chunks:
        attributes[semconv.GEN_AI_RESPONSE_MODEL] = MODEL + RESPONSE_MODEL_SUFFIX
        attributes[semconv.GEN_AI_RESPONSE_ID] = "chatcmpl-stream"
        attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = chunks - 1  # the role chunk carries no output
    else:
        attributes[semconv.GEN_AI_RESPONSE_MODEL] = MODEL  # no chunk: the request model
    return attributes


def test_abandoned_stream_ends_on_the_reaper_while_the_collecting_thread_holds_the_lock(
    client: Any, openai_server: FakeOpenAIServer, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    locking = LockingProcessor()
    tracer_provider.add_span_processor(locking)
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    next(stream)  # the role chunk
    stream.response.close()
    holder: list[Any] = [stream]
    holder.append(holder)  # a cycle: only the garbage collector frees the proxy
    del stream, holder
    with locking.lock:
        before_ns = time.time_ns()
        gc.collect()  # finalizes the proxy on this thread, which holds the processor's lock
        after_ns = time.time_ns()
        assert locking.ended == []  # not ended inside the finalizer
        time.sleep(0.2)
    wait_reaped(20.0)
    assert locking.ended == [(REAPER, True)]
    (span,) = span_exporter.get_finished_spans()
    assert (span.name, span.kind, span.status.status_code) == (f"chat {MODEL}", SpanKind.CLIENT, StatusCode.UNSET)
    attributes, _ = split_timings(span)
    assert attributes == _abandoned_attributes(openai_server, 1)
    # The span ends when the proxy was freed, not when the reaper got the lock 0.2 s later.
    assert span.end_time is not None and before_ns - 1_000_000 <= span.end_time <= after_ns + 1_000_000


def test_abandoned_async_stream_ends_on_the_reaper(
    openai_server: FakeOpenAIServer,
    instrumented: None,
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
) -> None:
    locking = LockingProcessor()
    tracer_provider.add_span_processor(locking)

    async def main() -> None:
        async with openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="sk-test", max_retries=0) as client:
            stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
            await stream.__anext__()
            await stream.response.aclose()
            with locking.lock:
                del stream  # freed at once (no cycle): the finalizer runs here, under the lock
                assert locking.ended == []

    asyncio.run(main())
    wait_reaped(20.0)
    assert locking.ended == [(REAPER, True)]
    (span,) = span_exporter.get_finished_spans()
    attributes, _ = split_timings(span)
    assert attributes == _abandoned_attributes(openai_server, 1)


@pytest.mark.timeout(180)
def test_many_abandoned_streams_while_a_reader_collects_in_a_tight_loop(
    client: Any, openai_server: FakeOpenAIServer, metric_reader: Any, span_exporter: InMemorySpanExporter
) -> None:
    stop = threading.Event()
    collections = [0]

    def read() -> None:
        while not stop.is_set():
            metric_reader.get_metrics_data()
            collections[0] += 1

    reader = threading.Thread(target=read, name="reader", daemon=True)  # daemon: a deadlock fails, never hangs
    thresholds = gc.get_threshold()
    # 40 series: a collection allocates a lot under the SDK's locks (with the old in-finalizer end, this deadlocks).
    models, batches, per_batch = 40, 10, 40
    reader.start()
    try:
        for batch in range(batches):
            # Make the garbage with the collector off, then let the reader allocate: the collections, and so the
            # proxies' finalizers, run on the reader's thread, often inside the SDK's locked sections.
            gc.disable()
            for i in range(per_batch):
                stream = client.chat.completions.create(model=f"{MODEL}-{i % models}", messages=MESSAGES, stream=True)
                if (batch + i) % 2:
                    next(stream)
                stream.response.close()
                holder: list[Any] = [stream]
                holder.append(holder)
                del stream, holder
            gc.set_threshold(20)
            gc.enable()
            time.sleep(0.02)
    finally:
        gc.set_threshold(*thresholds)
        gc.enable()
        stop.set()
        reader.join(30)
    assert not reader.is_alive(), "the reader thread deadlocked"
    gc.collect()
    wait_reaped(20.0)
    assert collections[0] > 0
    spans = span_exporter.get_finished_spans()
    streams = batches * per_batch
    assert sorted(
        (s.attributes[semconv.INFERTEL_STREAM_END_REASON], s.attributes[semconv.INFERTEL_STREAM_CHUNKS]) for s in spans
    ) == [(semconv.STREAM_END_ABANDONED, 0)] * (streams // 2) + [(semconv.STREAM_END_ABANDONED, 1)] * (streams // 2)
    assert reaper.pending() == 0
    # Every stream's metrics were recorded too: one duration per stream, by model (response model: from the
    # first chunk, else the request model).
    data = metric_reader.get_metrics_data()
    counts = {
        (p.attributes[semconv.GEN_AI_REQUEST_MODEL], p.attributes[semconv.GEN_AI_RESPONSE_MODEL]): p.count
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == semconv.GEN_AI_CLIENT_OPERATION_DURATION
        for p in m.data.data_points
    }
    per_series = streams // (2 * models)
    assert counts == {
        **{(f"{MODEL}-{k}", f"{MODEL}-{k}"): per_series for k in range(models)},
        **{(f"{MODEL}-{k}", f"{MODEL}-{k}{RESPONSE_MODEL_SUFFIX}"): per_series for k in range(models)},
    }


def _stored(store: Path) -> list[Any]:
    with SQLiteStore(str(store)) as opened:  # closed: Python 3.13 warns about an unclosed connection
        return opened.spans(0, 2**63 - 1)


def test_streams_still_open_at_shutdown_are_stored_with_end_reason_shutdown(
    fresh_otel: Path, openai_server: FakeOpenAIServer
) -> None:
    infertel.configure(store_path=str(fresh_otel), resource_metrics=False)
    OpenAIInstrumentor().instrument()
    try:

        async def main() -> tuple[list[Any], list[Any]]:
            base_url, key = openai_server.base_url, "sk-test"
            with openai.OpenAI(base_url=base_url, api_key=key, max_retries=0) as client:
                async with openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0) as async_client:
                    read = client.chat.completions.create(model="m-read", messages=MESSAGES, stream=True)
                    chunks = [next(read), next(read)]  # the role chunk and one word
                    unread = client.chat.completions.create(model="m-unread", messages=MESSAGES, stream=True)
                    async_read = await async_client.chat.completions.create(
                        model="m-async", messages=MESSAGES, stream=True
                    )
                    await async_read.__anext__()

                    assert infertel.shutdown(timeout_millis=10_000) is True

                    # The application is unaffected: its streams go on, and their spans do not end twice.
                    chunks += list(read)
                    rest = list(unread)
                    async for _ in async_read:
                        pass
                    return chunks, rest

        chunks, rest = asyncio.run(main())
    finally:
        OpenAIInstrumentor().uninstrument()
    assert len(chunks) == len(rest) == len(REPLY_WORDS) + 2
    # The peer runs in this process: its server spans are stored too; the client spans are the GenAI ones.
    spans = sorted(
        (s for s in _stored(fresh_otel) if semconv.GEN_AI_OPERATION_NAME in s.attributes), key=lambda s: s.name
    )
    reason, count = semconv.INFERTEL_STREAM_END_REASON, semconv.INFERTEL_STREAM_CHUNKS
    finish = semconv.GEN_AI_RESPONSE_FINISH_REASONS
    assert [
        (s.name, s.status_code, s.attributes[reason], s.attributes[count], s.attributes.get(finish)) for s in spans
    ] == [
        ("chat m-async", "UNSET", semconv.STREAM_END_SHUTDOWN, 1, None),
        ("chat m-read", "UNSET", semconv.STREAM_END_SHUTDOWN, 2, ("error",)),  # its last chunk never came
        ("chat m-unread", "UNSET", semconv.STREAM_END_SHUTDOWN, 0, None),
    ]
    assert reaper.pending() == 0
