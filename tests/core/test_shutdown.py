"""``infertel.shutdown()``: a complete, ordered flush, bounded by its ``timeout_millis``.

Streams still open are stored (``end_reason="shutdown"``), the statistics gauges and resource
metrics are collected one last time before anything stops, and a collector that never answers
cannot hold the process: shutdown returns ``False`` in time and says which step and where.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import infertel
from infertel import semconv
from infertel_exporters.sqlite import SQLiteStore

pytestmark = pytest.mark.usefixtures("fresh_otel")

STATISTICS_GAUGES = {
    semconv.INFERTEL_GEN_AI_LATENCY,
    semconv.INFERTEL_GEN_AI_REQUESTS_PER_SECOND,
    semconv.INFERTEL_GEN_AI_ERROR_RATE,
    semconv.INFERTEL_GEN_AI_IN_FLIGHT,
}
RESOURCE_METRICS = {"process.cpu.time", "process.memory.usage", "system.memory.usage"}


def _stored_spans(store: Path) -> list[Any]:
    with SQLiteStore(str(store)) as opened:  # closed: Python 3.13 warns about an unclosed connection
        return opened.spans(0, 2**63 - 1)


def test_streams_still_referenced_are_stored_with_end_reason_shutdown(fresh_otel: Path) -> None:
    infertel.configure(store_path=str(fresh_otel), resource_metrics=False)

    @infertel.observe(model="m-sync", operation="chat")
    def tokens() -> Iterator[str]:
        yield from ["a", "b", "c"]

    @infertel.observe(model="m-async", operation="chat")
    async def async_tokens() -> Any:
        for token in ["x", "y"]:
            yield token

    read = tokens()
    assert next(read) == "a"
    unread = tokens()
    async_read = async_tokens()
    assert asyncio.run(async_read.__anext__()) == "x"

    assert infertel.shutdown(timeout_millis=10_000) is True
    spans = sorted(_stored_spans(fresh_otel), key=lambda s: (s.model, s.attributes[semconv.INFERTEL_STREAM_CHUNKS]))
    reason, chunks = semconv.INFERTEL_STREAM_END_REASON, semconv.INFERTEL_STREAM_CHUNKS
    assert [(s.name, s.status_code, s.attributes[reason], s.attributes[chunks]) for s in spans] == [
        ("chat m-async", "UNSET", semconv.STREAM_END_SHUTDOWN, 1),
        ("chat m-sync", "UNSET", semconv.STREAM_END_SHUTDOWN, 0),
        ("chat m-sync", "UNSET", semconv.STREAM_END_SHUTDOWN, 1),
    ]
    # The application is unaffected: its streams go on, and their spans are not ended twice.
    assert list(read) == ["b", "c"]
    assert list(unread) == ["a", "b", "c"]
    assert len(_stored_spans(fresh_otel)) == 3


def test_last_collection_stores_statistics_gauges_and_resource_metrics(fresh_otel: Path) -> None:
    # A 60 s push interval: nothing is exported before shutdown(), whose last collection must hold all of it.
    infertel.configure(store_path=str(fresh_otel), metric_export_interval_millis=60_000)
    infertel.observe(model="m", operation="chat")(lambda: {"usage": {"prompt_tokens": 3, "completion_tokens": 5}})()
    assert infertel.shutdown(timeout_millis=10_000) is True
    with SQLiteStore(str(fresh_otel)) as opened:
        names = set(opened.metric_names())
        latency = opened.metric_series(semconv.INFERTEL_GEN_AI_LATENCY, attributes={semconv.GEN_AI_REQUEST_MODEL: "m"})
    assert STATISTICS_GAUGES <= names
    assert RESOURCE_METRICS <= names
    assert latency and all(p.value > 0 for p in latency)


def test_a_process_that_lives_one_second_stores_everything_at_exit(tmp_path: Path) -> None:
    store = tmp_path / "short.db"
    script = (
        "import infertel\n"
        f"infertel.configure(store_path={str(store)!r})\n"
        "infertel.observe(model='m', operation='chat')(lambda: 'ok')()\n"
        "def tokens():\n"
        "    yield from 'abc'\n"
        "held = infertel.observe(model='m', operation='chat')(tokens)()\n"
        "next(held)\n"  # still referenced at exit
    )
    proc = subprocess.run([sys.executable, "-c", script], timeout=60, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "infertel" not in proc.stderr  # a clean exit: no warning
    with SQLiteStore(str(store)) as opened:
        names = set(opened.metric_names())
    assert STATISTICS_GAUGES | RESOURCE_METRICS <= names
    reasons = sorted(str(s.attributes.get(semconv.INFERTEL_STREAM_END_REASON)) for s in _stored_spans(store))
    assert reasons == ["None", semconv.STREAM_END_SHUTDOWN]


class _BlackHole:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a hung collector)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.05)
        self.port = self.server.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            self.connections.append(conn)

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self.server.close()
        for conn in self.connections:
            conn.close()


def _wait_for_steps_left_behind() -> None:
    """Shutdown left its stuck steps running on daemon threads; let them end before the next test."""
    for thread in threading.enumerate():
        if thread.name == "infertel-shutdown":
            thread.join(30)
            assert not thread.is_alive()


@pytest.fixture
def black_hole() -> Iterator[_BlackHole]:
    hole = _BlackHole()
    yield hole
    hole.close()
    _wait_for_steps_left_behind()


def _infertel_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("infertel") and r.levelno >= logging.WARNING]


def test_a_collector_that_never_answers_cannot_hold_shutdown(
    black_hole: _BlackHole, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "5")  # the exporters give up 5 s later, after the test
    endpoint = f"http://127.0.0.1:{black_hole.port}"
    infertel.configure(endpoint=endpoint, protocol="http/protobuf", durable=False, resource_metrics=False)
    for _ in range(3):
        infertel.observe(model="m", operation="chat")(lambda: "ok")()
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="infertel"):
        ok = infertel.shutdown(timeout_millis=1_500)
    elapsed = time.monotonic() - start
    assert ok is False
    assert 1.0 < elapsed < 1.8  # the whole budget went on waiting, and no more
    (line,) = [w for w in _infertel_warnings(caplog) if "shutdown incomplete" in w]
    assert line.startswith("infertel: shutdown incomplete: ")
    # BatchSpanProcessor.force_flush exports until its queue is empty, whatever the timeout: left behind.
    assert "traces flush (OTLPSpanExporter) did not finish in time" in line


class _BlockingSpanExporter(SpanExporter):
    """Blocks every export until released (an exporter that ignores every timeout)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.wait()


class _BlockingMetricExporter(MetricExporter):
    def __init__(self) -> None:
        super().__init__(preferred_temporality={}, preferred_aggregation={})
        self.release = threading.Event()

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        self.release.wait()
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        self.release.wait()
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.release.wait()


def test_exporters_that_block_forever_cannot_hold_shutdown(caplog: pytest.LogCaptureFixture) -> None:
    spans, points = _BlockingSpanExporter(), _BlockingMetricExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(spans))
    reader = PeriodicExportingMetricReader(points, export_interval_millis=600_000)
    meter_provider = MeterProvider(metric_readers=[reader])
    try:
        infertel.configure(tracer_provider=tracer_provider, meter_provider=meter_provider, resource_metrics=False)
        infertel.observe(model="m", operation="chat")(lambda: "ok")()
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="infertel"):
            ok = infertel.shutdown(timeout_millis=1_000)
        assert time.monotonic() - start < 1.3
        assert ok is False
        (line,) = [w for w in _infertel_warnings(caplog) if "shutdown incomplete" in w]
        assert "traces flush (the provider's own exporters) did not finish in time" in line
        assert "metrics flush (the provider's own exporters) did not finish in time" in line
    finally:
        spans.release.set()
        points.release.set()
        _wait_for_steps_left_behind()
        tracer_provider.shutdown()
        meter_provider.shutdown()


def test_clean_shutdown_is_true_and_quiet(fresh_otel: Path, caplog: pytest.LogCaptureFixture) -> None:
    infertel.configure(store_path=str(fresh_otel), resource_metrics=False)
    infertel.observe(model="m", operation="chat")(lambda: "ok")()
    with caplog.at_level(logging.WARNING, logger="infertel"):
        assert infertel.shutdown(timeout_millis=10_000) is True
        assert infertel.shutdown(timeout_millis=10_000) is True  # again: nothing left to do
    assert _infertel_warnings(caplog) == []
    assert [s.name for s in _stored_spans(fresh_otel)] == ["chat m"]
