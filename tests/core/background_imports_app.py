"""An application with every background component of infertel running; prints what they imported.

Run by tests/core/test_background_imports.py in a fresh interpreter: ``python background_imports_app.py
TMP_DIR SECONDS otlp|store``. An audit hook records every module loaded on a thread other than the main one
(the receiver's own threads excepted): an import on a background thread is the fork hazard (a
``fork()`` while it runs leaves the child's lock of that module held, and the child's first import
of it hangs), so the list must be empty. The names of the threads started are printed too, so the
test can check that each component really ran.

The components: spans, metrics and logs to the embedded store and (``otlp``), through the durable
spool, over OTLP/HTTP to a real HTTP receiver on 127.0.0.1; the statistics fold; resource metrics (NVML when
nvidia-ml-py is installed) collected by the periodic reader and by a Prometheus scrape; the stream
reaper; alert rules evaluated on the engine's thread, notified to a webhook and a callable, with a
remediation action; a scheduler running ``clean_spool`` and ``compact_store``; the health registry
with every built-in check.
"""

from __future__ import annotations

import gc
import http.server
import json
import logging
import os
import sys
import threading
import time
import urllib.request
from typing import Any

loaded_on: dict[str, list[str]] = {}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "import":
        thread = threading.current_thread()
        if thread is not threading.main_thread() and not thread.name.startswith("receiver"):
            loaded_on.setdefault(thread.name, []).append(args[0])


sys.addaudithook(_audit)
started: set[str] = set()
_start = threading.Thread.start


def _record_start(self: threading.Thread) -> None:
    started.add(self.name)
    _start(self)


threading.Thread.start = _record_start  # type: ignore[method-assign]

received: dict[str, int] = {}


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        received[self.path] = received.get(self.path, 0) + 1
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), name="receiver-request", daemon=True
        )
        worker.start()


server = _Server(("127.0.0.1", 0), _Receiver)
threading.Thread(target=server.serve_forever, name="receiver", daemon=True).start()
receiver = f"http://127.0.0.1:{server.server_address[1]}"

tmp, seconds, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
os.environ.update(INFERTEL_STORE_PATH=f"{tmp}/store.db", INFERTEL_SPOOL_DIR=f"{tmp}/spool",
                  OTEL_BSP_SCHEDULE_DELAY="100", OTEL_BLRP_SCHEDULE_DELAY="100")  # fmt: skip
if mode == "otlp":
    os.environ.update({f"OTEL_{signal}_EXPORTER": "otlp,infertel_store" for signal in ("TRACES", "METRICS", "LOGS")})
    os.environ.update(OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf", OTEL_EXPORTER_OTLP_ENDPOINT=receiver)

import infertel  # noqa: E402
from infertel.alerting import AlertingConfig, Receiver, Route, ThresholdRule, current_engine  # noqa: E402
from infertel.alerting.channels import CallableChannel, WebhookChannel  # noqa: E402
from infertel.alerting.remediation import scale_request  # noqa: E402
from infertel.alerting.schedule import Scheduler, clean_spool, compact_store  # noqa: E402
from infertel.health import default_registry  # noqa: E402

notified: list[Any] = []
alerting = AlertingConfig(
    rules=[
        ThresholdRule("Busy", signal="requests_per_s", op=">=", threshold=0.0, window_s=60,
                      actions=[scale_request(f"{receiver}/scale")]),
        ThresholdRule("Cpu", signal="cpu_utilization", op=">=", threshold=0.0),
        ThresholdRule("GpuMemory", signal="gpu_memory_utilization", op=">=", threshold=0.0),
    ],
    interval_s=0.1,
    route=Route(receiver="team", group_wait_s=0.0, group_interval_s=0.1, repeat_interval_s=0.2),
    receivers=[Receiver("team", channels=[WebhookChannel(f"{receiver}/alerts"), CallableChannel(notified.append)])],
)  # fmt: skip
infertel.configure(service_name="background-imports", alert_rules=alerting, prometheus_port=0,
                   metric_export_interval_millis=200, export_logs=True)  # fmt: skip
logging.getLogger("app").setLevel(logging.INFO)
registry = default_registry(gpu=True)
registry.start()
scheduler = Scheduler(engine=current_engine())
scheduler.add("spool", clean_spool(), every_s=0.2)
scheduler.add("compact", compact_store(f"{tmp}/store.db"), every_s=0.3)
scheduler.start()


@infertel.observe(model="m", operation="chat", provider="p")
def call(i: int) -> dict[str, Any]:
    if i % 5 == 0:
        raise ValueError("upstream")
    if i == 1:
        logging.getLogger("app").info("call %d", i)  # the exporting handler on the root logger takes it
    return {"usage": {"prompt_tokens": 3, "completion_tokens": 4}, "model": "m"}


@infertel.observe(model="m", operation="chat", provider="p")
def stream(n: int) -> Any:
    yield from (f"t{i}" for i in range(n))


deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    for i in range(20):
        try:
            call(i)
        except ValueError:
            pass
    abandoned = stream(10)
    next(abandoned)
    del abandoned  # the reaper thread ends its span
    gc.collect()
    list(stream(5))
    time.sleep(0.1)
from infertel._internal import configure as _configure  # noqa: E402

scrape = _configure._active.extras["prometheus"]  # type: ignore[union-attr]
urllib.request.urlopen(f"http://{scrape.host}:{scrape.port}/metrics", timeout=10).read()  # collected on its thread
registry.refresh()
scheduler.shutdown()
registry.stop()
shutdown = infertel.shutdown(timeout_millis=10_000)
print(json.dumps({
    "loaded_on": loaded_on,
    "started": sorted(started),
    "shutdown": shutdown,
    "notified": bool(notified),
    "received": sorted(received),
}))  # fmt: skip
