"""A process that shuts down last delivers what its gone siblings left in their spool lanes.

Prefork servers: gunicorn's uvicorn workers end by a re-raised SIGTERM with the default action,
which skips their exit flush; the master outlives them. Here a worker process spools spans while
the collector refuses them and is then killed; the long-running "master" exporter, whose own sender
last looked for orphan lanes before the worker died (the periodic look comes every 30 s), delivers
the worker's spans when it shuts down.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from durable_receiver import Receiver
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

from infertel_exporters.durable import DurableSpanExporter

_WORKER = r"""
import json, os, signal, sys, time
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from infertel_exporters.durable import DurableBatchSpanProcessor, DurableSpanExporter

exporter = DurableSpanExporter(OTLPSpanExporter(endpoint=sys.argv[1], timeout=2), spool_dir=sys.argv[2])
provider = TracerProvider()
provider.add_span_processor(DurableBatchSpanProcessor(exporter))
tracer = provider.get_tracer("worker")
for i in range(25):
    tracer.start_span("worker-span").end()
deadline = time.monotonic() + 20
while time.monotonic() < deadline and not any(p.stat().st_size for p in exporter.spool_directory.glob("*.seg")):
    time.sleep(0.02)
time.sleep(0.6)  # the writer's schedule delay: all 25 in the segment
os.write(1, (json.dumps({"lane": str(exporter.spool_directory), "backlog": exporter.backlog}) + "\n").encode())
os.kill(os.getpid(), signal.SIGKILL)  # no exit flush, as a signal with its default action
"""


def test_the_last_process_delivers_the_lanes_of_gone_siblings(fresh_receiver: Receiver, tmp_path: Path) -> None:
    endpoint = f"{fresh_receiver.http_base}/v1/traces"
    master = DurableSpanExporter(HttpSpanExporter(endpoint=endpoint, timeout=2), spool_dir=tmp_path)
    assert master.spool_directory is not None and master.spool_directory.name == "lane-0"
    fresh_receiver.set_mode("503")  # the worker's spans stay in its spool
    worker = subprocess.run(
        [sys.executable, "-c", _WORKER, endpoint, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert worker.returncode == -9, worker.stderr
    report = json.loads(worker.stdout.splitlines()[-1])
    assert report == {"lane": str(tmp_path / "traces" / "lane-1"), "backlog": 25}
    fresh_receiver.set_mode("ok")
    before = fresh_receiver.stats()

    master.shutdown(timeout_millis=10_000)

    after = fresh_receiver.stats()
    assert (after["spans"] - before["spans"], after["duplicates"] - before["duplicates"]) == (25, 0)
    assert master.delivered == 25
    assert not [p for p in (tmp_path / "traces" / "lane-1").glob("*.seg") if p.stat().st_size]
