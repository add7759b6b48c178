from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from infertel_exporters.sqlite import SQLiteMetricExporter, SQLiteSpanExporter, SQLiteStore

WRITER = r"""
import sys, time, os
sys.path.insert(0, sys.argv[3])
from conftest import make_span
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from infertel_exporters.sqlite import Retention, SQLiteMetricExporter, SQLiteSpanExporter

db, index, go = sys.argv[1], int(sys.argv[2]), sys.argv[4]
# tiny retention interval: housekeeping of three processes runs while they all write
spans = SQLiteSpanExporter(db, retention=Retention(max_age_s=3600, interval_s=0.01), timeout_millis=20000)
metrics = SQLiteMetricExporter(db, timeout_millis=20000)
reader = InMemoryMetricReader()
provider = MeterProvider(metric_readers=[reader])
counter = provider.get_meter("t").create_counter("requests")
while not os.path.exists(go):
    time.sleep(0.005)
now = time.time_ns()
for batch in range(20):
    rows = [make_span(batch * 100 + i, now + i, trace_base=index + 1) for i in range(100)]
    assert spans.export(rows).name == "SUCCESS"
    for i in range(10):
        counter.add(1, {"process": index, "i": i})
    assert metrics.export(reader.get_metrics_data()).name == "SUCCESS"
spans.shutdown()
metrics.shutdown()
provider.shutdown()
"""


def test_three_processes_write_one_file(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    go = tmp_path / "go"
    here = str(Path(__file__).parent)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, db, str(i), here, str(go)], stderr=subprocess.PIPE, text=True)
        for i in range(3)
    ]
    try:
        time.sleep(1.0)  # let all three import and open the file (schema creation races too)
        go.write_text("go")
        errors = [p.communicate(timeout=120)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    with SQLiteStore(db) as store:
        counts = store.counts()
        assert counts["spans"] == 3 * 20 * 100
        assert counts["metric_points"] == 3 * 20 * 10
        for index in range(3):
            points = store.metric_series("requests", attributes={"process": index, "i": 0})
            assert [p.value for p in points] == list(range(1, 21))
        assert len({s.trace_id[:16] for s in store.spans(limit=None)}) == 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_exporter_survives_fork_like_prefork_servers(tmp_path: Path, span_factory) -> None:
    # uvicorn/gunicorn workers are forked after configure(): the child must open its own connection.
    db = str(tmp_path / "forked.db")
    exporter = SQLiteSpanExporter(db, retention=None)
    now = time.time_ns()
    assert exporter.export([span_factory(i, now, trace_base=1) for i in range(10)]).name == "SUCCESS"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a multi-threaded process (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        ok = exporter.export([span_factory(i, now, trace_base=2) for i in range(10)]).name == "SUCCESS"
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert exporter.export([span_factory(i, now, trace_base=3) for i in range(10)]).name == "SUCCESS"
    exporter.shutdown()
    with SQLiteStore(db) as store:
        assert store.counts()["spans"] == 30


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_child_forked_while_another_thread_writes_can_write(tmp_path: Path, span_factory) -> None:
    # SQLite keeps a process' locks in the process: a child forked in the middle of another thread's
    # transaction inherited that record, with no connection to release it, and every write of the
    # child timed out, or hung on SQLite's allocator mutex (38 of these 40 forks failed on the code before the
    # before-fork hook).
    exporter = SQLiteSpanExporter(str(tmp_path / "busy.db"), retention=None, timeout_millis=1000)
    now = time.time_ns()
    batches = [[span_factory(k * 50 + i, now, trace_base=k + 10) for i in range(50)] for k in range(20)]
    written = [0]
    stop = threading.Event()

    def write() -> None:  # a batch processor's thread, exporting back to back
        while not stop.is_set():
            assert exporter.export(batches[written[0] % 20]).name == "SUCCESS"
            written[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    failed = []
    try:
        for k in range(40):
            time.sleep(0.002 + (k % 7) * 0.0005)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a multi-threaded process (3.12+)
                pid = os.fork()
            if pid == 0:
                signal.alarm(20)  # a child that hangs (SQLite's own mutex held at the fork) dies and counts as failed
                code = 1
                try:
                    code = (
                        0
                        if exporter.export([span_factory(i, now, trace_base=1000 + k) for i in range(5)]).name
                        == "SUCCESS"
                        else 3
                    )
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                failed.append(k)
    finally:
        stop.set()
        writer.join()
    exporter.shutdown()
    assert failed == []
    assert written[0] >= 40  # the forks did land among the writer's transactions
    with SQLiteStore(tmp_path / "busy.db", read_only=True) as store:
        assert store.counts()["spans"] == 1000 + 40 * 5


def test_a_forked_child_closes_the_shared_store_only_with_its_last_exporter(tmp_path: Path, span_factory) -> None:
    # The child shuts down its metric exporter first (the MeterProvider's shutdown runs in the flush
    # phase of infertel.shutdown()); its span exporter, sharing the store, must still write.
    db = str(tmp_path / "forked-shared.db")
    spans, metrics = SQLiteSpanExporter(db, retention=None), SQLiteMetricExporter(db, retention=None)
    now = time.time_ns()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        metrics.shutdown()
        ok = spans.export([span_factory(i, now, trace_base=4) for i in range(5)]).name == "SUCCESS"
        spans.shutdown()
        os._exit(0 if ok and spans.store._closed else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    metrics.shutdown()
    assert spans.export([span_factory(i, now, trace_base=5) for i in range(5)]).name == "SUCCESS"
    spans.shutdown()
    with SQLiteStore(db) as store:
        assert store.counts()["spans"] == 10
