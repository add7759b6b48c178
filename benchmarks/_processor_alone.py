"""The statistics processor's own work per GenAI span, timed alone (``processors.py --alone``; issue 11).

The target: ``on_start`` + ``on_end`` + the fold of the records they buffered, at most
:data:`TARGET_US` per GenAI span. The two halves run at different moments, and each is timed in the
cache state it meets in an application:

- **The calls.** The SDK calls ``on_start`` on the span it has just started and ``on_end`` on the
  span it has just ended, so the fields they read are in the CPU's caches. In the cases marked
  *just ended*, each span is made (by an SDK tracer with no processor) right before the calls, in
  chunks of :data:`CHUNK`, and only the calls are timed (``perf_counter_ns`` around each chunk, less
  the timer's own cost measured in the same round).
- **The fold.** The background folder drains the buffer every 0.25 s, after the application has
  run meanwhile: its records, attribute dicts and values may have left every cache. In the cases
  marked *folded from memory*, a 64 MiB walk (twice the L3 cache here) comes between the calls and
  the fold, which is timed with this thread's CPU time (the statistics lock held: the background
  folder stays out, each round folds exactly its own records).

Cases (all on 2,000 GenAI spans per round, the attributes ``@observe`` sets on a streamed call, each
span its own latency, TTFT, TPOT and output token count):

1. in cache: 100 spans cycled to 2,000, calls and fold back to back (nothing leaves the caches);
2. just ended, folded from memory;
3. the same, each span the child of a new HTTP span, as in an application (the table of counted
   parents' work: at its bound after two rounds, so each span forgets the oldest parent), on a
   processor of its own;
4. everything from memory (reported, no verdict): spans made beforehand and evicted before the
   calls too, which the SDK never does (it calls ``on_end`` on the span it has just ended).

And in cache at lower request rates, where the background folder drains fewer records at a time
(:func:`folder_batch`: 50 at 10 spans/s, 500 at 100 spans/s; 2,000 and more from about 400 spans/s).
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from infertel import semconv
from infertel._internal.processors import InferenceStatsSpanProcessor

TARGET_US = 1.5
WARM_SPANS = 100
CHUNK = 8
"""Spans made, then handed to the processor, at a time: 8 spans' fields fit in the L1 cache."""
LOW_RATES = (10.0, 100.0)
"""Request rates whose folds are smaller than the 2,000-span rounds (from about 400 spans/s on,
the folder's batches hold 2,048 records or more)."""
GENAI = {
    semconv.GEN_AI_OPERATION_NAME: "chat",
    semconv.GEN_AI_REQUEST_MODEL: "llama-3-8b",
    semconv.GEN_AI_PROVIDER_NAME: "vllm",
}
END_ATTRS = {  # what @observe sets on a finished streamed call
    semconv.GEN_AI_REQUEST_STREAM: True,
    semconv.GEN_AI_RESPONSE_MODEL: "llama-3-8b",
    semconv.GEN_AI_USAGE_INPUT_TOKENS: 12,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 64,
    semconv.INFERTEL_OUTPUT_TOKENS_PER_SECOND: 80.0,
    semconv.INFERTEL_STREAM_CHUNKS: 64,
    semconv.INFERTEL_STREAM_END_REASON: "exhausted",
    semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: 0.031,
    semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN: 0.012,
}
IN_CACHE = "in cache"
JUST_ENDED = "just ended, folded from memory"
NEW_PARENT = "just ended, folded from memory, each a child of a new HTTP span"
ALL_COLD = "everything from memory (not how the SDK calls; no verdict)"
TARGET_CASES = (IN_CACHE, JUST_ENDED, NEW_PARENT)
SPAN = "span"
"""``bench_alone``'s key for the cost of the span itself (the baseline printed for scale)."""


class SpanMaker:
    """Ended SDK spans (``ReadableSpan``, what the SDK hands ``on_end``) from a tracer with no processor."""

    def __init__(self, start_attrs: dict[str, Any] = GENAI, *, genai: bool = True) -> None:
        from opentelemetry.sdk.trace import TracerProvider

        self.tracer = TracerProvider().get_tracer("b")
        self.rng = np.random.default_rng(9)
        self.start_attrs = start_attrs
        self.genai = genai

    def span(self, parent: bool = False) -> Any:
        """One ended span; with ``parent``, the child of its own (never-ending, non-GenAI) HTTP span."""
        from opentelemetry import trace

        tracer, rng = self.tracer, self.rng
        context = trace.set_span_in_context(tracer.start_span("POST /v1/chat/completions")) if parent else None
        span = tracer.start_span("chat llama-3-8b", context, attributes=self.start_attrs, start_time=10**18)
        if self.genai:
            # Each span its own token count, TTFT and TPOT (about 31 and 12 ms), as real requests have:
            # the same value on every span would make counting them into the sketches look cheaper.
            span.set_attributes(
                {
                    **END_ATTRS,
                    semconv.GEN_AI_USAGE_OUTPUT_TOKENS: int(rng.integers(16, 512)),
                    semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: float(rng.lognormal(-3.5, 0.5)),
                    semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN: float(rng.lognormal(-4.4, 0.3)),
                }
            )
        span.end(end_time=10**18 + int(rng.lognormal(20.7, 0.5)))  # about 1 s
        return span._readable_span()

    def spans(self, count: int, *, parents: bool = False) -> list[Any]:
        return [self.span(parents) for _ in range(count)]


def ended_spans(count: int, start_attrs: dict[str, Any], genai: bool, *, parents: bool = False) -> list[Any]:
    """``count`` ended spans made beforehand (see :class:`SpanMaker`)."""
    return SpanMaker(start_attrs, genai=genai).spans(count, parents=parents)


def _timer_cost_ns(samples: int = 2_000) -> float:
    """The median cost of an empty ``perf_counter_ns`` pair (subtracted from each timed chunk)."""
    clock = time.perf_counter_ns
    costs = []
    for _ in range(samples):
        t0 = clock()
        costs.append(clock() - t0)
    return statistics.median(costs)


def _calls_just_ended(processor: Any, maker: SpanMaker, n: int, parents: bool, timer_ns: float) -> float:
    """Seconds of ``on_start`` + ``on_end`` over ``n`` spans, each chunk's spans made right before."""
    on_start, on_end = processor.on_start, processor.on_end
    clock = time.perf_counter_ns
    total = 0.0
    for _ in range(0, n, CHUNK):
        chunk = [maker.span(parents) for _ in range(CHUNK)]
        t0 = clock()
        for span in chunk:
            on_start(span)  # the SDK hands on_start the live span; a ReadableSpan has what it reads
            on_end(span)
        total += clock() - t0 - timer_ns
    return total / 1e9


def _calls_made_beforehand(processor: Any, spans: list[Any], evict: Any = None) -> float:
    """Seconds of ``on_start`` + ``on_end`` over ``spans`` (after walking ``evict``, when given, untimed)."""
    if evict is not None:
        int(evict.sum())
    on_start, on_end = processor.on_start, processor.on_end
    t0 = time.thread_time()
    for span in spans:
        on_start(span)
        on_end(span)
    return time.thread_time() - t0


def bench_alone(rounds: int, n: int) -> dict[str, dict[str, float]]:
    """Median µs per span over ``rounds`` rounds of ``n`` spans per case: ``calls``, ``fold``, ``both``.

    Cases alternate round by round (see the module docstring); round 0 warms up. Also the in-cache
    case at each of :data:`LOW_RATES`, and :data:`SPAN` (``{"span": µs}``): an SDK span with the same
    attributes on a tracer provider with no span processor, made in the same rounds, for scale.
    """
    processor = InferenceStatsSpanProcessor()
    own = {NEW_PARENT: InferenceStatsSpanProcessor()}
    maker = SpanMaker()
    warm = maker.spans(WARM_SPANS) * max(1, n // WARM_SPANS)
    cold = maker.spans(n)
    evict = np.ones(64 << 20, dtype=np.uint8)
    cases: dict[str, Callable[[Any, float], float]] = {  # (processor, the timer's cost in ns) -> seconds
        IN_CACHE: lambda p, timer_ns: _calls_made_beforehand(p, warm),
        JUST_ENDED: lambda p, timer_ns: _calls_just_ended(p, maker, n, False, timer_ns),
        NEW_PARENT: lambda p, timer_ns: _calls_just_ended(p, maker, n, True, timer_ns),
        ALL_COLD: lambda p, timer_ns: _calls_made_beforehand(p, cold, evict),
    }
    # NEW_PARENT's own processor: every span brings a new parent, so from the third round on each
    # forgets the oldest ones; the other cases' processor never sees a parent.
    samples: dict[str, dict[str, list[float]]] = {case: {"calls": [], "fold": []} for case in cases}
    spans: list[float] = []
    for r in range(rounds + 1):
        timer_ns = _timer_cost_ns()
        seconds = _bare_spans(maker.tracer, n)
        if r:
            spans.append(seconds / n * 1e6)
        for case, calls in cases.items() if r % 2 else reversed(cases.items()):
            case_processor = own.get(case, processor)
            stats = case_processor.stats
            with stats._lock:  # keep the background folder out: each round folds its own records
                seconds = calls(case_processor, timer_ns)
                if case != IN_CACHE:
                    int(evict.sum())  # the application's work before the folder's next drain
                t0 = time.thread_time()
                stats._fold()
                fold = time.thread_time() - t0
            if r:
                samples[case]["calls"].append(seconds / n * 1e6)
                samples[case]["fold"].append(fold / n * 1e6)
    out = {}
    for case, parts in samples.items():
        both = [c + f for c, f in zip(parts["calls"], parts["fold"], strict=True)]
        out[case] = {
            "calls": statistics.median(parts["calls"]),
            "fold": statistics.median(parts["fold"]),
            "both": statistics.median(both),
        }
    for rate in LOW_RATES:
        size = folder_batch(rate)
        out[f"in cache, at {rate:g} spans/s (the folder's batches of {size})"] = _in_cache_at(warm, size, rounds)
    out[SPAN] = {"span": statistics.median(spans)}
    return out


def _bare_spans(tracer: Any, n: int) -> float:
    """This thread's CPU seconds to make ``n`` GenAI spans as ``@observe`` does, with no span processor."""
    t0 = time.thread_time()
    for _ in range(n):
        with tracer.start_as_current_span("chat llama-3-8b", attributes=GENAI) as span:
            span.set_attributes(END_ATTRS)
    return time.thread_time() - t0


def folder_batch(rate: float) -> int:
    """The records the background folder drains at once when GenAI spans end at ``rate`` per second.

    It looks every ``INTERVAL_S`` and drains at ``DRAIN_RECORDS`` records or once the oldest has waited
    ``max_wait_s`` of the buffer kind in use (:mod:`infertel._internal.processors._folder`): the first
    look at or past that point.
    """
    from infertel._internal.processors import _folder
    from infertel._internal.processors._buffer import new_buffer

    wait = _folder.max_wait_s(new_buffer(()))
    looks = math.ceil(min(wait, _folder.DRAIN_RECORDS / rate) / _folder.INTERVAL_S)
    return max(1, round(rate * looks * _folder.INTERVAL_S))


def _in_cache_at(spans: list[Any], size: int, rounds: int) -> dict[str, float]:
    """Median µs per span over ``rounds`` rounds of ``spans``: the calls, and the fold ``size`` records at a time."""
    processor = InferenceStatsSpanProcessor()
    on_start, on_end, stats = processor.on_start, processor.on_end, processor.stats
    samples: dict[str, list[float]] = {"calls": [], "fold": [], "both": []}
    for r in range(rounds + 1):
        calls = fold = 0.0
        with stats._lock:
            for first in range(0, len(spans), size):
                t0 = time.thread_time()
                for span in spans[first : first + size]:
                    on_start(span)
                    on_end(span)
                t1 = time.thread_time()
                stats._fold()
                t2 = time.thread_time()
                calls += t1 - t0
                fold += t2 - t1
        if r:
            for name, seconds in (("calls", calls), ("fold", fold), ("both", calls + fold)):
                samples[name].append(seconds / len(spans) * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def print_alone(
    result: dict[str, dict[str, float]], rounds: int, n: int, *, numpy: bool = True, extension: bool = True
) -> None:
    """Print :func:`bench_alone`'s figures, the method, and a PASS/FAIL line per target case.

    ``numpy=False``: the figures were taken with numpy switched off (``--no-numpy``), as in an
    installation without it (numpy is not a dependency of infertel); ``extension=False``: with the
    statistics buffer as a list (``--no-extension``, or the C extension not built). Every line says so.
    """
    from opentelemetry.sdk.version import __version__ as sdk_version

    python = (
        f"Python {sys.version.split()[0]}"
        + ("" if numpy else ", without numpy")
        + ("" if extension else ", list buffer (no C extension)")
    )
    print(f"Statistics processor's own work per GenAI span, alone ({python}, SDK {sdk_version})")
    print(f"   {'case':<64}{'on_start+on_end':>16}{'fold':>8}{'total':>8}  (µs per span)")
    cases = {case: figures for case, figures in result.items() if case != SPAN}
    for case, figures in cases.items():
        print(f"   {case:<64}{figures['calls']:>16.2f}{figures['fold']:>8.2f}{figures['both']:>8.2f}")
    span = result[SPAN]["span"]
    shares = ", ".join(f"{cases[case]['both'] / span * 100:.1f} %" for case in TARGET_CASES)
    print("   For scale, in the same rounds: the span itself (the same attributes, made as @observe does, on a")
    print(f"   tracer provider with no span processor) costs {span:.2f} µs; the three target cases are {shares} of it.")
    for case in (*TARGET_CASES, *[case for case in cases if case.startswith(IN_CACHE + ", at ")]):
        total = result[case]["both"]
        verdict = "PASS" if total <= TARGET_US else "FAIL"
        print(f"   {verdict}: {case}: {total:.2f} µs per GenAI span (target <= {TARGET_US} µs, {python})")
    print(f"   Method: median over {rounds} rounds of {n:,} GenAI spans per case, cases alternating; calls: on_start +")
    print(f"   on_end, on spans made just before in chunks of {CHUNK} (in cache: 100 spans cycled; everything from")
    print("   memory: spans made beforehand, a 64 MiB walk before the calls); fold: this thread's CPU time around")
    print("   the fold of the round's records, after a 64 MiB walk (the application's work between two drains of")
    print("   the background folder) except in cache. See benchmarks/_processor_alone.py.")
