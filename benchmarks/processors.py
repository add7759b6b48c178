"""Cost, memory and accuracy of the live statistics (span processor + quantile sketch).

One run measures and prints (medians, ratios to a baseline measured in the same run):

1. Added cost per span, in process CPU time (every thread, so the export worker and the
   statistics folder count): creating and ending a GenAI span the way instrumentation does (the
   current span while the call runs, the attributes ``@observe`` sets) on an SDK
   ``TracerProvider`` with the SDK's ``BatchSpanProcessor``, against the same provider with
   :class:`InferenceStatsSpanProcessor` added, interleaved round by round; each round then exports
   its spans and folds the processor's buffer. Twice: exported with the OTLP/gRPC exporter to a
   receiver in another process (the receiver of ``benchmarks/export.py``; what a plain SDK span
   costs when it is used), and to an exporter that drops every batch (the cheapest a span can
   be). Also the processor's own calls and fold alone, a non-GenAI span, and what a bare span
   (no attributes) costs exported the same way (wall time of the loop, and CPU with its export).
2. ``stats()`` over 1,000 series (one window; and all three windows, what a gauge collection does).
3. Memory per series (tracemalloc) after 15 simulated minutes at 10 requests/s per series with the
   default windows (60, 300, 900 s), streaming requests (latency, TTFT, TPOT sketches; decode speed read
   from TPOT), 1 % accuracy.
4. Side by side on the same 1,000,000 log-normal and 1,000,000 Pareto samples: cost per record,
   relative error at p50/p90/p99/p99.9 against numpy's exact quantiles, and memory, for ours,
   the ``ddsketch`` package, numpy percentile over a deque of the last 10,000 samples,
   ``hdrhistogram`` and the OTel SDK exponential histogram aggregation (quantiles from its
   exported buckets). The comparisons are like for like:

   - ours runs at the statistics processor's relative accuracy (``DEFAULT_RELATIVE_ACCURACY``,
     1 %: every quantile within 1 % of numpy's); DDSketch runs at the same parameter (the same
     1 % guarantee; its buckets are twice as wide, ``gamma = (1 + a) / (1 - a)``, and it answers
     with the middle of a bucket) and, second, at the parameter that gives it our bucket width
     (``gamma = 1 + a``); both bounded like ours, to as many buckets as the range
     1e-9 .. 1e9 needs at that width (lowest buckets collapse first);
   - the OTel exponential histogram is timed twice: through a MeterProvider's
     ``Histogram.record`` (what an application pays; the SDK's dispatch included), and its
     aggregation alone (``_ExponentialBucketHistogramAggregation.aggregate`` on measurements
     built beforehand: a private SDK class, fine in a benchmark, never used by infertel), which is
     what compares with a sketch's ``add``.

The target on the processor's own work, timed alone (``on_start`` + ``on_end`` + the fold, at most
1.5 µs per GenAI span), is checked by ``--alone`` (PASS/FAIL lines; :mod:`_processor_alone` says how
each half is timed in the cache state it meets in an application). It needs nothing but infertel,
the SDK and numpy, so it runs in the matrix venvs too. ``--alone --no-numpy`` measures it with numpy
switched off in the processor's fold (the benchmark itself still uses numpy), as in an installation
without numpy, which is not a dependency of infertel. Section 1 also prints the processor alone on
2,000 spans made beforehand and on 100 spans cycled, without a verdict.

Run: ``.venv/bin/python benchmarks/processors.py`` (about 3 minutes on an idle machine; ``--quick`` for
a smoke run; ``--alone`` for the processor's own work only).
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from opentelemetry.sdk.trace import SpanProcessor

from infertel import semconv
from infertel._internal.processors import InferenceStats, InferenceStatsSpanProcessor
from infertel._internal.processors._stats import DEFAULT_RELATIVE_ACCURACY
from infertel._internal.quantiles import QuantileSketch
from infertel._internal.quantiles._sketch import LogMapping

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _processor_alone import END_ATTRS, GENAI, WARM_SPANS, bench_alone, ended_spans, print_alone  # noqa: E402

QS = (0.5, 0.9, 0.99, 0.999)
ACCURACY = DEFAULT_RELATIVE_ACCURACY
_RANGE = LogMapping(ACCURACY)  # the range (min_value .. max_value) our sketch covers with its guarantee


# --- 1. added cost per span -------------------------------------------------------------------
class _Discard:
    """A span exporter that drops everything (the baseline pays for batching, not for encoding)."""

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class _NoOp(SpanProcessor):
    """A span processor that does nothing: what the SDK's dispatch to any added processor costs."""

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: Any) -> None:
        pass


class _InFlightOnly(SpanProcessor):
    """The least a processor with per-series in-flight counts can do: remember started GenAI spans
    by span id, forget them when they end (public API; no statistics at all)."""

    def __init__(self) -> None:
        self.started: dict[int, Any] = {}

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        attributes = span.attributes
        if attributes.get(semconv.GEN_AI_OPERATION_NAME) is not None:
            self.started[span.context.span_id] = attributes

    def on_end(self, span: Any) -> None:
        self.started.pop(span.context.span_id, None)


def _provider(exporter: Any, processor: Any) -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "processors-benchmark"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))  # the SDK defaults (512-span batches)
    if processor is not None:
        provider.add_span_processor(processor)
    return provider


def _span_loop(provider: Any, n: int, start_attrs: dict[str, Any], processor: Any = None) -> float:
    """Process CPU µs per span (every thread: the export worker and the statistics folder included).

    A span as instrumentation makes it (the current span while the call runs, as ``@observe``
    does); then ``force_flush()`` exports the round's spans and the processor's buffer is folded,
    so each round pays for all the work its own spans cause.
    """
    tracer = provider.get_tracer("b")
    end_attrs = END_ATTRS if start_attrs is GENAI else {"x": 1}
    t0 = time.process_time()
    for _ in range(n):
        with tracer.start_as_current_span("chat llama-3-8b", attributes=start_attrs) as span:
            span.set_attributes(end_attrs)
    provider.force_flush()
    if processor is not None:
        processor.stats.series_count()  # folds under the lock
    return (time.process_time() - t0) / n * 1e6


def _bare_span_cost(provider: Any, n: int, rounds: int) -> tuple[float, float]:
    """A bare span (no attributes) on ``provider``: (wall µs per span of the loop, process CPU µs
    per span including its export), medians over ``rounds``."""
    tracer = provider.get_tracer("b")
    walls, cpus = [], []
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            with tracer.start_as_current_span("chat"):
                pass
        walls.append((time.perf_counter() - w0) / n * 1e6)
        provider.force_flush()
        cpus.append((time.process_time() - c0) / n * 1e6)
    return statistics.median(walls), statistics.median(cpus)


def _processor_loop(processor: InferenceStatsSpanProcessor, spans: list[Any], part: str) -> float:
    """CPU µs per span of the processor's own work on ended spans: ``calls`` (on_start + on_end,
    what the span's thread pays), ``fold`` (counting them; normally the background folder does
    it) or ``both``. All of it runs on this thread, so this thread's CPU time is measured: the
    other threads of the process (the providers' export workers, the background folder) add
    nothing to this work, only noise."""
    on_start, on_end = processor.on_start, processor.on_end
    stats = processor.stats
    with stats._lock:  # keep the background folder out: this loop times every fold itself
        t0 = time.thread_time()
        for span in spans:
            on_start(span)  # the SDK hands on_start the live span; a ReadableSpan has what it reads
            on_end(span)
        t1 = time.thread_time()
        stats._fold()
        t2 = time.thread_time()
    elapsed = {"calls": t1 - t0, "fold": t2 - t1, "both": t2 - t0}[part]
    return elapsed / len(spans) * 1e6


def _interleaved(cases: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for case in cases.values():  # warm-up
        case()
    for r in range(rounds):
        order = list(cases.items()) if r % 2 == 0 else list(reversed(cases.items()))  # cancel order effects
        for name, case in order:
            samples[name].append(case())
    return samples


def _paired(s: dict[str, list[float]], f: Callable[[dict[str, float]], float]) -> float:
    """Median over rounds of ``f`` of one round's figures (a shared machine's load drifts between rounds)."""
    rounds = len(next(iter(s.values())))
    return statistics.median(f({k: v[i] for k, v in s.items()}) for i in range(rounds))


def _added(s: dict[str, list[float]], case: str, baseline: str) -> tuple[float, float]:
    """``case`` minus ``baseline``, in µs and in % of ``baseline`` (paired round by round)."""
    return (
        _paired(s, lambda r: r[case] - r[baseline]),
        _paired(s, lambda r: (r[case] / r[baseline] - 1) * 100),
    )


def bench_spans(rounds: int, n: int, otlp_rounds: int) -> dict[str, float]:
    """Interleaved rounds: GenAI spans with and without the processor, exported over OTLP/gRPC to a
    receiver in another process and to a discarding exporter; the processor's own work alone."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "exporters" / "durable"))
    from durable_receiver import Receiver

    ours = InferenceStatsSpanProcessor()
    base, with_stats = _provider(_Discard(), None), _provider(_Discard(), ours)
    noop, in_flight = _provider(_Discard(), _NoOp()), _provider(_Discard(), _InFlightOnly())
    alone = InferenceStatsSpanProcessor()
    genai_spans = ended_spans(n, GENAI, True)
    # The SDK calls on_end on a span it has just ended: its fields are in the CPU's caches. 2,000
    # spans made beforehand are not (the span loops in between evict them), so the processor is
    # also timed on WARM_SPANS spans cycled to the same count, whose fields stay cached.
    warm_spans = ended_spans(WARM_SPANS, GENAI, True) * max(1, n // WARM_SPANS)
    plain_spans = ended_spans(n, {"http.route": "/"}, False)
    plain = {"http.route": "/"}
    local = _interleaved(
        {
            "baseline": lambda: _span_loop(base, n, GENAI),
            "with_stats": lambda: _span_loop(with_stats, n, GENAI, ours),
            "with_noop": lambda: _span_loop(noop, n, GENAI),
            "with_in_flight": lambda: _span_loop(in_flight, n, GENAI),
            "baseline_plain": lambda: _span_loop(base, n, plain),
            "with_stats_plain": lambda: _span_loop(with_stats, n, plain, ours),
            "calls": lambda: _processor_loop(alone, genai_spans, "calls"),
            "fold": lambda: _processor_loop(alone, genai_spans, "fold"),
            "alone": lambda: _processor_loop(alone, genai_spans, "both"),
            "calls_warm": lambda: _processor_loop(alone, warm_spans, "calls"),
            "fold_warm": lambda: _processor_loop(alone, warm_spans, "fold"),
            "alone_warm": lambda: _processor_loop(alone, warm_spans, "both"),
            "alone_plain": lambda: _processor_loop(alone, plain_spans, "both"),
        },
        rounds,
    )
    for provider in (base, with_stats, noop, in_flight):
        provider.shutdown()

    # Exported last: the gRPC channel's threads outlive its exporter's shutdown.
    receiver = Receiver()
    try:
        ours_otlp = InferenceStatsSpanProcessor()
        otlp = {
            "exported": _provider(OTLPSpanExporter(endpoint=receiver.grpc_endpoint, insecure=True), None),
            "exported_stats": _provider(OTLPSpanExporter(endpoint=receiver.grpc_endpoint, insecure=True), ours_otlp),
        }
        exported = _interleaved(
            {
                "exported": lambda: _span_loop(otlp["exported"], 2048, GENAI),
                "exported_stats": lambda: _span_loop(otlp["exported_stats"], 2048, GENAI, ours_otlp),
            },
            otlp_rounds,
        )
        bare_wall, bare_cpu = _bare_span_cost(otlp["exported"], 2048, max(3, otlp_rounds // 4))
        for provider in otlp.values():
            provider.shutdown()
        received = receiver.stats()["unique"]
    finally:
        receiver.stop()
    out = {k: statistics.median(v) for k, v in {**exported, **local}.items()}
    out["received"] = received
    out["n"] = n
    out["bare_wall"], out["bare_cpu"] = bare_wall, bare_cpu
    out["exported_added"], out["exported_added_pct"] = _added(exported, "exported_stats", "exported")
    out["added"], out["added_pct"] = _added(local, "with_stats", "baseline")
    out["noop_added"], out["noop_added_pct"] = _added(local, "with_noop", "baseline")
    out["in_flight_added"], out["in_flight_added_pct"] = _added(local, "with_in_flight", "baseline")
    out["added_plain"], out["added_plain_pct"] = _added(local, "with_stats_plain", "baseline_plain")
    for name in ("calls", "fold", "alone", "calls_warm", "fold_warm", "alone_warm"):
        out[name + "_pct"] = _paired(local, lambda r, name=name: r[name] / r["baseline"] * 100)  # type: ignore[misc]
        out[name + "_exported_pct"] = out[name] / out["exported"] * 100
    out["alone_plain_pct"] = _paired(local, lambda r: r["alone_plain"] / r["baseline_plain"] * 100)
    return out


# --- 2 & 3. queries and memory -----------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _feed(stats: InferenceStats, clock: _Clock, keys: list[tuple[str, str]], seconds: float, rate: float) -> None:
    rng = np.random.default_rng(42)
    step = 1.0 / rate
    n = int(seconds * rate)
    latency = rng.lognormal(math.log(1.0), 0.5, size=n).tolist()
    ttft_frac = rng.uniform(0.05, 0.3, size=n).tolist()
    outputs = rng.integers(16, 512, size=n).tolist()
    for i in range(n):
        clock.now = i * step
        for key in keys:
            stats.record_end(stats.end_record(key, latency[i], latency[i] * ttft_frac[i], None, 20, outputs[i], None))
    clock.now = seconds


def bench_query(series: int, quick: bool) -> dict[str, float]:
    clock = _Clock()
    stats = InferenceStats(clock=clock, max_series=series + 1)
    keys = [(f"model-{i}", "chat") for i in range(series)]
    _feed(stats, clock, keys, seconds=60 if quick else 120, rate=1.0)
    stats.snapshot(60)
    one = [0.0] * 5
    for i in range(5):
        t0 = time.perf_counter()
        snap = stats.snapshot(60)
        one[i] = time.perf_counter() - t0
    assert len(snap) == series
    every = [0.0] * 3
    for i in range(3):
        t0 = time.perf_counter()
        stats.snapshots()
        every[i] = time.perf_counter() - t0
    return {"one_window_ms": statistics.median(one) * 1e3, "all_windows_ms": statistics.median(every) * 1e3}


def bench_memory(series: int, seconds: float, rate: float) -> dict[str, float]:
    _feed(InferenceStats(clock=_Clock()), _Clock(), [("warm-up", "chat")], seconds=30, rate=10.0)  # lazy imports
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    clock = _Clock()
    stats = InferenceStats(clock=clock)
    keys = [(f"model-{i}", "chat") for i in range(series)]
    _feed(stats, clock, keys, seconds=seconds, rate=rate)
    stats.snapshot(60)  # folds and flushes; the buffer is empty afterwards
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"per_series_kib": (after - before) / series / 1024, "sketch_kib": stats.memory_bytes() / series / 1024}


# --- 4. side by side ----------------------------------------------------------------------------
def _rel_errors(estimates: list[float], exact: np.ndarray) -> list[float]:
    return [abs(e - t) / t for e, t in zip(estimates, exact, strict=True)]


class _Ours:
    name = f"infertel QuantileSketch (a={ACCURACY:g})"

    def __init__(self) -> None:
        self.s = QuantileSketch(ACCURACY)
        self.record = self.s.add

    def quantiles(self) -> list[float]:
        return [v or 0.0 for v in self.s.quantiles(QS)]


def _dd_bins(alpha: float) -> int:
    """Buckets DDSketch needs to cover our sketch's range at ``alpha`` (its bound, like ours)."""
    gamma = (1 + alpha) / (1 - alpha)
    return math.ceil(math.log(_RANGE.max_value / _RANGE.min_value) / math.log(gamma))


class _DDSketch:
    """DDSketch at our relative accuracy parameter: the same guarantee (its buckets are twice as wide)."""

    alpha = ACCURACY
    name = f"ddsketch (a={ACCURACY:g}, same guarantee)"

    def __init__(self) -> None:
        from ddsketch import LogCollapsingLowestDenseDDSketch

        self.s = LogCollapsingLowestDenseDDSketch(relative_accuracy=self.alpha, bin_limit=_dd_bins(self.alpha))
        self.record = self.s.add

    def quantiles(self) -> list[float]:
        return [self.s.get_quantile_value(q) for q in QS]


class _DDSketchSameWidth(_DDSketch):
    """DDSketch with our bucket width: ``(1 + a) / (1 - a) = 1 + ACCURACY``."""

    alpha = ACCURACY / (2 + ACCURACY)
    name = f"ddsketch (a={alpha:.4g}, same buckets)"


class _Deque:
    name = "numpy percentile, deque(10k)"

    def __init__(self) -> None:
        self.d: deque[float] = deque(maxlen=10_000)
        self.record = self.d.append

    def quantiles(self) -> list[float]:
        return list(np.quantile(np.fromiter(self.d, float), QS))


class _Hdr:
    name = "hdrhistogram (2 digits)"
    scale = 1e6  # integer micro-units

    def __init__(self) -> None:
        from hdrh.histogram import HdrHistogram

        self.h = HdrHistogram(1, 10**13, 2)
        record = self.h.record_value
        scale = self.scale
        self.record = lambda v: record(max(1, int(v * scale)))

    def quantiles(self) -> list[float]:
        return [self.h.get_value_at_percentile(q * 100) / self.scale for q in QS]


def _exp_quantiles(point: Any) -> list[float]:
    """Quantiles from an exponential histogram data point, as a backend reads them."""
    base = 2.0 ** (2.0**-point.scale)
    counts = point.positive.bucket_counts
    cumulative = np.cumsum(counts)
    out = []
    for q in QS:
        rank = q * (point.count - 1)
        i = int(np.searchsorted(cumulative, rank, side="right"))
        lower = base ** (point.positive.offset + i)
        out.append(lower * math.sqrt(base))  # geometric middle of the bucket: the best a backend can do
    return out


class _OTelExp:
    name = "OTel exp. histogram, Histogram.record"

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(
            metric_readers=[self.reader],
            views=[View(instrument_name="h", aggregation=ExponentialBucketHistogramAggregation())],
        )
        histogram = self.provider.get_meter("bench").create_histogram("h", unit="s")
        attrs = {semconv.GEN_AI_REQUEST_MODEL: "llama-3-8b"}
        self.record = lambda v: histogram.record(v, attrs)

    def quantiles(self) -> list[float]:
        data = self.reader.get_metrics_data()
        point = data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points[0]
        self.provider.shutdown()
        return _exp_quantiles(point)

    def close(self) -> None:
        self.provider.shutdown()


class _OTelExpAggregation:
    """The SDK's exponential histogram aggregation driven directly (private SDK module: benchmark only).

    What ``Histogram.record`` ends in, without the SDK's dispatch (instrument, measurement
    consumer, attribute lookup): ``aggregate(measurement, should_sample_exemplar=False)``, the
    call the SDK makes when the default trace-based exemplar filter finds no sampled span. The
    timed loop gets measurements built beforehand (:meth:`prepare`).
    """

    name = "OTel exp. histogram, aggregation alone"

    def __init__(self) -> None:
        from opentelemetry.context import Context
        from opentelemetry.sdk.metrics._internal.aggregation import (
            AggregationTemporality,
            _ExponentialBucketHistogramAggregation,
        )
        from opentelemetry.sdk.metrics._internal.measurement import Measurement
        from opentelemetry.sdk.metrics._internal.view import _default_reservoir_factory

        self.aggregation = _ExponentialBucketHistogramAggregation(
            {semconv.GEN_AI_REQUEST_MODEL: "llama-3-8b"},
            _default_reservoir_factory(_ExponentialBucketHistogramAggregation),
            AggregationTemporality.DELTA,  # what the SDK gives a synchronous instrument's aggregation
            0,
        )
        self._temporality = AggregationTemporality.DELTA
        aggregate = self.aggregation.aggregate
        context = Context()
        self._measurement = lambda v: Measurement(v, 0, None, context)  # type: ignore[arg-type]
        self.record_prepared = lambda m: aggregate(m, False)
        self.record = lambda v: aggregate(self._measurement(v), False)

    def prepare(self, values: list[float]) -> list[Any]:
        return [self._measurement(v) for v in values]

    def quantiles(self) -> list[float]:
        return _exp_quantiles(self.aggregation.collect(self._temporality, time.time_ns()))


ALTERNATIVES = (_Ours, _DDSketch, _DDSketchSameWidth, _Deque, _Hdr, _OTelExp, _OTelExpAggregation)


def _record_cost(cls: Any, values: list[float]) -> float:
    """CPU µs per record of a fresh ``cls`` fed ``values`` (this thread's CPU time: all the work is here)."""
    impl = cls()
    prepare = getattr(impl, "prepare", None)
    record, items = (impl.record, values) if prepare is None else (impl.record_prepared, prepare(values))
    t0 = time.thread_time()
    for v in items:
        record(v)
    cost = (time.thread_time() - t0) / len(values) * 1e6
    if isinstance(impl, _OTelExp):
        impl.close()
    return cost


def _record_costs(values: list[float], rounds: int) -> tuple[dict[Any, float], dict[Any, float]]:
    """Median cost per record of every structure, and median of its per-round ratio to ours.

    Interleaved round by round (every other round in reverse order), so that a shared machine's
    load drifts over all structures alike.
    """
    samples: dict[Any, list[float]] = {cls: [] for cls in ALTERNATIVES}
    for r in range(rounds):
        for cls in ALTERNATIVES if r % 2 == 0 else reversed(ALTERNATIVES):
            samples[cls].append(_record_cost(cls, values))
    ours = samples[_Ours]
    costs = {cls: statistics.median(v) for cls, v in samples.items()}
    ratios = {cls: statistics.median(c / o for c, o in zip(v, ours, strict=True)) for cls, v in samples.items()}
    return costs, ratios


def _memory(cls: Any, values: list[float]) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    impl = cls()
    for v in values:
        impl.record(v)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    if isinstance(impl, _OTelExp):
        impl.close()
    return used / 1024


def bench_alternatives(n: int, quick: bool) -> list[tuple[str, str, float, float, list[float], float]]:
    rng = np.random.default_rng(20261122)
    datasets = {
        "log-normal": rng.lognormal(math.log(0.8), 1.0, size=n),
        "Pareto a=1.5": rng.pareto(1.5, size=n) + 1.0,
    }
    rows = []
    for dname, arr in datasets.items():
        values = arr.tolist()
        exact = np.quantile(arr, QS)
        chunk = values[: 20_000 if quick else 100_000]
        memory_sample = values[:200_000]
        costs, ratios = _record_costs(chunk, 3 if quick else 7)
        for cls in ALTERNATIVES:
            impl = cls()
            record = impl.record
            for v in values:
                record(v)
            errors = _rel_errors(impl.quantiles(), exact)
            rows.append((dname, cls.name, costs[cls], ratios[cls], errors, _memory(cls, memory_sample)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run, figures less precise)")
    parser.add_argument("--alone", action="store_true", help="only the processor's own work per span (PASS/FAIL)")
    parser.add_argument(
        "--no-numpy",
        action="store_true",
        help="with --alone: the processor folds without numpy, as where it is not installed (not a dependency)",
    )
    parser.add_argument(
        "--no-extension",
        action="store_true",
        help="with --alone: the statistics buffer as a Python list, as where the C extension was not built",
    )
    args = parser.parse_args()
    quick = args.quick
    if (args.no_numpy or args.no_extension) and not args.alone:
        parser.error("--no-numpy and --no-extension need --alone")
    if args.alone:
        rounds = 10 if quick else 40
        if args.no_numpy:
            from infertel._internal.quantiles import _bulk

            _bulk.USE_NUMPY = False  # the fold's numpy_module() is None: the pure-Python paths
        from infertel._internal.processors import _buffer

        if args.no_extension:
            _buffer.USE_EXTENSION = False  # new statistics buffers are lists
        extension = _buffer.extension_available()
        print_alone(bench_alone(rounds, 2_000), rounds, 2_000, numpy=not args.no_numpy, extension=extension)
        return

    print("infertel live statistics benchmark (medians; Python", sys.version.split()[0] + ")\n")

    spans = bench_spans(rounds=10 if quick else 40, n=1_000 if quick else 2_000, otlp_rounds=6 if quick else 40)
    print("1. Added cost per GenAI span (process CPU µs per span, every thread; interleaved rounds)")
    print(f"   {'case':<64}{'µs/span':>9}{'% of baseline':>15}")
    rows = [
        ("exported: plain SDK GenAI span (baseline)", spans["exported"], 100.0),
        ("exported: with InferenceStatsSpanProcessor", spans["exported_stats"], 100.0 + spans["exported_added_pct"]),
        ("exported: added (paired difference)", spans["exported_added"], spans["exported_added_pct"]),
        ("discarded: plain SDK GenAI span (baseline)", spans["baseline"], 100.0),
        ("discarded: with InferenceStatsSpanProcessor", spans["with_stats"], 100.0 + spans["added_pct"]),
        ("discarded: added (paired difference)", spans["added"], spans["added_pct"]),
        ("discarded: added by a no-op SpanProcessor (SDK dispatch)", spans["noop_added"], spans["noop_added_pct"]),
        ("discarded: added by an in-flight-only processor", spans["in_flight_added"], spans["in_flight_added_pct"]),
        ("processor alone: on_start + on_end (the span's thread)", spans["calls"], spans["calls_pct"]),
        ("processor alone: fold (background thread)", spans["fold"], spans["fold_pct"]),
        ("processor alone: both", spans["alone"], spans["alone_pct"]),
        (
            f"  span in cache ({WARM_SPANS} spans cycled): on_start + on_end",
            spans["calls_warm"],
            spans["calls_warm_pct"],
        ),
        (f"  span in cache ({WARM_SPANS} spans cycled): fold", spans["fold_warm"], spans["fold_warm_pct"]),
        (f"  span in cache ({WARM_SPANS} spans cycled): both", spans["alone_warm"], spans["alone_warm_pct"]),
        ("non-GenAI span, discarded: added (paired difference)", spans["added_plain"], spans["added_plain_pct"]),
        ("non-GenAI span: processor alone", spans["alone_plain"], spans["alone_plain_pct"]),
    ]
    for label, value, pct in rows:
        print(f"   {label:<64}{value:>9.2f}{pct:>14.1f}%")
    print("   (the target on the processor alone, 1.5 µs per GenAI span, is checked by --alone)")
    print("   (exported: SDK BatchSpanProcessor + OTLP/gRPC exporter to a receiver in another process, which")
    print(f"   decoded {spans['received']:,.0f} spans; discarded: the same with an exporter that drops every batch.")
    print(f"   The processor alone is {spans['alone_exported_pct']:.1f}% of an exported span; % column: of the")
    print("   discarded baseline.)")
    print(f"   A bare SDK span (no attributes), exported the same way: {spans['bare_wall']:.1f} µs of wall time in the")
    print(f"   loop, {spans['bare_cpu']:.1f} µs of CPU with its export.")

    query = bench_query(100 if quick else 1000, quick)
    print("\n2. stats() over 1,000 series" if not quick else "\n2. stats() over 100 series (--quick)")
    print(f"   one window (stats(window_s=60))            {query['one_window_ms']:>9.1f} ms")
    print(f"   all 3 windows (one gauge collection)        {query['all_windows_ms']:>9.1f} ms")

    memory = bench_memory(10 if quick else 40, seconds=300 if quick else 900, rate=10.0)
    print("\n3. Memory per series (15 min of streams at 10 req/s, windows 60/300/900 s, 1% accuracy)")
    print(f"   tracemalloc, everything                     {memory['per_series_kib']:>9.1f} KiB  (target <= 32 KiB)")
    print(f"   of which windows + sketches (getsizeof)     {memory['sketch_kib']:>9.1f} KiB")

    n = 100_000 if quick else 1_000_000
    rows = bench_alternatives(n, quick)
    print(f"\n4. Side by side on the same {n:,} samples (relative error vs numpy exact quantiles)")
    header = f"   {'distribution':<14}{'structure':<40}{'µs/record':>10}{'x ours':>8}"
    header += "".join(f"{'p' + format(q * 100, 'g'):>9}" for q in QS) + f"{'KiB':>9}"
    print(header)
    for dname, name, cost, ratio, errors, kib in rows:
        line = f"   {dname:<14}{name:<40}{cost:>10.3f}{ratio:>8.2f}"
        line += "".join(f"{e * 100:>8.3f}%" for e in errors) + f"{kib:>9.1f}"
        print(line)
    print("   (µs/record: CPU time of the recording thread; x ours: median of per-round ratios, rounds interleaved.")
    print("   KiB: tracemalloc after 200,000 records. The deque's µs/record is an append only: each query")
    print("   then sorts 10,000 samples, and it only sees the last 10,000 records, hence its tail errors.")
    print(f"   a: relative accuracy parameter; ours and the first ddsketch guarantee {ACCURACY:.0%} on every quantile.")
    print("   The OTel exponential histogram keeps at most 160 buckets, so its scale (and error) follows the")
    print("   data's range; its aggregation alone is a private SDK class driven directly, as a sketch is.)")


if __name__ == "__main__":
    main()
