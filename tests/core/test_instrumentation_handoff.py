"""The public stream hand-off of ``infertel.instrumentation``: track, claim, release.

An instrumentation that ends a stream's span by hand registers it (``track_stream``), claims it in
its own end paths (``claim_stream``) and releases it from its finalizer (``release_stream``);
exactly one of the owner, the reaper thread and ``shutdown()`` ends the span.
"""

from __future__ import annotations

import contextvars
import threading
import time
from typing import Any

import infertel
from infertel import semconv
from infertel._internal.instrument import reaper
from infertel.instrumentation import claim_stream, release_stream, track_stream


def _start(tracer_provider: Any, meter_provider: Any) -> Any:
    # Entered in a private context, as an instrumentation does: the test's own context stays clean.
    block = infertel.inference(model="m", kind="client", tracer_provider=tracer_provider, meter_provider=meter_provider)
    return contextvars.copy_context().run(block.__enter__)


def test_a_released_stream_is_ended_on_the_reaper_with_its_finishing_attributes(
    tracer_provider, meter_provider, span_exporter
) -> None:
    inv = _start(tracer_provider, meter_provider)
    finished: list[tuple[str, str]] = []

    def finish(reason: str) -> None:
        finished.append((reason, threading.current_thread().name))
        inv.set_attribute("app.finished", reason)

    track_stream(inv, finish=finish)
    inv.record_chunk("a")
    released_ns = time.time_ns()
    release_stream(inv)
    assert reaper.wait_reaped(time.monotonic() + 10.0)
    assert finished == [(semconv.STREAM_END_ABANDONED, "infertel-stream-reaper")]
    assert claim_stream(inv) is False  # the owner comes too late: it must not end the span again
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["app.finished"] == semconv.STREAM_END_ABANDONED
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_ABANDONED
    assert span.end_time is not None and span.end_time <= released_ns + 1_000_000  # ended at the release
    assert reaper.pending() == 0


def test_the_owner_that_claims_first_ends_the_span_and_the_release_does_nothing(
    tracer_provider, meter_provider, span_exporter
) -> None:
    inv = _start(tracer_provider, meter_provider)
    finished: list[str] = []
    track_stream(inv, finish=finished.append)
    assert claim_stream(inv) is True
    inv.end(semconv.STREAM_END_EXHAUSTED)
    release_stream(inv)  # the proxy freed afterwards
    assert reaper.wait_reaped(time.monotonic() + 10.0)
    assert finished == []  # only infertel's own ends run the finishing callback
    assert claim_stream(inv) is False
    assert len(span_exporter.get_finished_spans()) == 1
    assert reaper.pending() == 0


def test_a_finishing_callback_that_raises_still_ends_the_span(
    tracer_provider, meter_provider, span_exporter, production_errors, caplog
) -> None:
    inv = _start(tracer_provider, meter_provider)

    def finish(reason: str) -> None:
        raise RuntimeError("instrumentation bug")

    track_stream(inv, finish=finish)
    release_stream(inv)
    assert reaper.wait_reaped(time.monotonic() + 10.0)
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_ABANDONED
    assert "instrumentation bug" in caplog.text
