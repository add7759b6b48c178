"""SIGTERM: the flush runs on a helper thread, then SIGTERM's default action ends the process.

Each test runs a real Python process and sends it a real SIGTERM. The handler interrupts the main
thread wherever it is, possibly inside a critical section: it must only hand the flush over, so
that the interrupted thread can leave its lock, and the flush must still store everything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from infertel import semconv
from infertel_exporters.sqlite import SQLiteStore

INDEX = "test.index"

_STRESS_CHILD = """
import gc, sys, threading, time
import infertel
from infertel._internal import configure as configure_module
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

store, progress = sys.argv[1], sys.argv[2]
reader = InMemoryMetricReader()
infertel.configure(store_path=store, meter_provider=MeterProvider(metric_readers=[reader]), resource_metrics=False)

def body(i):
    infertel.current_inference().set_attribute("test.index", i)
    yield from range(5)

observed = [infertel.observe(model=f"m{k}", operation="chat")(body) for k in range(20)]

stopped = threading.Event()

def read():
    while not stopped.is_set():
        reader.get_metrics_data()  # collections run here too, inside the SDK's locked sections

threading.Thread(target=read, daemon=True).start()
gc.set_threshold(20)
created = 0
while configure_module.active_settings() is not None:  # until SIGTERM's flush begins, as an application would
    stream = observed[created % 20](created)
    next(stream)
    holder = [stream]
    holder.append(holder)  # abandoned in a cycle: the garbage collector finalizes it, on either thread
    del stream, holder
    created += 1
    if created == 2000:
        print("ready", flush=True)
stopped.set()  # the application winds down while the flush runs
gc.set_threshold(700, 10, 10)
with open(progress, "w") as f:
    f.write(str(created))
while True:
    time.sleep(0.1)
"""


def _run_until_ready(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        _, stderr = proc.communicate(timeout=30)
        pytest.fail(f"the child did not get ready: {line!r} {stderr}")
    return proc


def _spans(store: Path) -> list[Any]:
    with SQLiteStore(str(store)) as opened:  # closed: Python 3.13 warns about an unclosed connection
        return opened.spans(0, 2**63 - 1, limit=None)


@pytest.mark.timeout(180)
def test_sigterm_while_thousands_of_streams_are_abandoned_and_a_reader_collects(tmp_path: Path) -> None:
    store, progress = tmp_path / "stress.db", tmp_path / "created"
    # Streams are made faster than SQLite takes them: a queue that holds them all, so that what is checked
    # here is the flush on SIGTERM (the BatchSpanProcessor's own bound, 2048 by default, drops the rest).
    proc = _run_until_ready(_STRESS_CHILD, str(store), str(progress), env={"OTEL_BSP_MAX_QUEUE_SIZE": "100000"})
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=60)  # a deadlock would hang here
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGTERM, stderr
    assert time.monotonic() - start < 15
    for trouble in ("incomplete", "lost", "Traceback", "internal error"):
        assert trouble not in stderr
    created = int(progress.read_text())
    assert created >= 2000
    spans = _spans(store)
    indexed = sorted(s.attributes[INDEX] for s in spans if INDEX in s.attributes)
    # Every stream made before the flush began is stored, once; only the one being made as it began may miss.
    missing = sorted(set(range(created)) - set(indexed))
    assert missing in ([], [created - 1]), (created, missing, stderr)
    assert len(indexed) == len(set(indexed))  # and none twice
    assert len(spans) - len(indexed) <= 1
    reasons = {s.attributes[semconv.INFERTEL_STREAM_END_REASON] for s in spans}
    assert reasons <= {semconv.STREAM_END_ABANDONED, semconv.STREAM_END_SHUTDOWN}


_LOCK_HELD_CHILD = """
import os, signal, sys, threading, time
import infertel
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor

lock = threading.Lock()

class Locking(SpanProcessor):  # a processor that takes a lock, as the SDK's and infertel's do
    def on_end(self, span):
        with lock:
            pass

    def force_flush(self, timeout_millis=30000):  # the base class returns None before SDK 1.39: "failed"
        return True

infertel.configure(store_path=sys.argv[1], resource_metrics=False)
trace.get_tracer_provider().add_span_processor(Locking())

def tokens():
    yield from "abc"

held = infertel.observe(model="m", operation="chat")(tokens)()
next(held)
print("ready", flush=True)
with lock:
    os.kill(os.getpid(), signal.SIGTERM)  # the handler runs on this thread, which holds `lock`
    time.sleep(1.0)  # meanwhile the flush, which needs `lock` to end the stream, waits
while True:
    time.sleep(0.1)
"""


@pytest.mark.timeout(60)
def test_sigterm_while_the_interrupted_thread_holds_a_lock_the_flush_needs(tmp_path: Path) -> None:
    store = tmp_path / "locked.db"
    proc = _run_until_ready(_LOCK_HELD_CHILD, str(store))
    try:
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGTERM, stderr
    assert "infertel" not in stderr
    (span,) = _spans(store)
    assert (span.name, span.attributes[semconv.INFERTEL_STREAM_END_REASON]) == ("chat m", semconv.STREAM_END_SHUTDOWN)


_FORKED_CHILD = """
import os, signal, sys, time
import infertel

infertel.configure(store_path=sys.argv[1], resource_metrics=False)

def tokens():
    yield from "abc"

pid = os.fork()
if pid == 0:
    held = infertel.observe(model="child", operation="chat")(tokens)()
    next(held)
    os.kill(os.getpid(), signal.SIGTERM)  # handled by the child's own helper thread
    while True:
        time.sleep(0.1)
_, status = os.waitpid(pid, 0)
print(os.getpid(), pid, os.waitstatus_to_exitcode(status), flush=True)
infertel.observe(model="parent", operation="chat")(lambda: "ok")()
"""


@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")
def test_a_forked_child_flushes_its_own_streams_on_sigterm(tmp_path: Path) -> None:
    store = tmp_path / "forked.db"
    proc = subprocess.run([sys.executable, "-c", _FORKED_CHILD, str(store)], timeout=60, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    parent_pid, child_pid, child_exit = (int(x) for x in proc.stdout.split())
    assert child_exit == -signal.SIGTERM
    spans = sorted(_spans(store), key=lambda s: s.model)
    reason = semconv.INFERTEL_STREAM_END_REASON
    assert [(s.model, s.attributes.get(reason), s.resource["process.pid"]) for s in spans] == [
        ("child", semconv.STREAM_END_SHUTDOWN, child_pid),
        ("parent", None, parent_pid),
    ]
