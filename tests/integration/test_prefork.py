"""A real prefork server: gunicorn ``--preload`` with two uvicorn workers, one OTLP receiver, one store.

The application (``prefork_app.py``) calls ``configure()`` and four warm-up calls in gunicorn's
master, which then forks the workers. Requests go to the workers until each has served some;
every response names the worker's pid. Right after a last burst of requests the server is stopped
with SIGTERM (workers first, then the master) and the test reads back what arrived.

Under ``UvicornWorker`` a worker ends by a re-raised SIGTERM with the default action, which skips
``atexit``; its last data is flushed either at the ASGI lifespan shutdown (infertel's FastAPI
instrumentation, no user action) or by infertel's SIGTERM flush installed in gunicorn's
``post_worker_init`` hook (``infertel.flush_on_sigterm()``, for applications without it). The metric
push interval is 60 s, so every worker's metrics come from its final flush:

* the receiver got each worker's spans under its own Resource (its ``process.pid``, its own
  ``service.instance.id``), the master's warm-up spans under the master's, nothing twice, and
  the per-worker counts equal the requests each worker answered;
* the store's GenAI duration histogram has one cumulative series per process, with each worker's
  count equal to its requests (the master's warm-up calls are not inherited);
* each worker's ``infertel.stats()`` counted only its own requests, with nothing in flight.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import PROCESS_PID, SERVICE_INSTANCE_ID

from infertel import semconv

httpx = pytest.importorskip("httpx")
pytest.importorskip("gunicorn")
pytest.importorskip("uvicorn")
pytest.importorskip("fastapi")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "fork"), reason="prefork servers need fork()"),
]

HERE = Path(__file__).resolve().parent
WARMUP_CALLS = 4  # prefork_app.WARMUP_CALLS (not imported: importing it would configure this process)
MIN_PER_WORKER = 5


def _receiver_class() -> Any:
    path = HERE.parent / "exporters" / "durable" / "durable_receiver.py"
    spec = importlib.util.spec_from_file_location("durable_receiver", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Receiver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> dict[str, Any]:
    # A new connection per request, so the kernel hands requests to both workers.
    response = httpx.get(url, headers={"Connection": "close"}, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def _wait_ready(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log.read_text()}")
        try:
            _get(f"{base}/stats")
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer within 60 s:\n{log.read_text()}")


def _spans_by_resource(dump_dir: Path) -> tuple[dict[tuple[int, str], list[Any]], list[bytes]]:
    """(process.pid, service.instance.id) -> [(scope name, span)], and every span's id."""
    by_resource: dict[tuple[int, str], list[Any]] = defaultdict(list)
    ids: list[bytes] = []
    for path in sorted(dump_dir.glob("traces-*.pb")):
        request = ExportTraceServiceRequest.FromString(path.read_bytes())
        for resource_spans in request.resource_spans:
            attributes = {kv.key: kv.value for kv in resource_spans.resource.attributes}
            key = (attributes[PROCESS_PID].int_value, attributes[SERVICE_INSTANCE_ID].string_value)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    by_resource[key].append((scope_spans.scope.name, span))
                    ids.append(span.trace_id + span.span_id)
    return by_resource, ids


def _histogram_counts(store: Path) -> dict[int, int]:
    from infertel_exporters.sqlite import SQLiteStore

    if not store.exists():
        return {}
    with SQLiteStore(store) as reader:
        points = reader.metric_series(semconv.GEN_AI_SERVER_REQUEST_DURATION)
    last: dict[int, Any] = {}
    for point in points:
        last[point.resource[PROCESS_PID]] = point
    return {pid: point.histogram["count"] for pid, point in last.items()}


def _chat_burst(base: str, pool: concurrent.futures.ThreadPoolExecutor, served: Counter[int], n: int = 8) -> None:
    for answer in pool.map(lambda _: _get(f"{base}/chat"), range(n)):
        assert answer["text"] == "HELLO"
        served[answer["pid"]] += 1


@pytest.mark.parametrize("flush", ["lifespan", "post_worker_init"])
def test_gunicorn_preload_workers_report_their_own_telemetry(tmp_path: Path, flush: str) -> None:
    from infertel_exporters.sqlite import SQLiteStore

    dump_dir = tmp_path / "received"
    dump_dir.mkdir()
    receiver = _receiver_class()(dump_dir=str(dump_dir))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    store = tmp_path / "store.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    env.update(
        PREFORK_TRACES_ENDPOINT=f"{receiver.http_base}/v1/traces",
        PREFORK_STORE=str(store),
        INFERTEL_SPOOL_DIR=str(tmp_path / "spool"),
        PREFORK_METRIC_INTERVAL_MILLIS="60000",  # no push during the test: the workers' final flush must do it
        PREFORK_FASTAPI_INSTRUMENTATION="1" if flush == "lifespan" else "0",
    )
    log = tmp_path / "gunicorn.log"
    command = [
        sys.executable, "-m", "gunicorn", "--preload", "--workers", "2", "--worker-class",
        "uvicorn.workers.UvicornWorker", "--bind", f"127.0.0.1:{port}", "--chdir", str(HERE),
        "--graceful-timeout", "20",
        *(["--config", str(HERE / "prefork_gunicorn_conf.py")] if flush == "post_worker_init" else []),
        "prefork_app:app",
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        _wait_ready(base, server, log)
        served: Counter[int] = Counter()
        sent = 0
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            while len(served) < 2 or min(served.values()) < MIN_PER_WORKER:
                assert sent < 400, f"one worker served everything: {served}"
                sent += 8
                _chat_burst(base, pool, served)
            assert len(served) == 2
            assert sum(served.values()) == sent
            # Each worker's own statistics: its requests only (not the master's warm-up), nothing in flight.
            seen: dict[int, Any] = {}
            deadline = time.monotonic() + 30
            while len(seen) < 2 and time.monotonic() < deadline:
                answer = _get(f"{base}/stats")
                seen[answer["pid"]] = answer["series"]
            assert seen == {pid: {"m/chat": [count, 0]} for pid, count in served.items()}
            # No metric push so far (60 s interval): what the store will hold comes from the final flushes.
            assert _histogram_counts(store) == {}
            # The last requests: the signal follows at once, before any periodic export of their spans.
            sent += 8
            _chat_burst(base, pool, served)
        assert set(served) == set(seen) and sum(served.values()) == sent
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(10)
            receiver.stop()
    assert server.returncode == 0, log.read_text()

    # Spans at the receiver: one Resource per process, each with its own spans, nothing twice.
    by_resource, ids = _spans_by_resource(dump_dir)
    assert len(ids) == len(set(ids)), "a span arrived twice"
    counts = {
        pid: Counter(span.name for scope, span in spans if scope == semconv.INSTRUMENTATION_SCOPE)
        for (pid, _), spans in by_resource.items()
    }
    master = [pid for pid in counts if pid not in served]
    assert len(master) == 1, counts
    assert counts == {pid: {"chat m": n} for pid, n in {**served, master[0]: WARMUP_CALLS}.items()}
    assert len({instance for _, instance in by_resource}) == 3  # master and two workers, all distinct
    assert len(by_resource) == 3
    # FastAPI's own server spans (where the installed FastAPI emits them) are the workers' too.
    for (pid, _), spans in by_resource.items():
        server_spans = sum(1 for _, span in spans if span.name == "GET /chat")
        assert server_spans in (0, served.get(pid, 0))

    # Metrics in the store: each process's cumulative histogram holds its own calls only.
    with SQLiteStore(store) as reader:
        points = reader.metric_series(semconv.GEN_AI_SERVER_REQUEST_DURATION)
    last: dict[tuple[int, str], Any] = {}
    for point in points:
        last[(point.resource[PROCESS_PID], point.resource[SERVICE_INSTANCE_ID])] = point
    assert set(last) == set(by_resource)  # the same three resources as the spans
    assert {pid: point.histogram["count"] for (pid, _), point in last.items()} == {
        **served,
        master[0]: WARMUP_CALLS,
    }
    assert sum(point.histogram["count"] for (pid, _), point in last.items() if pid in served) == sum(served.values())
