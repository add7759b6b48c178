"""A steady span producer process for the outage tests (tests/integration/test_outage.py).

    python durable_producer.py CONFIG_JSON

CONFIG: ``endpoint`` (OTLP/HTTP traces URL), ``mode`` (``durable`` or ``plain``: the OTel SDK
defaults, BatchSpanProcessor + OTLPSpanExporter), ``spool_dir``, ``rate`` (spans/s), ``project``
(Phoenix project), ``ids_path`` (one ``trace_id span_id`` hex line per ended span, written before
the span is ended so a SIGKILL never hides a produced span), ``status_path`` (JSON with the
exporter's counters, rewritten every 0.2 s), ``stop_path`` (the producer stops, flushes and exits
once that file exists).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from infertel_exporters.durable import DurableBatchSpanProcessor, DurableSpanExporter


def main() -> None:
    config = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s producer %(levelname)s %(name)s: %(message)s")
    resource = Resource.create({"service.name": "outage-producer", "openinference.project.name": config["project"]})
    provider = TracerProvider(resource=resource)
    inner = OTLPSpanExporter(endpoint=config["endpoint"], timeout=2)
    durable: DurableSpanExporter | None = None
    if config["mode"] == "durable":
        durable = DurableSpanExporter(
            inner, spool_dir=config["spool_dir"], backoff_max_s=2.0, write_through=config.get("write_through", False)
        )
        provider.add_span_processor(DurableBatchSpanProcessor(durable))
    else:
        provider.add_span_processor(BatchSpanProcessor(inner))
    tracer = provider.get_tracer("outage-producer")
    ids = Path(config["ids_path"]).open("a", buffering=1)
    status_path = Path(config["status_path"])
    stop_path = Path(config["stop_path"])
    interval = 1.0 / config["rate"]
    next_at = time.monotonic()
    last_status = 0.0
    produced = 0

    def write_status() -> None:
        status = {"produced": produced, "pid": os.getpid()}
        if durable is not None:
            status.update(delivered=durable.delivered, backlog=durable.backlog, dropped=durable.dropped)
        tmp = status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status))
        os.replace(tmp, status_path)

    while not stop_path.exists():
        span = tracer.start_span("outage-step", attributes={"step": produced})
        ctx = span.get_span_context()
        ids.write(f"{ctx.trace_id:032x} {ctx.span_id:016x}\n")
        span.end()
        produced += 1
        if time.monotonic() - last_status > 0.2:
            write_status()
            last_status = time.monotonic()
        next_at += interval
        time.sleep(max(next_at - time.monotonic(), 0))
    flushed = provider.force_flush(60_000)
    write_status()
    provider.shutdown()
    status = json.loads(status_path.read_text())
    status["flushed"] = flushed
    status_path.write_text(json.dumps(status))


if __name__ == "__main__":
    main()
