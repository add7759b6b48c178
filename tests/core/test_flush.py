"""``infertel.force_flush()`` and ``infertel.flush_on_sigterm()``: the last data of processes that end without atexit.

A server that resets SIGTERM to its default action and later re-raises it (gunicorn's ``UvicornWorker``
with uvicorn's ``Server.capture_signals``) ends the process with neither ``atexit`` nor infertel's
SIGTERM flush; ``flush_on_sigterm()`` in between (gunicorn's ``post_worker_init``) puts the flush back.
The subprocess below does exactly what those two do, with the real ``signal`` calls.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import infertel
from infertel import semconv
from infertel_exporters.sqlite import SQLiteStore

pytestmark = pytest.mark.usefixtures("fresh_otel")


def _latency_models(store: Path) -> list[str]:
    with SQLiteStore(store) as reader:
        points = reader.metric_series(semconv.INFERTEL_GEN_AI_LATENCY)
    return sorted({p.attributes[semconv.GEN_AI_REQUEST_MODEL] for p in points})


def _span_names(store: Path) -> list[str]:
    with SQLiteStore(store) as reader:
        return sorted(s.name for s in reader.spans(0, 2**63 - 1))


def test_force_flush_exports_everything_and_keeps_running(fresh_otel: Path) -> None:
    # A 60 s push interval: only the flush can store the metrics during the test.
    infertel.configure(store_path=str(fresh_otel), resource_metrics=False, metric_export_interval_millis=60_000)
    for model in ("a", "b"):
        infertel.observe(model=model, operation="chat")(lambda: "x")()
    assert infertel.force_flush(timeout_millis=10_000) is True
    assert _span_names(fresh_otel) == ["chat a", "chat b"]
    assert _latency_models(fresh_otel) == ["a", "b"]  # the statistics gauges, collected by the flush
    # Nothing was stopped: later calls are recorded and stored by shutdown().
    infertel.observe(model="c", operation="chat")(lambda: "x")()
    assert infertel.shutdown(timeout_millis=10_000) is True
    assert _span_names(fresh_otel) == ["chat a", "chat b", "chat c"]
    assert _latency_models(fresh_otel) == ["a", "b", "c"]


def test_without_configure_force_flush_flushes_the_global_sdk_providers() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    assert infertel.force_flush(timeout_millis=1_000) is True  # API no-op providers: nothing to flush
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    infertel.observe(model="m", operation="chat")(lambda: "x")()
    assert exporter.get_finished_spans() == ()  # waiting in the batch (60 s delay)
    assert infertel.force_flush(timeout_millis=10_000) is True
    assert [s.name for s in exporter.get_finished_spans()] == ["chat m"]
    tracer_provider.shutdown()


def test_flush_on_sigterm_never_replaces_the_applications_handler(fresh_otel: Path) -> None:
    def handler(signum: int, frame: Any) -> None:
        return None

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        infertel.configure(store_path=str(fresh_otel), resource_metrics=False)
        assert infertel.flush_on_sigterm() is False
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)
        infertel.shutdown(timeout_millis=10_000)


_SERVER = textwrap.dedent(
    """
    import os, signal, sys, time
    import infertel

    infertel.configure(store_path=sys.argv[1], resource_metrics=False, metric_export_interval_millis=60_000)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # UvicornWorker.init_signals, after the fork
    if sys.argv[2] == "armed":
        assert infertel.flush_on_sigterm() is True  # gunicorn's post_worker_init hook
    # uvicorn's Server.capture_signals: save the disposition, handle SIGTERM gracefully ...
    caught = []
    saved = signal.signal(signal.SIGTERM, lambda signum, frame: caught.append(signum))
    for model in ("a", "b", "c"):
        infertel.observe(model=model, operation="chat")(lambda: "x")()
    os.kill(os.getpid(), signal.SIGTERM)
    while not caught:
        time.sleep(0.01)
    # ... then restore the saved disposition and raise the signal again.
    signal.signal(signal.SIGTERM, saved)
    signal.raise_signal(signal.SIGTERM)
    time.sleep(30)
    print("not reached")
    """
)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["armed", "plain"])
def test_flush_on_sigterm_survives_a_server_that_resets_and_reraises_sigterm(fresh_otel: Path, mode: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SERVER, str(fresh_otel), mode], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -signal.SIGTERM, done.stderr  # ended by SIGTERM's default action, as without infertel
    assert "not reached" not in done.stdout
    if mode == "plain":
        # What it fixes: the default action ends the process before any export (spans wait in a batch,
        # metrics for a 60 s push), so nothing is stored.
        assert not fresh_otel.exists() or (_span_names(fresh_otel), _latency_models(fresh_otel)) == ([], [])
        return
    assert _span_names(fresh_otel) == ["chat a", "chat b", "chat c"]
    assert _latency_models(fresh_otel) == ["a", "b", "c"]
