"""Streams: generator and async-generator proxies, end reasons, timing, cross-thread/task use."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from core_helpers import collect
from log_helpers import assert_exception_event, memory_logs, records
from opentelemetry.trace import StatusCode

import infertel
from infertel import semconv
from infertel._internal.instrument import reaper


def _stream_attributes(span: Any) -> dict[str, Any]:
    attributes = dict(span.attributes)
    for timing in (
        semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
        semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN,
        semconv.INFERTEL_OUTPUT_TOKENS_PER_SECOND,
    ):
        value = attributes.pop(timing, None)
        if value is not None:
            assert isinstance(value, float) and value >= 0
    return attributes


@pytest.fixture
def observed(tracer_provider, meter_provider):
    def decorate(fn: Any, **options: Any) -> Any:
        return infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider, **options)(
            fn
        )

    return decorate


def test_generator_exhausted(observed, span_exporter) -> None:
    def tokens(n: int) -> Iterator[str]:
        for i in range(n):
            inv = infertel.current_inference()
            assert inv is not None  # the body runs with the stream's span current
            yield f"t{i}"

    stream = observed(tokens)(4)
    assert span_exporter.get_finished_spans() == ()  # span open while the stream is
    assert list(stream) == ["t0", "t1", "t2", "t3"]
    (span,) = span_exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert _stream_attributes(span) == {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: "m",
        semconv.GEN_AI_RESPONSE_MODEL: "m",
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 4,
        semconv.GEN_AI_REQUEST_STREAM: True,
        semconv.INFERTEL_STREAM_CHUNKS: 4,
        semconv.INFERTEL_STREAM_END_REASON: semconv.STREAM_END_EXHAUSTED,
    }
    ttft = span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert 0 <= ttft <= (span.end_time - span.start_time) / 1e9 + 1e-3
    assert semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN in span.attributes
    # Exhausting again changes nothing: the span ended exactly once.
    assert list(stream) == []
    assert len(span_exporter.get_finished_spans()) == 1


def test_generator_send_throw_close(observed, span_exporter) -> None:
    def echo() -> Iterator[Any]:
        received = None
        while True:
            try:
                received = yield received
            except KeyError as exc:
                received = f"caught {exc.args[0]}"

    stream = observed(echo)()
    assert next(stream) is None
    assert stream.send("a") == "a"
    assert stream.throw(KeyError("k")) == "caught k"
    assert stream.send(3) == 3
    assert stream.gi_frame is not None  # generator attributes are forwarded
    stream.close()
    (span,) = span_exporter.get_finished_spans()
    attributes = _stream_attributes(span)
    assert attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_CLOSED
    assert attributes[semconv.INFERTEL_STREAM_CHUNKS] == 4
    stream.close()  # idempotent
    assert len(span_exporter.get_finished_spans()) == 1


def test_generator_return_value_and_throw_exhausts(observed, span_exporter) -> None:
    def gen() -> Iterator[int]:
        try:
            yield 1
        except ValueError:
            return

    stream = observed(gen)()
    assert next(stream) == 1
    with pytest.raises(StopIteration):
        stream.throw(ValueError("stop"))
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_EXHAUSTED

    def returns() -> Iterator[int]:
        yield 1
        return 42

    stream = observed(returns)()
    next(stream)
    with pytest.raises(StopIteration) as caught:
        next(stream)
    assert caught.value.value == 42


def test_exception_mid_stream(observed, span_exporter) -> None:
    error = ConnectionError("engine died")
    logger_provider, log_exporter = memory_logs()

    def failing() -> Iterator[str]:
        yield "a"
        raise error

    stream = observed(failing, logger_provider=logger_provider)()
    with pytest.raises(ConnectionError) as caught:
        for _ in stream:
            pass
    assert caught.value is error
    (span,) = span_exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    attributes = _stream_attributes(span)
    assert attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_ERROR
    assert attributes[semconv.ERROR_TYPE] == "ConnectionError"
    assert semconv.GEN_AI_RESPONSE_MODEL not in attributes
    assert span.status.description == "engine died"
    assert span.events == ()  # recorded as a gen_ai.client.operation.exception event instead
    (record,) = records(log_exporter)
    assert_exception_event(record, span, error, "ConnectionError")


def test_break_is_closed_and_unread_release_is_abandoned(observed, span_exporter) -> None:
    finalized = []

    def tokens() -> Iterator[int]:
        try:
            yield from range(100)
        finally:
            finalized.append(True)

    for chunk in observed(tokens)():
        if chunk == 2:
            break
    # CPython releases the temporary right after the loop, as it would close a generator; the span
    # ends on the reaper thread (a finalizer takes no lock), at the time of the release.
    assert reaper.wait_reaped(time.monotonic() + 10)
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_CLOSED
    assert span.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 3
    assert span.status.status_code is StatusCode.UNSET
    assert finalized == [True]

    unread = observed(tokens)()
    del unread  # created, never read, dropped
    assert reaper.wait_reaped(time.monotonic() + 10)
    assert span_exporter.get_finished_spans()[-1].attributes[semconv.INFERTEL_STREAM_END_REASON] == (
        semconv.STREAM_END_ABANDONED
    )
    span_exporter.clear()

    with contextlib.closing(observed(tokens)()) as stream:
        for chunk in stream:
            if chunk == 1:
                break
    (closed,) = span_exporter.get_finished_spans()
    assert closed.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_CLOSED
    assert finalized == [True, True]


def test_garbage_collected_unfinished_stream(observed, span_exporter) -> None:
    def tokens() -> Iterator[int]:
        yield from range(10)

    stream = observed(tokens)()
    next(stream)
    holder: list[Any] = [stream]
    holder.append(holder)  # a reference cycle: only the cyclic collector frees it
    del stream, holder
    assert span_exporter.get_finished_spans() == ()
    gc.collect()
    assert reaper.wait_reaped(time.monotonic() + 10)
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_ABANDONED
    assert span.status.status_code is StatusCode.UNSET


def test_stream_consumed_in_another_thread(observed, span_exporter, caplog) -> None:
    def tokens() -> Iterator[str]:
        yield from ["a", "b", "c"]

    stream = observed(tokens)()
    result: list[Any] = []
    with caplog.at_level(logging.DEBUG):
        thread = threading.Thread(target=lambda: result.extend(stream))
        thread.start()
        thread.join()
    assert result == ["a", "b", "c"]
    assert not [r for r in caplog.records if "Failed to detach context" in r.getMessage()]
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_EXHAUSTED


def test_stream_chunks_with_usage_and_token_ids(observed, span_exporter) -> None:
    def token_id_chunks() -> Iterator[list[int]]:
        yield [1, 2, 3]
        yield [4, 5]

    def openai_like() -> Iterator[dict[str, Any]]:
        yield {"model": "served-model", "choices": [{"delta": {"content": "He"}}], "usage": None}
        yield {"model": "served-model", "choices": [{"delta": {"content": "llo"}}], "usage": None}
        yield {"model": "served-model", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 30}}

    assert list(observed(token_id_chunks)()) == [[1, 2, 3], [4, 5]]
    list(observed(openai_like)())
    first, second = span_exporter.get_finished_spans()
    assert first.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert second.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 9
    assert second.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 30  # the usage block wins over counting
    assert second.attributes[semconv.GEN_AI_RESPONSE_MODEL] == "served-model"
    assert second.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 3


def test_async_generator_full_protocol(observed, span_exporter) -> None:
    async def echo() -> AsyncIterator[Any]:
        received = None
        while True:
            try:
                received = yield received
            except KeyError:
                received = "caught"

    async def main() -> list[Any]:
        stream = observed(echo)()
        assert inspect.isasyncgen(stream) is False and hasattr(stream, "asend")
        out = [await stream.__anext__(), await stream.asend("x"), await stream.athrow(KeyError("k"))]
        await stream.aclose()
        return out

    assert asyncio.run(main()) == [None, "x", "caught"]
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_CLOSED
    assert span.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 3


def test_async_generator_exhausted_and_error(observed, span_exporter) -> None:
    async def tokens(n: int) -> AsyncIterator[str]:
        for i in range(n):
            await asyncio.sleep(0)
            assert infertel.current_inference() is not None
            yield str(i)

    async def failing() -> AsyncIterator[str]:
        yield "a"
        raise TimeoutError("slow")

    async def main() -> list[str]:
        got = [t async for t in observed(tokens)(3)]
        with pytest.raises(TimeoutError):
            async for _ in observed(failing)():
                pass
        return got

    assert asyncio.run(main()) == ["0", "1", "2"]
    ok, failed = span_exporter.get_finished_spans()
    assert _stream_attributes(ok) == {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: "m",
        semconv.GEN_AI_RESPONSE_MODEL: "m",
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 3,
        semconv.GEN_AI_REQUEST_STREAM: True,
        semconv.INFERTEL_STREAM_CHUNKS: 3,
        semconv.INFERTEL_STREAM_END_REASON: semconv.STREAM_END_EXHAUSTED,
    }
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes[semconv.ERROR_TYPE] == "TimeoutError"
    assert failed.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_ERROR


def test_async_generator_cancelled(observed, span_exporter) -> None:
    async def slow() -> AsyncIterator[str]:
        yield "first"
        await asyncio.sleep(3600)
        yield "never"

    async def main() -> None:
        ready = asyncio.Event()

        async def consume() -> None:
            async for _ in observed(slow)():
                ready.set()

        task = asyncio.create_task(consume())
        await ready.wait()
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    (span,) = span_exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_CANCELLED
    assert span.attributes[semconv.ERROR_TYPE] == "asyncio.exceptions.CancelledError"


def test_async_stream_consumed_in_another_task(observed, span_exporter, caplog) -> None:
    async def tokens() -> AsyncIterator[str]:
        for t in "abc":
            await asyncio.sleep(0)
            yield t

    async def main() -> list[str]:
        stream = observed(tokens)()  # created in the main task
        first = await stream.__anext__()

        async def rest() -> list[str]:
            return [first] + [t async for t in stream]

        return await asyncio.create_task(rest())  # consumed in another task

    with caplog.at_level(logging.DEBUG):
        assert asyncio.run(main()) == ["a", "b", "c"]
    assert not [r for r in caplog.records if "Failed to detach context" in r.getMessage()]
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_EXHAUSTED


def test_client_stream_metrics_per_chunk(tracer_provider, span_exporter, meter_provider, metric_reader) -> None:
    @infertel.observe(model="remote", kind="client", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def stream() -> Iterator[str]:
        yield from ["a", "b", "c", "d"]

    assert list(stream()) == ["a", "b", "c", "d"]
    metrics = collect(metric_reader)
    assert set(metrics) == {
        semconv.GEN_AI_CLIENT_OPERATION_DURATION,
        semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK,
        semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK,
        semconv.GEN_AI_CLIENT_TOKEN_USAGE,
    }
    (per_chunk,) = metrics[semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK].data.data_points
    assert per_chunk.count == 3  # one per chunk after the first
    (first,) = metrics[semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK].data.data_points
    assert first.count == 1
    assert tuple(first.explicit_bounds) == semconv.TIME_TO_FIRST_CHUNK_BUCKETS


def test_stream_proxies_are_generators(observed) -> None:
    from collections.abc import AsyncGenerator, Generator

    def gen() -> Iterator[int]:
        yield 1

    async def agen() -> AsyncIterator[int]:
        yield 1

    sync_stream = observed(gen)()
    async_stream = observed(agen)()
    assert isinstance(sync_stream, Generator)
    assert isinstance(async_stream, AsyncGenerator)
    assert iter(sync_stream) is sync_stream
    assert async_stream.__aiter__() is async_stream
    assert async_stream.ag_frame is not None  # attributes of the wrapped async generator
    sync_stream.close()
    asyncio.run(async_stream.aclose())


def test_yield_from_delegates_send_throw_close(observed, span_exporter) -> None:
    def echo() -> Iterator[Any]:
        value = None
        while True:
            try:
                value = yield value
            except KeyError:
                value = "thrown"

    def outer() -> Iterator[Any]:
        yield from observed(echo)()

    delegating = outer()
    assert next(delegating) is None
    assert delegating.send(5) == 5
    assert delegating.throw(KeyError("k")) == "thrown"
    delegating.close()
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_CLOSED
    assert span.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 3


def test_unread_stream_close_throw_and_send_reach_the_generator(observed, span_exporter) -> None:
    started = []

    def tokens() -> Iterator[str]:
        started.append(True)
        yield "a"

    stream = observed(tokens)()
    assert stream.__name__ == "tokens" and stream.__qualname__.endswith("tokens")
    stream.close()  # explicit close of an unread stream: closed, as close() says
    error = KeyError("k")
    thrown = observed(tokens)()
    with pytest.raises(KeyError) as caught:
        thrown.throw(error)
    assert caught.value is error
    sent = observed(tokens)()
    with pytest.raises(TypeError):
        sent.send("not None")  # what a just-started generator says
    assert started == []
    closed, failed, bad_send = span_exporter.get_finished_spans()
    assert closed.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_CLOSED
    assert closed.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 0
    assert failed.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_ERROR
    assert failed.attributes[semconv.ERROR_TYPE] == "KeyError"
    assert bad_send.attributes[semconv.ERROR_TYPE] == "TypeError"


def test_thrown_exception_is_not_chained_to_anything(observed, span_exporter) -> None:
    def tokens() -> Iterator[str]:
        try:
            yield "a"
        except KeyError:
            pass
        raise ValueError("after")

    stream = observed(tokens)()
    next(stream)
    with pytest.raises(ValueError) as caught:
        stream.throw(KeyError("k"))
    assert caught.value.__context__ is None  # as from the generator itself (raised after its handler)
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "ValueError"


def test_mixed_chunk_types_are_counted_per_chunk(observed, span_exporter) -> None:
    def mixed() -> Iterator[Any]:
        yield "a"
        yield "b"
        yield [1, 2, 3]  # three token ids
        yield b"c"
        yield "d"
        yield 7

    def usage_last() -> Iterator[Any]:
        yield "a"
        yield "b"
        yield {"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 11}}
        yield "c"

    assert list(observed(mixed)()) == ["a", "b", [1, 2, 3], b"c", "d", 7]
    assert list(observed(usage_last)())[-1] == "c"
    counted, usage = span_exporter.get_finished_spans()
    assert counted.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    assert counted.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 6
    assert usage.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 11
    assert usage.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 4
    assert usage.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 4


def test_time_to_first_token_is_taken_at_the_first_chunk(observed, span_exporter) -> None:
    import time

    def slow() -> Iterator[str]:
        time.sleep(0.05)
        yield "first"
        time.sleep(0.1)
        yield "second"
        yield b"third"

    list(observed(slow)())
    (span,) = span_exporter.get_finished_spans()
    ttft = span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert 0.05 <= ttft < 0.1
    tpot = span.attributes[semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN]
    assert tpot >= 0.1 / 2  # (end - first chunk) / (3 - 1)


def test_time_to_first_token_survives_a_later_usage_chunk(observed, span_exporter) -> None:
    import time

    def text_then_usage() -> Iterator[Any]:
        yield "a"
        time.sleep(0.1)
        yield "b"
        yield {"choices": [], "usage": {"completion_tokens": 2}}

    list(observed(text_then_usage)())
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < 0.1  # taken at "a", not at the usage chunk
    assert span.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 3
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
