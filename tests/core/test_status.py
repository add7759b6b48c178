"""Failures are visible: an unusable store or an unreachable collector shows in ``infertel.status()``,
in the ``infertel.export.dropped`` / ``infertel.store.errors`` counters, in one stderr line, and in
``shutdown()`` returning ``False``.

Each case runs ``configure()`` in a fresh interpreter (it sets process globals) against a real
failure, one that stops root too: the store path is an existing directory, the store file holds
random bytes, the disk is full (a file size limit: writes fail with EFBIG), the collector's port is
closed and the spool bound is tiny. Metrics go to an in-memory reader the script passes as
``meter_provider=`` so the counters can be read back while the store itself is broken.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from infertel import semconv

_SCRIPT = r"""
import json, resource, signal, sys, time

t0 = time.monotonic()
options = json.loads(sys.argv[1])
limit = options.pop("file_size_limit", None)
if limit:  # a full disk, for root too: writes past the limit fail (EFBIG) instead of killing us
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
import infertel
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

calls = options.pop("calls")
flush_every = options.pop("flush_every", 0)
settle = options.pop("settle_state", None)
reader = InMemoryMetricReader()
infertel.configure(service_name="status-test", resource_metrics=False,
                   meter_provider=MeterProvider(metric_readers=[reader]), **options)

@infertel.observe(model="m", operation="chat", provider="p")
def call(n):
    return n

for i in range(calls):
    call(i)
    if flush_every and (i + 1) % flush_every == 0:
        trace.get_tracer_provider().force_flush()

def settled():
    traces = infertel.status()["exporter.traces"]
    return traces.state == settle and traces.counts["dropped"] + traces.counts["backlog"] == calls

if settle:  # durable export: wait until every span is spooled or counted as dropped, and it failed
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not settled():
        time.sleep(0.05)
else:
    trace.get_tracer_provider().force_flush()
status = {name: s.as_dict() for name, s in infertel.status().items()}
counters = {}
for rm in reader.get_metrics_data().resource_metrics:
    for sm in rm.scope_metrics:
        for metric in sm.metrics:
            if metric.name in ("infertel.export.dropped", "infertel.store.errors"):
                for point in metric.data.data_points:
                    attributes = point.attributes
                    key = "|".join((metric.name, attributes["infertel.signal"], attributes["infertel.component"]))
                    counters[key] = point.value
started = time.monotonic()
shutdown = infertel.shutdown(timeout_millis=3_000)
print(json.dumps({"status": status, "counters": counters, "shutdown": shutdown,
                  "shutdown_s": time.monotonic() - started, "total_s": time.monotonic() - t0}))
"""


def _run(tmp_path: Path, options: dict[str, Any], env: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    environ.update(INFERTEL_SPOOL_DIR=str(tmp_path / "spool"), **(env or {}))
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(options)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


def _timeless(status: dict[str, Any]) -> dict[str, Any]:
    """The status without its clock readings (checked separately)."""
    assert isinstance(status["time_unix_nano"], int)
    if status["last_error"] is not None:
        assert 0 < status["last_error_time_unix_nano"] <= status["time_unix_nano"]
    return {k: v for k, v in status.items() if k not in ("time_unix_nano", "last_error_time_unix_nano")}


def _store_failure_visible(tmp_path: Path, store: Path, error: str) -> None:
    result, stderr = _run(tmp_path, {"calls": 5, "store_path": str(store)})
    traces = result["status"]["exporter.traces"]
    assert _timeless(traces) == {
        "name": "exporter.traces",
        "kind": "sqlite-store",
        "target": str(store),
        "state": "failing",
        "last_error": error,
        "counts": {"received": 5, "written": 0, "dropped": 5, "errors": 1},
    }
    assert result["counters"][f"{semconv.INFERTEL_EXPORT_DROPPED}|traces|sqlite-store"] == 5
    assert result["counters"][f"{semconv.INFERTEL_STORE_ERRORS}|traces|sqlite-store"] == 1
    assert result["shutdown"] is False
    # One line for the failed write (rate-limited: once a minute per kind), one naming the loss at shutdown.
    lines = stderr.splitlines()
    written = [line for line in lines if "could not write 5 spans" in line]
    assert len(written) == 1, stderr
    assert error in written[0] and str(store) in written[0]
    lost = [line for line in lines if "telemetry was lost" in line]
    assert len(lost) == 1, stderr
    assert f"exporter.traces lost 5 items to {store} (last error: {error})" in lost[0]


def test_a_store_path_that_is_a_directory_is_reported(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    store.mkdir()  # open() fails for root as well
    _store_failure_visible(tmp_path, store, "OperationalError: unable to open database file")


def test_a_corrupt_store_file_is_reported(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    store.write_bytes(os.urandom(8192))
    result, _ = _run(tmp_path, {"calls": 0, "store_path": str(tmp_path / "probe.db")})
    assert result["status"]["exporter.traces"]["state"] == "ok"  # the same script with a good store
    _store_failure_visible(
        tmp_path, store, f"StoreError: {str(store)!r} is not a usable infertel store: file is not a database"
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_collector_with_a_full_spool_is_reported(tmp_path: Path) -> None:
    port = _closed_port()
    endpoint = f"http://127.0.0.1:{port}/v1/traces"
    options = {
        "calls": 400,
        "settle_state": "failing",
        "traces_endpoint": endpoint,
        "protocol": "http/protobuf",
        "durable": True,
        "store_path": str(tmp_path / "logs.db"),
    }
    result, stderr = _run(tmp_path, options, {"INFERTEL_SPOOL_MAX_BYTES": "4096"})
    traces = result["status"]["exporter.traces"]
    counts = traces["counts"]
    assert _timeless(traces) == {
        "name": "exporter.traces",
        "kind": "durable-otlp",
        "target": traces["target"],
        "state": "failing",
        "last_error": traces["last_error"],
        "counts": counts,
    }
    assert endpoint in traces["target"]
    assert traces["last_error"] == f"{traces['target']} does not answer" or traces["last_error"].endswith(
        "items (spool_bound)"
    )
    # The bound held a few spans; the rest were dropped and counted; nothing was delivered.
    assert counts["delivered"] == 0
    assert 0 < counts["backlog"] < 400
    assert counts["dropped"] + counts["backlog"] == 400
    assert 0 < counts["spool_bytes"] <= 4096 + 1024  # the bound, plus the record being appended
    assert result["counters"][f"{semconv.INFERTEL_EXPORT_DROPPED}|traces|durable-otlp"] == counts["dropped"]
    assert result["shutdown"] is False
    lines = stderr.splitlines()
    assert len([line for line in lines if line.startswith("durable traces export: ") and "not answer" in line]) == 1
    assert len([line for line in lines if line.startswith("durable traces export lost") and "spool_bound" in line]) == 1
    assert len([line for line in lines if "telemetry was lost" in line and "exporter.traces lost" in line]) == 1


def test_a_full_store_is_reported(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    options = {"calls": 1000, "flush_every": 100, "store_path": str(store), "file_size_limit": 200_000}
    result, stderr = _run(tmp_path, options)
    traces = result["status"]["exporter.traces"]
    counts = traces["counts"]
    assert _timeless(traces) == {
        "name": "exporter.traces",
        "kind": "sqlite-store",
        "target": str(store),
        "state": "failing",
        "last_error": "OperationalError: disk I/O error",
        "counts": counts,
    }
    # The first batches fit, the later ones did not: every span either written or counted as lost.
    assert counts["written"] > 0 and counts["dropped"] > 0
    assert counts["written"] + counts["dropped"] == counts["received"] == 1000
    assert counts["errors"] == counts["dropped"] // 100
    assert result["counters"][f"{semconv.INFERTEL_EXPORT_DROPPED}|traces|sqlite-store"] == counts["dropped"]
    assert result["counters"][f"{semconv.INFERTEL_STORE_ERRORS}|traces|sqlite-store"] == counts["errors"]
    assert result["shutdown"] is False
    assert len([line for line in stderr.splitlines() if "could not write 100 spans" in line]) == 1, stderr
