"""A realistic store of GenAI telemetry, fast: ``fill(path, hours=24, rate=20, models=10, services=3, seed=0)``.

Writes through the real exporters (``SQLiteSpanExporter`` / ``SQLiteMetricExporter`` /
``SQLiteLogExporter`` ``export()``, so rows, shapes and rollups are what production writes) in
large batches, from SDK ``ReadableSpan`` / ``MetricsData`` / log records built directly (no
tracer overhead). One span per request (a GenAI call: tokens, 1/3 streamed with TTFT and TPOT,
~3% errors with ``error.type``); each service runs two processes; every 10 s each process
exports an in-flight gauge and a request counter per model; an info log every 20 requests and
an error log per failed one. One extra trace of 200 spans (``BIG_TRACE_ID``). Ends at
``end_ns`` (default: now rounded down to the minute).

:func:`cached` keeps the file under ``.cache/`` keyed by the parameters and ``VERSION``.

Example:
    >>> from benchmarks._fill_store import cached  # doctest: +SKIP
    >>> path = cached(hours=24)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from infertel_exporters.sqlite import (
    SCHEMA_VERSION,
    SQLiteLogExporter,
    SQLiteMetricExporter,
    SQLiteSpanExporter,
    SQLiteStore,
)

VERSION = f"v{SCHEMA_VERSION}.6"
"""Bump when the generated data changes (the cache key includes it)."""
BIG_TRACE_ID = 0xB16B16B16B16B16B16B16B16B16B16B1
"""The trace with 200 spans (the trace page benchmark)."""
SCOPE = InstrumentationScope("infertel", "0.1.0", "https://opentelemetry.io/schemas/1.41.0")
_S = 1_000_000_000
_ERRORS = ("TimeoutError", "RateLimitError", "APIConnectionError")


def _log_record(resource: Resource, time_ns: int, body: str, severity: SeverityNumber, trace_id: int,
                span_id: int) -> Any:  # fmt: skip
    """An SDK log record as the batch processor hands it to an exporter (1.37 .. 1.45)."""
    from opentelemetry.sdk import _logs

    fields = {"timestamp": time_ns, "observed_timestamp": time_ns, "body": body, "severity_number": severity,
              "severity_text": severity.name, "attributes": {"logger": "app"}}  # fmt: skip
    readable = getattr(_logs, "ReadableLogRecord", None)
    if readable is not None:  # 1.39+
        from opentelemetry._logs import LogRecord
        from opentelemetry.trace import NonRecordingSpan, set_span_in_context

        ctx = set_span_in_context(NonRecordingSpan(SpanContext(trace_id, span_id, False, TraceFlags(1))))
        return readable(LogRecord(context=ctx, **fields), resource=resource, instrumentation_scope=SCOPE)
    record = _logs.LogRecord(trace_id=trace_id, span_id=span_id, trace_flags=TraceFlags(1), resource=resource,
                             **fields)  # fmt: skip
    return _logs.LogData(record, SCOPE)


def fill(path: str | os.PathLike[str], *, hours: float = 24, rate: float = 20, models: int = 10, services: int = 3,
         seed: int = 0, end_ns: int | None = None, progress: bool = False, metrics: bool = True,
         logs: bool = True) -> dict[str, int]:  # fmt: skip
    """Write ``hours`` of traffic at ``rate`` requests/s into a fresh store at ``path``; returns row counts.

    Args:
        path: The store file (replaced when it exists).
        hours: Length of the history.
        rate: Requests per second (one GenAI span each).
        models: Distinct models (``model-0`` ...), spread over the services.
        services: Distinct services (``svc-0`` ...), two processes each.
        seed: Random seed.
        end_ns: Time of the newest data (default: now, rounded down to the minute).
        progress: Print a line per simulated hour.
        metrics: Also write the metric points.
        logs: Also write the log records.
    """
    path = Path(path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    rng = random.Random(seed)
    end = end_ns if end_ns is not None else time.time_ns() // (60 * _S) * (60 * _S)
    start = end - int(hours * 3600 * _S)
    model_names = [f"model-{i}" for i in range(models)]
    resources = [[Resource({"service.name": f"svc-{s}", "service.instance.id": f"svc-{s}-{p}",
                            "process.pid": 1000 + 10 * s + p, "host.name": f"host-{s}"}) for p in range(2)]
                 for s in range(services)]  # fmt: skip
    spans_out = SQLiteSpanExporter(path, retention=None)
    metrics_out = SQLiteMetricExporter(path, retention=None)
    logs_out = SQLiteLogExporter(path, retention=None)
    counters: dict[tuple[int, int, str], int] = {}
    trace_seq = rng.getrandbits(64) << 64
    chunk_s = 60
    total = 0
    for chunk_start in range(start, end, chunk_s * _S):
        n = int(rate * chunk_s)
        spans: list[ReadableSpan] = []
        records: list[Any] = []
        for _ in range(n):
            t = chunk_start + rng.randrange(chunk_s * _S)
            s = rng.randrange(services)
            p = rng.randrange(2)
            model = model_names[rng.randrange(models)]
            stream = rng.random() < 1 / 3
            failed = rng.random() < 0.03
            tin, tout = rng.randint(20, 2000), rng.randint(5, 600)
            ttft = rng.lognormvariate(-2.5, 0.6)
            tpot = rng.lognormvariate(-4.2, 0.4)
            duration = ttft + tout * tpot if not failed else rng.uniform(0.5, 30)
            attributes: dict[str, Any] = {
                "gen_ai.operation.name": "chat", "gen_ai.request.model": model, "gen_ai.provider.name": "vllm",
                "gen_ai.request.temperature": 0.7, "gen_ai.request.max_tokens": 1024,
                "gen_ai.response.model": model, "gen_ai.usage.input_tokens": tin, "gen_ai.usage.output_tokens": tout,
                "infertel.output_tokens_per_second": round(tout / duration, 3),
            }  # fmt: skip
            if stream:
                attributes.update({"gen_ai.request.stream": True, "infertel.stream.chunks": tout,
                                   "infertel.stream.end_reason": "exhausted",
                                   "gen_ai.response.time_to_first_chunk": round(ttft, 6),
                                   "infertel.time_per_output_token": round(tpot, 7)})  # fmt: skip
            else:
                attributes["gen_ai.response.finish_reasons"] = ("stop",)
            if failed:
                attributes["error.type"] = _ERRORS[rng.randrange(len(_ERRORS))]
            trace_seq += 1
            span_id = rng.getrandbits(63) + 1
            resource = resources[s][p]
            spans.append(ReadableSpan(
                name=f"chat {model}", context=SpanContext(trace_seq, span_id, False, TraceFlags(1)), parent=None,
                resource=resource, attributes=attributes, kind=SpanKind.CLIENT,
                status=Status(StatusCode.ERROR, "request failed") if failed else Status(StatusCode.UNSET),
                start_time=t, end_time=t + int(duration * _S), instrumentation_scope=SCOPE,
            ))  # fmt: skip
            if failed:
                message = f"{model} request failed: {attributes['error.type']}"
                records.append(_log_record(resource, t + int(duration * _S), message, SeverityNumber.ERROR, trace_seq,
                                        span_id))  # fmt: skip
            elif rng.random() < 0.05:
                records.append(_log_record(resource, t, f"served {model} in {duration:.3f} s", SeverityNumber.INFO,
                                        trace_seq, span_id))  # fmt: skip
            counters[(s, p, model)] = counters.get((s, p, model), 0) + 1
        spans.sort(key=lambda x: x.end_time or 0)
        assert spans_out.export(spans).name == "SUCCESS"
        if records and logs:
            records.sort(key=lambda r: getattr(r, "log_record", r).timestamp)
            assert logs_out.export(records).name == "SUCCESS"
        total += len(spans)
        for tick in range(chunk_start + 10 * _S, chunk_start + chunk_s * _S + 1, 10 * _S) if metrics else ():
            assert metrics_out.export(_metrics(resources, model_names, counters, start, tick, rng)).name == "SUCCESS"
        if progress and (chunk_start - start) % (3600 * _S) == 0:
            print(f"  filled {(chunk_start - start) / 3600 / _S:.0f} h, {total:,} spans", flush=True)
    assert spans_out.export(_big_trace(end - 30 * _S, resources[0][0])).name == "SUCCESS"
    counts = spans_out.store.counts()
    for exporter in (spans_out, metrics_out, logs_out):
        exporter.shutdown()
    return counts


def _metrics(resources: list[list[Resource]], models: list[str], counters: dict[tuple[int, int, str], int],
             start: int, tick: int, rng: random.Random) -> MetricsData:  # fmt: skip
    out = []
    for s, pair in enumerate(resources):
        for p, resource in enumerate(pair):
            in_flight = [NumberDataPoint({"gen_ai.request.model": m}, 0, tick, rng.randint(0, 4)) for m in models]
            requests = [NumberDataPoint({"gen_ai.request.model": m}, start, tick, counters.get((s, p, m), 0))
                        for m in models]  # fmt: skip
            metrics = [
                Metric("infertel.gen_ai.in_flight", "", "{request}", Gauge(in_flight)),
                Metric("infertel.requests", "", "{request}", Sum(requests, AggregationTemporality.CUMULATIVE, True)),
            ]
            out.append(ResourceMetrics(resource, [ScopeMetrics(SCOPE, metrics, "")], ""))
    return MetricsData(out)


def _big_trace(start: int, resource: Resource) -> list[ReadableSpan]:
    root = SpanContext(BIG_TRACE_ID, 1, False, TraceFlags(1))
    spans = [ReadableSpan(name="POST /v1/batch", context=root, parent=None, resource=resource, kind=SpanKind.SERVER,
                          attributes={"http.route": "/v1/batch"}, start_time=start, end_time=start + 20 * _S,
                          instrumentation_scope=SCOPE)]  # fmt: skip
    for i in range(2, 201):
        t = start + i * 90_000_000
        spans.append(ReadableSpan(
            name="chat model-0", context=SpanContext(BIG_TRACE_ID, i, False, TraceFlags(1)), parent=root,
            resource=resource, kind=SpanKind.CLIENT, start_time=t, end_time=t + 80_000_000, instrumentation_scope=SCOPE,
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "model-0",
                        "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 20},
        ))  # fmt: skip
    return spans


def cached(*, hours: float = 24, rate: float = 20, models: int = 10, services: int = 3, seed: int = 0,
           folder: str | os.PathLike[str] = ".cache", progress: bool = True) -> Path:  # fmt: skip
    """A store made by :func:`fill`, built once and kept under ``folder`` (ends when it was built).

    Returns the path of the cached file; readers should open it ``read_only=True`` (or copy it).
    """
    name = f"store-{VERSION}-{hours:g}h-{rate:g}rps-{models}m-{services}s-{seed}.db"
    path = Path(folder) / name
    # the same data under the previous schema: copied and migrated by a writer (seconds, not minutes)
    older = Path(folder) / name.replace(f"store-v{SCHEMA_VERSION}.", f"store-v{SCHEMA_VERSION - 1}.", 1)
    if not path.exists() and older.exists():
        tmp = path.with_suffix(".tmp")
        shutil.copyfile(older, tmp)
        with SQLiteStore(tmp, retention=None) as store:
            store.counts()  # the first connection migrates
        shutil.move(tmp, path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fill(tmp, hours=hours, rate=rate, models=models, services=services, seed=seed, progress=progress)
        import sqlite3

        conn = sqlite3.connect(tmp)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        shutil.move(tmp, path)
        for suffix in ("-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    return path
