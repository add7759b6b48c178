"""Ingest rate of the embedded SQLite store, measured through the SDK exporter interfaces.

Spans: realistic GenAI inference spans (10 attributes, a streamed call's first-token event on
one in three), exported in batches of 512 (the BatchSpanProcessor default). Metric points: what
a MeterProvider with GenAI histograms, token counters and GPU gauges yields at collection,
exported whole. Baselines measured in the same run: a straightforward exporter (json.dumps per
field, one execute per row, one transaction per batch, SQLite's default settings; its ratio to ours
paired per batch like the rollup cost, ``benchmarks/_paired.py``), a naive writer
(one row per transaction, default settings), and the 10,000 metrics/s that comparable SQLite-backed monitoring
systems claim, as a reference line.

Also, in the same run: the cost of the rollups (spans/s and points/s with rollups against the
same exporter with them switched off, on fresh files, each batch handed to both in turn so that the
machine's drift falls on both alike: ``benchmarks/_paired.py``; target: at most 10% slower; also on
the fleet's span mix, ``benchmarks/dashboard.py``'s spans over 10 models and 3 services, stamped as
densely as they are written and, as a figure only, replayed at 20 requests/s), the bytes each
realistic GenAI span adds to the file (indexes and rollups included, target: at most 300), and with
``--reads`` the read API's latency on a 24 h store at 20 requests/s over 10 models and 3 services
(about 1.7 M spans; built once by ``benchmarks/_fill_store.py`` and kept under ``.cache/``).

Usage: .venv/bin/python benchmarks/store.py [--spans N] [--points N] [--fleet-spans N] [--reads] [--hours H]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time

from _paired import ROUNDS, PairedRates, paired_rates
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from infertel import semconv
from infertel_exporters.sqlite import SQLiteMetricExporter, SQLiteSpanExporter, SQLiteStore
from infertel_exporters.sqlite._encode import METRIC_INSERT, ResourceCache, metric_rows
from infertel_exporters.sqlite._span_encode import SPAN_INSERT, span_rows

BYTES_PER_SPAN_TARGET = 300
ROLLUP_COST_TARGET = 0.10

SPAN_TARGET = 20_000
POINT_TARGET = 50_000
REFERENCE_METRICS_PER_S = 10_000  # claim of comparable SQLite-backed monitoring systems
MODELS = ("llama-3-8b", "mistral-7b", "qwen2-72b", "phi-3-mini")
RESOURCE = Resource.create({"service.name": "bench", "service.version": "1.0", "host.name": "bench-host"})
RESOURCES = [Resource.create({"service.name": f"bench-{i}", "host.name": "bench-host"}) for i in range(3)]


def make_spans(n: int) -> list:
    exporter = InMemorySpanExporter()
    providers = [TracerProvider(resource=resource) for resource in RESOURCES]
    for provider in providers:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracers = [provider.get_tracer(semconv.INSTRUMENTATION_SCOPE, "0.1.0") for provider in providers]
    rng = random.Random(7)
    for i in range(n):
        tracer = tracers[i % len(tracers)]
        model = MODELS[i % len(MODELS)]
        stream = i % 3 == 0
        out_tokens = rng.randint(16, 512)
        attributes = {
            semconv.GEN_AI_OPERATION_NAME: "chat",
            semconv.GEN_AI_PROVIDER_NAME: "vllm",
            semconv.GEN_AI_REQUEST_MODEL: model,
            semconv.GEN_AI_RESPONSE_MODEL: model,
            semconv.GEN_AI_REQUEST_TEMPERATURE: 0.2,
            semconv.GEN_AI_REQUEST_MAX_TOKENS: 512,
            semconv.GEN_AI_USAGE_INPUT_TOKENS: rng.randint(8, 2048),
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: out_tokens,
            semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
            semconv.GEN_AI_REQUEST_STREAM: stream,
        }
        if stream:
            attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = rng.random() / 10
            attributes[semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN] = rng.random() / 100
        if i % 31 == 0:
            attributes[semconv.ERROR_TYPE] = "TimeoutError"
        with tracer.start_as_current_span(f"chat {model}", kind=SpanKind.INTERNAL, attributes=attributes) as span:
            if stream:
                span.add_event("gen_ai.first_token", {semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: rng.random() / 10})
    spans = list(exporter.get_finished_spans())
    for provider in providers:
        provider.shutdown()
    return spans


def make_metrics():
    """One collection of a realistic meter: returns (MetricsData, number of points)."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=RESOURCE)
    meter = provider.get_meter(semconv.INSTRUMENTATION_SCOPE)
    duration = meter.create_histogram(
        semconv.GEN_AI_SERVER_REQUEST_DURATION, unit=semconv.UNIT_SECONDS,
        explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
    )  # fmt: skip
    ttft = meter.create_histogram(
        semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN, unit=semconv.UNIT_SECONDS,
        explicit_bucket_boundaries_advisory=list(semconv.TIME_TO_FIRST_TOKEN_BUCKETS),
    )  # fmt: skip
    tokens = meter.create_counter("infertel.bench.tokens", unit=semconv.UNIT_TOKENS)
    requests = meter.create_counter("infertel.bench.requests", unit=semconv.UNIT_REQUESTS)
    gauges = [meter.create_gauge(f"infertel.bench.gpu.{m}", unit=semconv.UNIT_RATIO) for m in ("util", "mem", "power")]
    rng = random.Random(3)
    for model in MODELS:
        for operation in ("chat", "text_completion"):
            for error in (None, "TimeoutError", "RateLimitError"):
                attrs = {semconv.GEN_AI_REQUEST_MODEL: model, semconv.GEN_AI_OPERATION_NAME: operation,
                         semconv.GEN_AI_PROVIDER_NAME: "vllm"}  # fmt: skip
                if error:
                    attrs[semconv.ERROR_TYPE] = error
                for _ in range(20):
                    duration.record(rng.lognormvariate(-1, 1), attrs)
                    ttft.record(rng.lognormvariate(-3, 1), attrs)
                    requests.add(1, attrs)
                for token_type in ("input", "output"):
                    tokens.add(rng.randint(1, 500), {**attrs, semconv.GEN_AI_TOKEN_TYPE: token_type})
    for gpu in range(8):
        for gauge in gauges:
            gauge.set(rng.random(), {"hw.id": f"gpu{gpu}"})
    data = reader.get_metrics_data()
    provider.shutdown()
    n = sum(len(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics)
    return data, n


def timed(fn, repeat: int = 3) -> float:
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t0)
    return statistics.median(best)


def naive_rate(rows: list, statement: str, folder: str) -> float:
    """One row per transaction, default settings (rollback journal, synchronous=FULL)."""
    conn = _fresh_db(folder, "naive")
    t0 = time.perf_counter()
    for row in rows:
        conn.execute(statement, row)
    elapsed = time.perf_counter() - t0
    conn.close()
    return len(rows) / elapsed


def _fresh_db(folder: str, name: str) -> sqlite3.Connection:
    path = os.path.join(folder, f"{name}-{random.random()}.db")
    with SQLiteStore(path) as store:
        store.counts()  # the same schema and indices
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")  # SQLite's defaults: rollback journal, synchronous=FULL
    return conn


class _Done:
    name = "SUCCESS"  # what an SDK exporter's export() returns, for _paired


class StraightforwardSpans:
    """What one writes first: json.dumps per field, one execute per span, one transaction per batch."""

    def __init__(self, folder: str) -> None:
        self.conn = _fresh_db(folder, "plain-spans")

    def export(self, batch: list) -> _Done:
        conn = self.conn
        conn.execute("BEGIN")
        for span in batch:
            ctx, parent = span.context, span.parent
            events = [{"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes)} for e in span.events]
            attributes = dict(span.attributes)
            conn.execute(SPAN_INSERT, (
                ctx.trace_id.to_bytes(16, "big"), ctx.span_id.to_bytes(8, "big"),
                parent.span_id.to_bytes(8, "big") if parent else None, int(parent is None), span.name,
                span.kind.value, span.start_time, span.end_time - span.start_time, span.status.status_code.name,
                span.status.description, attributes.get(semconv.GEN_AI_REQUEST_MODEL),
                attributes.get(semconv.GEN_AI_OPERATION_NAME), 0, json.dumps(attributes),
                json.dumps(events) if events else None, None,
            ))  # fmt: skip
        conn.execute("COMMIT")
        return _Done()

    def shutdown(self) -> None:
        self.conn.close()


class StraightforwardPoints(StraightforwardSpans):
    """The same for metric points: one transaction per export, json.dumps per point."""

    def __init__(self, folder: str) -> None:
        self.conn = _fresh_db(folder, "plain-points")

    def export(self, data) -> _Done:  # type: ignore[override]
        conn = self.conn
        conn.execute("BEGIN")
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for p in metric.data.data_points:
                        histogram = None
                        if hasattr(p, "bucket_counts"):
                            histogram = json.dumps(
                                {
                                    "bounds": list(p.explicit_bounds),
                                    "counts": list(p.bucket_counts),
                                    "sum": p.sum,
                                    "count": p.count,
                                    "min": p.min,
                                    "max": p.max,
                                }
                            )
                        conn.execute(METRIC_INSERT, (
                            metric.name, metric.unit, type(metric.data).__name__.lower(), None, None,
                            p.start_time_unix_nano, p.time_unix_nano, json.dumps(dict(p.attributes)),
                            getattr(p, "value", None), histogram, sm.scope.name, 0,
                        ))  # fmt: skip
        conn.execute("COMMIT")
        return _Done()


BASELINE_ROUNDS = 3
"""Rounds of the straightforward exporter against ours (paired per batch, like the rollup cost)."""


def _shifted(data, offset_ns: int):
    """``data`` with every point's time moved by ``offset_ns`` (start times kept: cumulative series go on)."""
    from dataclasses import replace

    return replace(data, resource_metrics=[
        replace(rm, scope_metrics=[
            replace(sm, metrics=[
                replace(m, data=replace(m.data, data_points=[
                    replace(p, time_unix_nano=p.time_unix_nano + offset_ns) for p in m.data.data_points]))
                for m in sm.metrics])
            for sm in rm.scope_metrics])
        for rm in data.resource_metrics])  # fmt: skip


def _cost(what: str, rates: PairedRates) -> None:
    cost, wall, cpu = rates.cost, rates.wall_rate[False], rates.cpu_rate[False]
    print(f"  without rollups           {wall:>12,.0f} {what}/s   ({cpu:,.0f} per CPU-second)")
    print(f"  rollup cost               {cost:>12.1%}   per CPU-second, median of {len(rates.costs)} paired rounds"
          f" (rounds {min(rates.costs):.1%} to {max(rates.costs):.1%}; wall-clock medians"
          f" {1 - rates.wall_rate[True] / rates.wall_rate[False]:.1%});"
          f" target <= {ROLLUP_COST_TARGET:.0%}: {'MET' if cost <= ROLLUP_COST_TARGET else 'NOT MET'}")  # fmt: skip


def bytes_per_span(folder: str, hours: float) -> float:
    """File bytes per span of a spans-only store of realistic GenAI traffic (indexes and rollups included)."""
    import _fill_store

    path = os.path.join(folder, "bytes.db")
    counts = _fill_store.fill(path, hours=hours, metrics=False, logs=False)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    try:
        parts = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    except sqlite3.OperationalError:  # SQLite built without dbstat
        parts = []
    conn.close()
    per_span = os.path.getsize(path) / counts["spans"]
    print(f"\nbytes per span: {counts['spans']:,} realistic GenAI spans ({hours:g} h at 20 requests/s, 10 models,"
          f" 3 services; 9-14 attributes, 1/3 streamed, 3% errors)")  # fmt: skip
    print(
        f"  file size / spans         {per_span:>12.1f} bytes  (target <= {BYTES_PER_SPAN_TARGET}: "
        f"{'MET' if per_span <= BYTES_PER_SPAN_TARGET else 'NOT MET'}, {per_span / BYTES_PER_SPAN_TARGET:.2f}x)"
    )
    for name, size in parts:
        if size >= 0.005 * per_span * counts["spans"]:
            print(f"    {name:<22}  {size / counts['spans']:>12.1f} bytes")
    return per_span


def span_exporter(folder: str, name: str, round_: int, rollups: bool = True) -> SQLiteSpanExporter:
    """A span exporter on a fresh file, its schema created (outside any timed region)."""
    exporter = SQLiteSpanExporter(os.path.join(folder, f"{name}-{round_}-{rollups}.db"), retention=None)
    exporter.store.rollups = rollups
    exporter.store.counts()
    return exporter


def metric_exporter(folder: str, name: str, round_: int, rollups: bool = True) -> SQLiteMetricExporter:
    """A metric exporter on a fresh file, its schema created (outside any timed region)."""
    exporter = SQLiteMetricExporter(os.path.join(folder, f"{name}-{round_}-{rollups}.db"), retention=None)
    exporter.store.rollups = rollups
    exporter.store.counts()
    return exporter


def span_rates(batches: list, folder: str, name: str) -> PairedRates:
    """Spans/s with and without rollups: each batch to both exporters in turn (``_paired``), fresh files per round."""
    n = sum(len(batch) for batch in batches)

    def check(exporter: SQLiteSpanExporter) -> None:
        assert exporter.store.counts()["spans"] == n

    return paired_rates(
        batches, lambda rollups, r: span_exporter(folder, name, r, rollups), [len(batch) for batch in batches],
        ROUNDS, check,
    )  # fmt: skip


def fleet_costs(folder: str, n: int) -> None:
    """The rollup cost on the fleet's span mix (``benchmarks/dashboard.py``'s spans), dense and replayed.

    10 models over 3 services (a model per service), 5-9 attributes, no events: lighter spans than
    ``make_spans``'s (about 12 us each written without rollups, against 15), TTFT on 9 in 10, so the same
    rollup work weighs more. Dense: start times 20 us apart (stamped at the rate they are written, as
    ``make_spans``'s). Replayed: 50 ms apart, the 20 requests/s fleet: a 10 s row holds about 20 spans and a
    one-minute bucket closes every 1,200 spans (each summed from its 10 s rows).
    """
    import dashboard  # the same spans as its ingest check

    rng = random.Random(5)
    resources = [Resource.create({"service.name": s}) for s in dashboard.SERVICES]
    now = time.time_ns()
    print(f"\nrollup cost on the fleet mix: {n:,} spans of dashboard.py (10 models x 3 services, 5-9 attributes)")
    mixes = (("dense (20 us apart)", dashboard.DENSE_GAP_NS), ("20 req/s replayed", dashboard.REPLAY_GAP_NS))
    for label, gap_ns in mixes:
        spans = [dashboard._span(rng, now - (n - i) * gap_ns, resources) for i in range(n)]
        rates = span_rates([spans[i : i + 512] for i in range(0, n, 512)], folder, f"fleet-{gap_ns}")
        cost, cpu_with, cpu_without = rates.cost, rates.cpu_rate[True], rates.cpu_rate[False]
        verdict = "MET" if cost <= ROLLUP_COST_TARGET else "NOT MET"
        print(
            f"  {label:24}  {cost:>12.1%}   ({cpu_with:,.0f} against {cpu_without:,.0f} spans per CPU-second)"
            f"{f'; target <= {ROLLUP_COST_TARGET:.0%}: {verdict}' if gap_ns == dashboard.DENSE_GAP_NS else ''}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=60_000)
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--reads", action="store_true", help="also time the read API on a 24 h store (cached)")
    parser.add_argument("--hours", type=float, default=24, help="history of the read benchmark's store")
    parser.add_argument("--fleet-spans", type=int, default=20_000, help="spans of the fleet mix (0: skip it)")
    parser.add_argument("--hours-bytes", type=float, default=1, help="history of the bytes-per-span store")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="infertel-bench-store-")
    try:
        run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, folder: str) -> None:
    load = os.getloadavg()[0]
    print(f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load average {load:.1f}, files in {folder}")

    spans = make_spans(args.spans)
    batches = [spans[i : i + 512] for i in range(0, len(spans), 512)]
    rates = span_rates(batches, folder, "spans")
    span_rate, span_cpu_rate = rates.wall_rate[True], rates.cpu_rate[True]
    encode_s = timed(lambda: [span_rows(b, ResourceCache()) for b in batches])

    data, per_collection = make_metrics()
    collections = max(1, args.points // per_collection)
    shifted = [_shifted(data, i * 10 * 10**9) for i in range(collections)]  # one collection every 10 s

    point_rates = paired_rates(
        shifted, lambda rollups, r: metric_exporter(folder, "metrics", r, rollups), [per_collection] * collections,
        ROUNDS,
    )  # fmt: skip
    point_rate, point_cpu_rate = point_rates.wall_rate[True], point_rates.cpu_rate[True]
    mencode_s = timed(lambda: [metric_rows(data, ResourceCache()) for _ in range(collections)])

    naive_spans = naive_rate(span_rows(spans[:1000], ResourceCache())[0], SPAN_INSERT, folder)
    naive_points = naive_rate(metric_rows(data, ResourceCache())[0] * 4, METRIC_INSERT, folder)
    # Ours (rollups on) against the straightforward exporter, batch by batch in turn: a ratio steady under drift.
    baseline = paired_rates(
        batches, lambda ours, r: span_exporter(folder, "vs-plain", r) if ours else StraightforwardSpans(folder),
        [len(batch) for batch in batches], BASELINE_ROUNDS,
    )  # fmt: skip
    plain_spans, span_ratio = baseline.wall_rate[False], baseline.wall_rate[True] / baseline.wall_rate[False]
    few = shifted[:300]
    baseline = paired_rates(
        few, lambda ours, r: metric_exporter(folder, "vs-plain", r) if ours else StraightforwardPoints(folder),
        [per_collection] * len(few), BASELINE_ROUNDS,
    )  # fmt: skip
    plain_points, point_ratio = baseline.wall_rate[False], baseline.wall_rate[True] / baseline.wall_rate[False]

    print(f"\nspans: {len(spans):,} in batches of 512 ({len(spans[0].attributes)} attributes each)")
    print(f"  SQLiteSpanExporter        {span_rate:>12,.0f} spans/s   (encoding alone {len(spans) / encode_s:,.0f}/s)")
    print(f"    per CPU-second          {span_cpu_rate:>12,.0f} spans/s   (what contention for the CPUs hides)")
    _cost("spans", rates)
    print(
        f"  straightforward exporter  {plain_spans:>12,.0f} spans/s   (json.dumps, 1 transaction per batch, defaults)"
    )
    print(f"  naive 1 row/transaction   {naive_spans:>12,.0f} spans/s")
    print(f"  ratio to straightforward  {span_ratio:>12.1f}x   (paired per batch, {BASELINE_ROUNDS} rounds)")
    print(f"  ratio to naive            {span_rate / naive_spans:>12.1f}x")
    print(f"  target {SPAN_TARGET:,} spans/s: {'MET' if span_rate >= SPAN_TARGET else 'NOT MET'} "
          f"({span_rate / SPAN_TARGET:.2f}x)")  # fmt: skip
    print(f"\nmetric points: {collections * per_collection:,} ({per_collection} per collection, histograms included)")
    print(f"  SQLiteMetricExporter      {point_rate:>12,.0f} points/s  (encoding alone "
          f"{collections * per_collection / mencode_s:,.0f}/s)")  # fmt: skip
    print(f"    per CPU-second          {point_cpu_rate:>12,.0f} points/s")
    _cost("points", point_rates)
    print(f"  straightforward exporter  {plain_points:>12,.0f} points/s")
    print(f"  naive 1 row/transaction   {naive_points:>12,.0f} points/s")
    print(f"  ratio to straightforward  {point_ratio:>12.1f}x   (paired per batch, {BASELINE_ROUNDS} rounds)")
    print(f"  ratio to naive            {point_rate / naive_points:>12.1f}x")
    reference_ratio = point_rate / REFERENCE_METRICS_PER_S
    print(f"  reference claim           {REFERENCE_METRICS_PER_S:>12,} metrics/s  -> {reference_ratio:.1f}x")
    print(f"  target {POINT_TARGET:,} points/s: {'MET' if point_rate >= POINT_TARGET else 'NOT MET'} "
          f"({point_rate / POINT_TARGET:.2f}x)")  # fmt: skip
    if args.fleet_spans:
        fleet_costs(folder, args.fleet_spans)
    bytes_per_span(folder, args.hours_bytes)
    if args.reads:
        import _fill_store
        import _store_reads

        path = _fill_store.cached(hours=args.hours)
        _store_reads.run(path, _fill_store.BIG_TRACE_ID)
    print(
        f"\nload average at the end {os.getloadavg()[0]:.1f} (a figure far below target under load > {os.cpu_count()} "
        "is contention: see the per-CPU-second rate)"
    )


if __name__ == "__main__":
    main()
