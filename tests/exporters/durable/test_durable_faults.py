"""Bad input and faults: the application never blocks or raises; what is lost is counted and logged."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from durable_receiver import Receiver
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from infertel_exporters.durable import DurableBatchSpanProcessor, DurableSpanExporter
from infertel_exporters.durable._spool import MAGIC

# Time an application thread may spend in span.end() per span, on a 2-core machine shared with other work.
APP_PATH_BUDGET_S = 0.25


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_app(provider: TracerProvider, n: int) -> float:
    """End ``n`` spans on this thread; return the slowest ``span.end()`` in seconds."""
    tracer = provider.get_tracer("fault-test")
    slowest = 0.0
    for i in range(n):
        span = tracer.start_span("op", attributes={"i": i})
        started = time.perf_counter()
        span.end()
        slowest = max(slowest, time.perf_counter() - started)
    return slowest


def _provider(exporter: DurableSpanExporter, *, simple: bool = True) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter) if simple else DurableBatchSpanProcessor(exporter))
    return provider


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_unreachable_endpoint_never_blocks_and_keeps_everything(tmp_path: Path, protocol: str) -> None:
    port = _closed_port()
    inner: Any = (
        HttpSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=1)
        if protocol == "http"
        else GrpcSpanExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True, timeout=1)
    )
    exporter = DurableSpanExporter(inner, spool_dir=tmp_path)
    provider = _provider(exporter)
    assert _run_app(provider, 300) < APP_PATH_BUDGET_S
    started = time.monotonic()
    assert exporter.force_flush(300) is False
    assert time.monotonic() - started < 2.0
    assert exporter.backlog == 300 and exporter.dropped == {} and exporter.delivered == 0
    started = time.monotonic()
    provider.shutdown()  # the collector never answered: shutdown does not wait for it
    assert time.monotonic() - started < 3.0
    # Everything is on disk for the next process.
    assert exporter.spool_directory is not None
    assert sum(p.stat().st_size for p in exporter.spool_directory.glob("*.seg")) > 300 * 50


@pytest.mark.parametrize(
    "endpoint",
    [
        "not a url",
        "127.0.0.1:4318/v1/traces",
        "ftp://127.0.0.1/v1/traces",
        "http://:4318/v1/traces",
        "http://127.0.0.1:99999/v1/traces",
    ],
)
def test_malformed_endpoint_is_a_configuration_error(tmp_path: Path, endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        DurableSpanExporter(HttpSpanExporter(endpoint=endpoint), spool_dir=tmp_path)


def test_malformed_grpc_endpoint_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        DurableSpanExporter(GrpcSpanExporter(endpoint="bad host:4317", insecure=True), spool_dir=tmp_path)


@pytest.mark.parametrize("status", ["500", "503"])
def test_collector_errors_keep_the_batches_until_it_recovers(
    fresh_receiver: Receiver, tmp_path: Path, status: str
) -> None:
    before = fresh_receiver.stats()
    fresh_receiver.set_mode(status)
    inner = HttpSpanExporter(endpoint=f"{fresh_receiver.http_base}/v1/traces", timeout=1)
    exporter = DurableSpanExporter(inner, spool_dir=tmp_path, backoff_initial_s=0.05, backoff_max_s=0.2)
    provider = _provider(exporter, simple=False)
    assert _run_app(provider, 1000) < APP_PATH_BUDGET_S
    assert exporter.force_flush(500) is False
    assert fresh_receiver.stats()["errors_answered"] > before["errors_answered"]
    fresh_receiver.set_mode("ok")
    assert exporter.force_flush(10_000) is True
    after = fresh_receiver.stats()
    assert (after["spans"] - before["spans"], after["duplicates"] - before["duplicates"]) == (1000, 0)
    assert exporter.dropped == {}
    provider.shutdown()


def test_a_collector_rejecting_a_batch_for_good_is_counted_and_logged(
    fresh_receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fresh_receiver.set_mode("400")
    inner = HttpSpanExporter(endpoint=f"{fresh_receiver.http_base}/v1/traces", timeout=1)
    exporter = DurableSpanExporter(inner, spool_dir=tmp_path)
    provider = _provider(exporter)
    with caplog.at_level(logging.WARNING, logger="infertel_exporters.durable"):
        _run_app(provider, 50)
        assert exporter.force_flush(5_000) is False
    assert exporter.dropped == {"rejected": 50}
    assert exporter.backlog == 0
    assert any("HTTP 400" in r.getMessage() for r in caplog.records)
    assert any("lost 50 items (rejected)" in r.getMessage() for r in caplog.records)
    assert exporter.force_flush(1_000) is True  # the failure was reported once
    provider.shutdown()


def test_a_hanging_collector_never_blocks_the_application(fresh_receiver: Receiver, tmp_path: Path) -> None:
    before = fresh_receiver.stats()
    fresh_receiver.set_mode("hang")
    inner = HttpSpanExporter(endpoint=f"{fresh_receiver.http_base}/v1/traces", timeout=1)
    exporter = DurableSpanExporter(inner, spool_dir=tmp_path, backoff_initial_s=0.05, backoff_max_s=0.2)
    provider = _provider(exporter)
    assert _run_app(provider, 300) < APP_PATH_BUDGET_S
    started = time.monotonic()
    assert exporter.force_flush(500) is False
    assert time.monotonic() - started < 1.5  # honours timeout_millis although a request hangs
    fresh_receiver.set_mode("ok")
    assert exporter.force_flush(15_000) is True
    after = fresh_receiver.stats()
    assert (after["spans"] - before["spans"], after["duplicates"] - before["duplicates"]) == (300, 0)
    provider.shutdown()


def test_a_size_bound_of_a_few_kilobytes_drops_the_oldest_and_counts_it(
    fresh_receiver: Receiver, tmp_path: Path
) -> None:
    before = fresh_receiver.stats()
    fresh_receiver.set_mode("503")
    inner = HttpSpanExporter(endpoint=f"{fresh_receiver.http_base}/v1/traces", timeout=1)
    exporter = DurableSpanExporter(
        inner, spool_dir=tmp_path, max_bytes=4_096, backoff_initial_s=0.05, backoff_max_s=0.2
    )
    provider = _provider(exporter)
    assert _run_app(provider, 400) < APP_PATH_BUDGET_S
    assert exporter.force_flush(2_000) is False
    lost = exporter.dropped.get("spool_bound", 0)
    assert lost > 0 and set(exporter.dropped) == {"spool_bound"}
    assert exporter.spool_directory is not None
    assert sum(p.stat().st_size for p in exporter.spool_directory.glob("*.seg")) <= 4_096
    fresh_receiver.set_mode("ok")
    assert exporter.force_flush(10_000) is True
    after = fresh_receiver.stats()
    assert after["spans"] - before["spans"] == 400 - lost  # everything not counted as lost arrived
    assert after["duplicates"] == before["duplicates"]
    provider.shutdown()


@contextlib.contextmanager
def _mounted_tmpfs(path: Path, options: str) -> Iterator[None]:
    path.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode(errors='replace').strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_full_disk_falls_back_to_a_bounded_memory_buffer(fresh_receiver: Receiver, tmp_path: Path) -> None:
    before = fresh_receiver.stats()
    fresh_receiver.set_mode("503")
    disk = tmp_path / "tiny"
    with _mounted_tmpfs(disk, "size=64k"):
        inner = HttpSpanExporter(endpoint=f"{fresh_receiver.http_base}/v1/traces", timeout=1)
        exporter = DurableSpanExporter(
            inner, spool_dir=disk, max_bytes=1 << 30, backoff_initial_s=0.05, backoff_max_s=0.2
        )
        provider = _provider(exporter, simple=False)
        assert _run_app(provider, 3000) < APP_PATH_BUDGET_S  # ~330 kB of spans: far more than the disk holds
        assert exporter.force_flush(500) is False
        assert exporter.dropped == {}  # the memory buffer (bounded) took what the disk could not
        assert exporter.backlog == 3000
        fresh_receiver.set_mode("ok")
        assert exporter.force_flush(15_000) is True
        provider.shutdown()
    after = fresh_receiver.stats()
    assert (after["spans"] - before["spans"], after["duplicates"] - before["duplicates"]) == (3000, 0)


@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only mount needs root (root ignores directory modes)")
def test_a_read_only_spool_directory_still_delivers_from_memory(
    fresh_receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = fresh_receiver.stats()
    readonly = tmp_path / "ro"
    with _mounted_tmpfs(readonly, "ro,size=64k"), caplog.at_level(logging.WARNING):
        inner = HttpSpanExporter(endpoint=f"{fresh_receiver.http_base}/v1/traces", timeout=1)
        exporter = DurableSpanExporter(inner, spool_dir=readonly)
        assert exporter.spool_directory is None
        assert any("buffered in memory only" in r.getMessage() for r in caplog.records)
        provider = _provider(exporter)
        assert _run_app(provider, 200) < APP_PATH_BUDGET_S
        assert exporter.force_flush(10_000) is True
        provider.shutdown()
    after = fresh_receiver.stats()
    assert after["spans"] - before["spans"] == 200


def test_a_read_only_spool_with_the_collector_down_counts_the_loss_at_shutdown(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    inner = HttpSpanExporter(endpoint=f"http://127.0.0.1:{_closed_port()}/v1/traces", timeout=1)
    exporter = DurableSpanExporter(inner, spool_dir=blocker)  # cannot create a directory below a file
    assert exporter.spool_directory is None
    provider = _provider(exporter)
    assert _run_app(provider, 50) < APP_PATH_BUDGET_S
    assert exporter.force_flush(200) is False
    provider.shutdown()
    assert exporter.dropped == {"shutdown": 50}


def test_corrupted_spool_files_are_skipped_and_counted(fresh_receiver: Receiver, tmp_path: Path) -> None:
    before = fresh_receiver.stats()
    fresh_receiver.set_mode("503")
    memory = InMemorySpanExporter()
    source = TracerProvider()
    source.add_span_processor(SimpleSpanProcessor(memory))
    _run_app(source, 100)
    spans = memory.get_finished_spans()
    inner = HttpSpanExporter(endpoint=f"{fresh_receiver.http_base}/v1/traces", timeout=1)
    first = DurableSpanExporter(inner, spool_dir=tmp_path, write_through=True)
    for i in range(0, 100, 10):
        assert first.export(spans[i : i + 10]) is SpanExportResult.SUCCESS  # one record of 10 spans each
    first.shutdown()
    lane = tmp_path / "traces" / "lane-0"
    segment = max(lane.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    third = [i for i in range(len(data)) if data.startswith(MAGIC, i)][2]
    data[third + 40] ^= 0xFF  # one record (10 spans) corrupted in the middle
    segment.write_bytes(bytes(data) + b"\x00garbage tail")  # and a torn tail
    garbage = int(segment.name.split(".")[0]) + 1
    (lane / f"{garbage:020d}.seg").write_bytes(MAGIC + os.urandom(300))  # and a later segment of garbage

    fresh_receiver.set_mode("ok")
    second = DurableSpanExporter(
        HttpSpanExporter(endpoint=f"{fresh_receiver.http_base}/v1/traces", timeout=1), spool_dir=tmp_path
    )
    assert second.force_flush(10_000) is True
    after = fresh_receiver.stats()
    assert after["spans"] - before["spans"] == 90
    assert second._pipeline.corrupt_records == 3
    second.shutdown()
    source.shutdown()


def test_a_full_queue_drops_counts_and_fails_the_flush(fresh_receiver: Receiver, tmp_path: Path) -> None:
    before = fresh_receiver.stats()
    inner = HttpSpanExporter(endpoint=f"{fresh_receiver.http_base}/v1/traces", timeout=1)
    exporter = DurableSpanExporter(inner, spool_dir=tmp_path, max_queue_items=5, enqueue_timeout_millis=0)
    provider = _provider(exporter, simple=False)
    assert _run_app(provider, 3000) < APP_PATH_BUDGET_S
    assert exporter.force_flush(10_000) is False  # everything queued was delivered, but some spans were not
    lost = exporter.dropped.get("queue_full", 0)
    assert lost > 0 and set(exporter.dropped) == {"queue_full"}
    assert exporter.delivered == 3000 - lost
    assert fresh_receiver.stats()["spans"] - before["spans"] == 3000 - lost
    assert exporter.force_flush(1_000) is True  # reported once
    provider.shutdown()
