"""Dashboard speed: pages and JSON API of the real ``infertel dashboard`` server over HTTP, on a big store.

The store holds the last ``--hours`` (24) of a fleet sending ``--rate`` (20) requests/s over 10
models and 3 services: one GenAI span per request (about 1.7 M spans), plus one trace of 200
spans. It is filled once through the store's real write path (so its rollups are written as in
production) and cached under ``.cache/``; a later run only appends the requests since the last
one (and rebuilds the file once its newest data is more than ``--hours`` old).

Measured with one keep-alive HTTP client against ``infertel dashboard`` started as a subprocess
(its console script, uvicorn on 127.0.0.1): wall time from sending the request to the last byte
of the body, ``--repeat`` (30) timed requests per target after 3 untimed ones, p50 and p95.
Printed beside the targets of issue 13 and the reference systems' claims (a server-side
monitoring dashboard that renders its pages in under 100 ms with an API under 10 ms; another
under 500 ms), with PASS/FAIL per target. Also: store bytes per span (file pages in use over
spans stored) and the rollups' ingest cost (spans/s written with rollups against without).

Usage: .venv/bin/python benchmarks/dashboard.py [--hours 24] [--rate 20] [--repeat 30] [--store PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from infertel import semconv

REPO = Path(__file__).resolve().parents[1]
MODELS = (
    "llama-3-8b-instruct", "llama-3-70b-instruct", "mistral-7b-instruct", "mixtral-8x7b", "qwen2-72b-instruct",
    "phi-3-mini", "gemma-2-9b", "gpt-4o-mini", "claude-3-haiku", "bge-large-en",
)  # fmt: skip
SERVICES = ("chat-api", "rag-api", "batch-worker")
TRACE_200_ID = 0x0DA5B0A2D000000000000000000C0200  # the trace of 200 spans (the trace-page target)
BATCH = 512  # the BatchSpanProcessor's default export batch
SCOPE = InstrumentationScope(semconv.INSTRUMENTATION_SCOPE, "0.1.0")
# (target label, seconds, reference claim)
REFERENCE_PAGE = "server-side dashboard < 100 ms; another < 500 ms"
REFERENCE_API = "API < 10 ms"


# --- filling the store -----------------------------------------------------------------------------------------
def _span(rng: random.Random, start_ns: int, resources: Sequence[Resource]) -> ReadableSpan:
    """One GenAI call as the instrumentation records it (attributes of a streamed chat call)."""
    m = rng.randrange(len(MODELS))
    model = MODELS[m]
    embedding = model.startswith("bge")
    operation = "embeddings" if embedding else "chat"
    duration_s = rng.lognormvariate(-2.5 if embedding else -0.4 + 0.1 * m, 0.5)
    error = rng.random() < 0.02
    output_tokens = 0 if embedding else max(1, int(rng.lognormvariate(4.5, 0.6)))
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: operation,
        semconv.GEN_AI_PROVIDER_NAME: "vllm",
        semconv.GEN_AI_REQUEST_MODEL: model,
        semconv.GEN_AI_RESPONSE_MODEL: model,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: rng.randint(16, 2048),
    }
    if not embedding:
        attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = output_tokens
        attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = round(duration_s * rng.uniform(0.05, 0.3), 6)
        attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = ("stop",)
    status = Status(StatusCode.UNSET)
    if error:
        attributes[semconv.ERROR_TYPE] = rng.choice(("TimeoutError", "RateLimitError"))
        status = Status(StatusCode.ERROR, "upstream failed")
    context = SpanContext(rng.getrandbits(128) or 1, rng.getrandbits(64) or 1, False, TraceFlags(1))
    return ReadableSpan(
        name=f"{operation} {model}", context=context, parent=None, resource=resources[m % len(resources)],
        attributes=attributes, kind=SpanKind.CLIENT, status=status, start_time=start_ns,
        end_time=start_ns + int(duration_s * 1e9), instrumentation_scope=SCOPE,
    )  # fmt: skip


def _trace_200(start_ns: int, resource: Resource) -> list[ReadableSpan]:
    """A request that fans out: one root, 199 children (retrieval, tool calls, model calls), 5 ms apart."""
    root = SpanContext(TRACE_200_ID, 1, False, TraceFlags(1))
    spans = [ReadableSpan(name="POST /v1/agent", context=root, resource=resource, kind=SpanKind.SERVER,
                          start_time=start_ns, end_time=start_ns + 1_100_000_000,
                          instrumentation_scope=SCOPE)]  # fmt: skip
    for i in range(199):
        begin = start_ns + 1_000_000 + i * 5_000_000
        spans.append(ReadableSpan(
            name=f"chat {MODELS[i % len(MODELS)]}" if i % 4 == 0 else f"tool step {i}",
            context=SpanContext(TRACE_200_ID, i + 2, False, TraceFlags(1)), parent=root, resource=resource,
            attributes={semconv.GEN_AI_REQUEST_MODEL: MODELS[i % len(MODELS)], semconv.GEN_AI_OPERATION_NAME: "chat"}
            if i % 4 == 0 else {"step": i},
            kind=SpanKind.CLIENT if i % 4 == 0 else SpanKind.INTERNAL,
            start_time=begin, end_time=begin + 4_000_000, instrumentation_scope=SCOPE,
        ))  # fmt: skip
    return spans


def fallback_fill(path: Path, *, start_ns: int, end_ns: int, rate_per_s: float = 20, seed: int = 0,
                  exporter_factory: Callable[[Path], Any] | None = None) -> int:  # fmt: skip
    """Requests at ``rate_per_s`` from ``start_ns`` to ``end_ns``, exported in batches of 512; returns spans written."""
    from infertel_exporters.sqlite import SQLiteSpanExporter

    exporter = (exporter_factory or (lambda p: SQLiteSpanExporter(p, retention=None)))(path)
    rng = random.Random(seed ^ start_ns)
    resources = [Resource.create({"service.name": s, "service.version": "1.4.2", "host.name": f"node-{i}"})
                 for i, s in enumerate(SERVICES)]  # fmt: skip
    step_ns = int(1e9 / rate_per_s)
    written = 0
    batch: list[ReadableSpan] = []
    for start in range(start_ns, end_ns, step_ns):
        batch.append(_span(rng, start + rng.randrange(step_ns), resources))
        if len(batch) == BATCH:
            written += _export(exporter, batch)
            batch = []
    if batch:
        written += _export(exporter, batch)
    exporter.shutdown()
    return written


def _export(exporter: Any, batch: list[ReadableSpan]) -> int:
    from opentelemetry.sdk.trace.export import SpanExportResult

    if exporter.export(batch) is not SpanExportResult.SUCCESS:
        raise RuntimeError("the store refused a batch (see the log above)")
    return len(batch)


def _filler() -> tuple[str, Callable[..., int]]:
    """The store helper's fast filler (benchmarks/_fill_store.py) when present, else the one above."""
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from _fill_store import fill  # type: ignore[import-not-found]
    except ImportError:
        return "SQLiteSpanExporter.export, batches of 512", fallback_fill
    return "benchmarks/_fill_store.fill", fill


def _store_facts(path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        spans, newest = conn.execute("SELECT count(*), coalesce(max(start_ns), 0) FROM spans").fetchone()
        has_200 = conn.execute("SELECT count(*) FROM spans WHERE trace_id = ?", (f"{TRACE_200_ID:032x}",)).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]
    return {"spans": spans, "newest_ns": newest, "trace_200": has_200, "bytes": pages * page_size}


def prepare_store(path: Path, *, hours: float, rate: float) -> tuple[dict[str, int], str]:
    """Fill (or top up) the cached store so it holds the last ``hours`` at ``rate``; returns facts and how."""
    how, fill = _filler()
    now = time.time_ns()
    window_ns = int(hours * 3600e9)
    facts = _store_facts(path) if path.exists() else None
    if facts is None or facts["newest_ns"] < now - window_ns:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        start = now - window_ns
    else:
        start = facts["newest_ns"] + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    added = fill(path, start_ns=start, end_ns=now, rate_per_s=rate)
    if facts is None or not facts["trace_200"]:
        from infertel_exporters.sqlite import SQLiteSpanExporter

        exporter = SQLiteSpanExporter(path, retention=None)
        _export(exporter, _trace_200(now - 1_800_000_000_000, Resource.create({"service.name": SERVICES[0]})))
        exporter.shutdown()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    elapsed = time.perf_counter() - t0
    print(f"store {path}: +{added:,} spans in {elapsed:.1f} s ({how})", flush=True)
    return _store_facts(path), how


# --- measuring --------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def dashboard(path: Path) -> Iterator[str]:
    """``infertel dashboard --store PATH`` on a free port (the console script of this environment)."""
    script = shutil.which("infertel", path=os.path.dirname(sys.executable)) or "infertel"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    proc = subprocess.Popen([script, "dashboard", "--store", str(path), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"infertel dashboard exited with {proc.returncode}: {proc.stderr.read()}")  # type: ignore[union-attr]
            with contextlib.suppress(httpx.TransportError):
                httpx.get(base + "/api/stats", timeout=5)
                break
            if time.monotonic() > deadline:
                raise RuntimeError("infertel dashboard did not answer within 60 s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def quantile(values: Sequence[float], q: float) -> float:
    """Exact quantile with linear interpolation between order statistics."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure(client: httpx.Client, url: str, repeat: int) -> tuple[float, float, int]:
    """p50 and p95 seconds over ``repeat`` GETs of ``url`` (after 3 untimed), and the body size."""
    size = 0
    for _ in range(3):
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: HTTP {response.status_code}: {response.text[:300]}")
        size = len(response.content)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(url)
        _ = response.content
        times.append(time.perf_counter() - t0)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: HTTP {response.status_code}")
    return quantile(times, 0.5), quantile(times, 0.95), size


TARGETS: tuple[tuple[str, str, float, str], ...] = (
    # (label, path, p95 target in seconds, reference claim)
    ("overview page, last 1 h", "/?range=1h", 0.100, REFERENCE_PAGE),
    ("overview page, last 24 h", "/?range=24h", 0.200, REFERENCE_PAGE),
    ("trace page, 200 spans", f"/traces/{TRACE_200_ID:032x}", 0.030, REFERENCE_PAGE),
    ("resources page, last 1 h", "/resources?range=1h", 0.100, REFERENCE_PAGE),
    ("traces page, newest 50", "/traces", 0.100, REFERENCE_PAGE),
    ("logs page, newest 100", "/logs", 0.100, REFERENCE_PAGE),
    ("api/overview, 1 h", "/api/overview?range=1h", 0.010, REFERENCE_API),
    ("api/overview, 24 h", "/api/overview?range=24h", 0.010, REFERENCE_API),
    ("api/metrics latency_p95, 1 h", "/api/metrics?query=latency_p95&range=1h", 0.010, REFERENCE_API),
    ("api/metrics requests_per_s, 24 h", "/api/metrics?query=requests_per_s&range=24h", 0.010, REFERENCE_API),
    ("api/traces, newest 50", "/api/traces", 0.010, REFERENCE_API),
    ("api/traces?model=, newest 50", f"/api/traces?model={MODELS[3]}", 0.010, REFERENCE_API),
    ("api/traces/{id}, 200 spans", f"/api/traces/{TRACE_200_ID:032x}", 0.010, REFERENCE_API),
    ("api/logs, newest 100", "/api/logs", 0.010, REFERENCE_API),
    ("api/stats", "/api/stats", 0.010, REFERENCE_API),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rate", type=float, default=20.0, help="requests (spans) per second in the store")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args()
    path = args.store or REPO / ".cache" / f"bench-dashboard-{args.hours:g}h-{args.rate:g}rps.db"
    facts, how = prepare_store(path, hours=args.hours, rate=args.rate)
    print(f"{facts['spans']:,} spans, {facts['bytes'] / 2**20:,.0f} MiB in use: "
          f"{facts['bytes'] / facts['spans']:.0f} bytes per span (everything: rows, indices, rollups)\n")  # fmt: skip
    rows = []
    with dashboard(path) as base, httpx.Client(base_url=base, timeout=60) as client:
        for label, url, target, reference in TARGETS:
            p50, p95, size = measure(client, url, args.repeat)
            rows.append((label, p50, p95, target, reference, size))
    failed = 0
    print(f"{'target':38} {'p50 ms':>8} {'p95 ms':>8} {'goal ms':>8} {'bytes':>9}  verdict  reference")
    for label, p50, p95, target, reference, size in rows:
        ok = p95 <= target
        failed += not ok
        print(f"{label:38} {p50 * 1e3:8.1f} {p95 * 1e3:8.1f} {target * 1e3:8.0f} {size:9,}  "
              f"{'PASS' if ok else 'FAIL':7}  {reference}")  # fmt: skip
    per_span = facts["bytes"] / facts["spans"]
    print(f"{'store bytes per span':38} {per_span:8.0f} {'':8} {300:8} {'':9}  {'PASS' if per_span <= 300 else 'FAIL'}")
    failed += per_span > 300
    print(f"\nover HTTP (one keep-alive client, {args.repeat} timed requests each) against `infertel dashboard` "
          f"on {facts['spans']:,} spans ({args.hours:g} h at {args.rate:g}/s over {len(MODELS)} models and "
          f"{len(SERVICES)} services; filled by {how})")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
