"""The hot path under 8 threads: the statistics processor's parent table and the durable queue bound.

Each test lowers the interpreter's switch interval so that threads interleave between nearly
every bytecode, which is what turns a check-then-act into a visible race.
"""

from __future__ import annotations

import collections
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from core_helpers import collect
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import set_span_in_context

import infertel
from infertel import semconv
from infertel._internal import freethreading
from infertel._internal.processors import _fold, install
from infertel_exporters.durable._pipeline import Pipeline
from infertel_exporters.durable._transport import Outcome, Sender

THREADS = 8


@pytest.fixture(autouse=True)
def _tight_switching() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _hammer(work: Callable[[int], None]) -> list[BaseException]:
    """Run ``work(thread_index)`` on 8 threads released together; the exceptions they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def run(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted empty below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def test_parent_table_eviction_from_8_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    # A tiny table: nearly every GenAI span's end evicts the oldest parent, from 8 threads at once.
    monkeypatch.setattr(_fold, "MAX_PENDING_PARENTS", 4)
    provider = TracerProvider()
    handle = install(provider, windows_s=(60,), clock=lambda: 10.0)
    tracer = provider.get_tracer("test")
    per_thread = 2000
    attributes = {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "m"}

    def work(index: int) -> None:
        for _ in range(per_thread):
            parent = tracer.start_span("request")  # not a GenAI span: its entry stays until evicted
            tracer.start_span("chat m", context=set_span_in_context(parent), attributes=attributes).end()
            parent.end()

    try:
        assert _hammer(work) == []
        assert handle.snapshot(60)["m", "chat"].requests == THREADS * per_thread
        # The fold (one thread, under the statistics lock) keeps the table at its bound exactly:
        # young (at most 4) becomes old (5 entries, never found: the parents are not GenAI spans).
        table = handle.processor.stats._counted_parents
        assert len(table.young) <= 4 and len(table.old) == 5
    finally:
        handle.uninstall()


class _WatchedDeque(collections.deque):  # type: ignore[type-arg]
    """A deque that counts the appends and extends after which it was longer than ``bound``."""

    def __init__(self, bound: int) -> None:
        super().__init__()
        self.bound = bound
        self.over = 0
        self.full = 0

    def _check(self) -> None:
        n = len(self)
        if n > self.bound:
            self.over += 1
        elif n == self.bound:
            self.full += 1

    def append(self, item: Any) -> None:
        super().append(item)
        self._check()

    def extend(self, items: Any) -> None:
        super().extend(items)
        self._check()


def test_pipeline_offer_never_exceeds_its_bound_under_8_threads() -> None:
    delivered: list[int] = []
    release = threading.Event()

    def send(payload: bytes, timeout_s: float) -> Outcome:
        release.wait(10)  # the queue fills while the first delivery is held
        delivered.append(len(payload))
        return Outcome.DELIVERED

    bound = 64
    pipeline = Pipeline(
        signal="traces",
        encode=lambda items: b"x" * len(items),
        count=len,
        sender=Sender(send, "test"),
        spool=None,
        max_queue_items=bound,
        max_batch_items=1,  # the writer frees one slot at a time: 8 threads race for each
        schedule_delay_millis=1,
        enqueue_timeout_millis=20,  # producers wait for room, are woken together, race for it
        send_timeout_s=5.0,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
        max_age_s=3600.0,
        memory_max_bytes=1 << 30,
    )
    watched = _WatchedDeque(bound)
    pipeline._pending = watched
    accepted = [0] * THREADS
    offered = [0] * THREADS

    def work(index: int) -> None:
        for step in range(1500):
            if step % 2:
                offered[index] += 3
                accepted[index] += 3 if pipeline.offer((1, 2, 3)) else 0
            else:
                offered[index] += 1
                accepted[index] += 1 if pipeline.offer_one(1) else 0

    try:
        assert _hammer(work) == []
        assert watched.over == 0  # never past the bound
        assert watched.full > 0  # and filled up to it: the race for the last slots happened
        # Every item was queued or counted as dropped (whether producers waited long enough for
        # room depends on the writer's pace: drops may or may not happen).
        dropped = pipeline.dropped.get("queue_full", 0)
        assert sum(accepted) + dropped == sum(offered) == THREADS * 3000
        release.set()
        assert pipeline.force_flush(10_000) is (dropped == 0)  # False after any drop since the last flush
        assert sum(delivered) == sum(accepted)
    finally:
        release.set()
        pipeline.shutdown(5_000)


def test_free_threaded_builds_are_refused_with_the_gil_disabled() -> None:
    with pytest.raises(ImportError) as caught:
        freethreading.require_gil(is_gil_enabled=lambda: False)
    assert str(caught.value) == freethreading.MESSAGE
    assert "PYTHON_GIL=1" in freethreading.MESSAGE
    freethreading.require_gil(is_gil_enabled=lambda: True)  # 3.13t with the GIL re-enabled: accepted
    freethreading.require_gil(is_gil_enabled=None, gil_disabled_build=False)  # a default build
    with pytest.raises(ImportError):
        freethreading.require_gil(is_gil_enabled=None, gil_disabled_build=True)
    freethreading.require_gil()  # this interpreter


def test_observed_calls_and_streams_from_8_threads_are_each_recorded_once(
    tracer_provider: TracerProvider,
    span_exporter: Any,
    meter_provider: Any,
    metric_reader: Any,
) -> None:
    handle = install(tracer_provider, windows_s=(60,))
    observe = infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider)

    @observe
    def call(n: int) -> dict[str, Any]:
        return {"usage": {"prompt_tokens": n, "completion_tokens": 2}}

    @observe
    def stream(n: int) -> Iterator[str]:
        yield from ("a", "b", "c")

    per_thread = 250

    def work(index: int) -> None:
        for i in range(per_thread):
            call(i)
            assert list(stream(i)) == ["a", "b", "c"]

    try:
        assert _hammer(work) == []
        total = THREADS * per_thread * 2
        spans = span_exporter.get_finished_spans()
        assert len(spans) == total
        assert len({span.context.span_id for span in spans}) == total
        series = handle.snapshot(60)["m", "chat"]
        assert (series.requests, series.in_flight, series.errors) == (total, 0, 0)
        assert series.output_tokens == THREADS * per_thread * (2 + 3)
        durations = collect(metric_reader)[semconv.GEN_AI_SERVER_REQUEST_DURATION]
        assert sum(point.count for point in durations.data.data_points) == total
    finally:
        handle.uninstall()
