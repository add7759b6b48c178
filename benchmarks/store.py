"""Ingest rate of the embedded SQLite store, measured through the SDK exporter interfaces.

Spans: realistic GenAI inference spans (10 attributes, a streamed call's first-token event on
one in three), exported in batches of 512 (the BatchSpanProcessor default). Metric points: what
a MeterProvider with GenAI histograms, token counters and GPU gauges yields at collection,
exported whole. Baselines measured in the same run: a straightforward exporter (json.dumps per
field, one execute per row, one transaction per batch, SQLite's default settings), a naive writer
(one row per transaction, default settings), and the 10,000 metrics/s that comparable SQLite-backed monitoring
systems claim, as a reference line.

Usage: .venv/bin/python benchmarks/store.py [--spans N] [--points N]
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

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from infertel import semconv
from infertel_exporters.sqlite import SQLiteMetricExporter, SQLiteSpanExporter, SQLiteStore
from infertel_exporters.sqlite._encode import METRIC_INSERT, SPAN_INSERT, ResourceCache, metric_rows, span_rows

SPAN_TARGET = 20_000
POINT_TARGET = 50_000
REFERENCE_METRICS_PER_S = 10_000  # claim of comparable SQLite-backed monitoring systems
MODELS = ("llama-3-8b", "mistral-7b", "qwen2-72b", "phi-3-mini")
RESOURCE = Resource.create({"service.name": "bench", "service.version": "1.0", "host.name": "bench-host"})


def make_spans(n: int) -> list:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(semconv.INSTRUMENTATION_SCOPE, "0.1.0")
    rng = random.Random(7)
    for i in range(n):
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
        with tracer.start_as_current_span(f"chat {model}", kind=SpanKind.INTERNAL, attributes=attributes) as span:
            if stream:
                span.add_event("gen_ai.first_token", {semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: rng.random() / 10})
    spans = list(exporter.get_finished_spans())
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


def straightforward_span_rate(batches: list, folder: str) -> float:
    """What one writes first: json.dumps per field, one execute per span, one transaction per batch."""
    conn = _fresh_db(folder, "plain-spans")
    total = 0
    t0 = time.perf_counter()
    for batch in batches:
        conn.execute("BEGIN")
        for span in batch:
            ctx, parent = span.context, span.parent
            events = [{"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes)} for e in span.events]
            attributes = dict(span.attributes)
            conn.execute(SPAN_INSERT, (
                format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"),
                format(parent.span_id, "016x") if parent else None, span.name, span.kind.name, span.start_time,
                span.end_time, span.status.status_code.name, span.status.description,
                attributes.get(semconv.GEN_AI_REQUEST_MODEL), attributes.get(semconv.GEN_AI_OPERATION_NAME),
                json.dumps(attributes), json.dumps(events) if events else None, None,
                span.instrumentation_scope.name, span.instrumentation_scope.version, 0,
            ))  # fmt: skip
            total += 1
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return total / elapsed


def straightforward_point_rate(data, collections: int, folder: str) -> float:
    """The same for metric points: one transaction per export, json.dumps per point."""
    conn = _fresh_db(folder, "plain-points")
    total = 0
    t0 = time.perf_counter()
    for _ in range(collections):
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
                        total += 1
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=60_000)
    parser.add_argument("--points", type=int, default=200_000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="infertel-bench-store-")
    load = os.getloadavg()[0]
    print(f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load average {load:.1f}, files in {folder}")

    spans = make_spans(args.spans)
    batches = [spans[i : i + 512] for i in range(0, len(spans), 512)]
    times, cpu_times = [], []
    for round_ in range(3):  # a fresh file per round: every insert is a real one, not an ignored duplicate
        exporter = SQLiteSpanExporter(os.path.join(folder, f"spans-{round_}.db"), retention=None)
        exporter.store.counts()  # opens the file and creates the schema outside the timed region
        t0, c0 = time.perf_counter(), time.process_time()
        for batch in batches:
            assert exporter.export(batch).name == "SUCCESS"
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
        assert exporter.store.counts()["spans"] == len(spans)
        exporter.shutdown()
    span_rate = len(spans) / statistics.median(times)
    span_cpu_rate = len(spans) / statistics.median(cpu_times)
    encode_s = timed(lambda: [span_rows(b, ResourceCache()) for b in batches])

    data, per_collection = make_metrics()
    collections = max(1, args.points // per_collection)
    mexporter = SQLiteMetricExporter(os.path.join(folder, "metrics.db"), retention=None)

    def export_points() -> None:
        for _ in range(collections):
            assert mexporter.export(data).name == "SUCCESS"

    c0 = time.process_time()
    point_s = timed(export_points)
    point_cpu_s = (time.process_time() - c0) / 3
    point_rate = collections * per_collection / point_s
    mencode_s = timed(lambda: [metric_rows(data, ResourceCache()) for _ in range(collections)])
    mexporter.shutdown()

    naive_spans = naive_rate(span_rows(spans[:1000], ResourceCache())[0], SPAN_INSERT, folder)
    naive_points = naive_rate(metric_rows(data, ResourceCache())[0] * 4, METRIC_INSERT, folder)
    plain_spans = straightforward_span_rate(batches[:40], folder)
    plain_points = straightforward_point_rate(data, min(collections, 300), folder)

    print(f"\nspans: {len(spans):,} in batches of 512 ({len(spans[0].attributes)} attributes each)")
    print(f"  SQLiteSpanExporter        {span_rate:>12,.0f} spans/s   (encoding alone {len(spans) / encode_s:,.0f}/s)")
    print(f"    per CPU-second          {span_cpu_rate:>12,.0f} spans/s   (what contention for the CPUs hides)")
    print(
        f"  straightforward exporter  {plain_spans:>12,.0f} spans/s   (json.dumps, 1 transaction per batch, defaults)"
    )
    print(f"  naive 1 row/transaction   {naive_spans:>12,.0f} spans/s")
    print(f"  ratio to straightforward  {span_rate / plain_spans:>12.1f}x")
    print(f"  ratio to naive            {span_rate / naive_spans:>12.1f}x")
    print(f"  target {SPAN_TARGET:,} spans/s: {'MET' if span_rate >= SPAN_TARGET else 'NOT MET'} "
          f"({span_rate / SPAN_TARGET:.2f}x)")  # fmt: skip
    print(f"\nmetric points: {collections * per_collection:,} ({per_collection} per collection, histograms included)")
    print(f"  SQLiteMetricExporter      {point_rate:>12,.0f} points/s  (encoding alone "
          f"{collections * per_collection / mencode_s:,.0f}/s)")  # fmt: skip
    print(f"    per CPU-second          {collections * per_collection / point_cpu_s:>12,.0f} points/s")
    print(f"  straightforward exporter  {plain_points:>12,.0f} points/s")
    print(f"  naive 1 row/transaction   {naive_points:>12,.0f} points/s")
    print(f"  ratio to straightforward  {point_rate / plain_points:>12.1f}x")
    print(f"  ratio to naive            {point_rate / naive_points:>12.1f}x")
    reference_ratio = point_rate / REFERENCE_METRICS_PER_S
    print(f"  reference claim           {REFERENCE_METRICS_PER_S:>12,} metrics/s  -> {reference_ratio:.1f}x")
    print(f"  target {POINT_TARGET:,} points/s: {'MET' if point_rate >= POINT_TARGET else 'NOT MET'} "
          f"({point_rate / POINT_TARGET:.2f}x)")  # fmt: skip
    print(
        f"\nload average at the end {os.getloadavg()[0]:.1f} (a figure far below target under load > {os.cpu_count()} "
        "is contention: see the per-CPU-second rate)"
    )
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
