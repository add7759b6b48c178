"""No module is imported on infertel's background threads (the fork hazard of a lazy import).

A ``fork()`` while another thread imports a module leaves the child with that module's import
lock held by a thread that does not exist there, and the module half-initialised in
``sys.modules``: the child's first import of it hangs for ever. Under ``gunicorn --preload`` the
master runs ``configure()``'s threads and forks workers at any time, so whatever those threads
need must be imported before they run: at module import, or by ``configure()`` (or the factory
that builds the component) on the calling thread.

The application in background_imports_app.py runs every background component of infertel in a
fresh interpreter (the statistics fold, the stream reaper, the periodic metric reader and a
Prometheus scrape collecting resource metrics, the durable spool's writer and sender threads
delivering to a real HTTP receiver, the store, the alert engine with a webhook channel and a
remediation action, the scheduler with ``clean_spool`` and ``compact_store``, the health registry
with every built-in check) and records with an audit hook each module loaded on a thread other
than the main one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # a real HTTP receiver and the Prometheus endpoint on 127.0.0.1

APP = Path(__file__).with_name("background_imports_app.py")

# Threads that must have run for the test to mean anything (the receiver's and the SDK's pools aside).
COMPONENTS = {
    "OtelBatchLogRecordProcessor", "OtelBatchSpanRecordProcessor", "OtelPeriodicExportingMetricReader",
    "infertel-action-compact", "infertel-action-scale_up", "infertel-action-spool", "infertel-alerting",
    "infertel-channel-webhook", "infertel-health", "infertel-health-check_0", "infertel-remediation-scale_up",
    "infertel-scheduler", "infertel-stats-fold", "infertel-stream-reaper",
}  # fmt: skip
DURABLE = {
    f"infertel-durable-{signal}-{role}" for signal in ("traces", "metrics", "logs") for role in ("writer", "sender")
}


@pytest.mark.parametrize("mode", ["otlp", "store"])
def test_background_threads_import_nothing(tmp_path: Path, mode: str) -> None:
    done = subprocess.run(
        [sys.executable, str(APP), str(tmp_path), "2.5", mode], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    expected_threads = COMPONENTS | (DURABLE if mode == "otlp" else set())

    assert {
        "loaded_on": report["loaded_on"],
        "missing_threads": sorted(expected_threads - set(report["started"])),
        "shutdown": report["shutdown"],
        "notified": report["notified"],
        "received": report["received"],
    } == {
        "loaded_on": {},
        "missing_threads": [],
        "shutdown": True,
        "notified": True,
        "received": ["/alerts", "/scale", *(["/v1/logs", "/v1/metrics", "/v1/traces"] if mode == "otlp" else [])],
    }
