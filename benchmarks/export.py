"""Export throughput: 200,000 spans from one thread to a real local OTLP receiver, ours vs the stock SDK.

    .venv/bin/python benchmarks/export.py [--spans 200000] [--protocols grpc,http]

The receiver (tests/exporters/durable/durable_receiver.py) is a separate process on 127.0.0.1
that decodes every OTLP request (HTTP/protobuf and gRPC) and counts the spans and their unique
ids. Each configuration runs in its own child process, one after the other:

- ``otel-defaults``: ``BatchSpanProcessor(OTLPSpanExporter())`` with every SDK default
  (2,048-span queue, 512-span batches, 5 s schedule delay).
- ``otel-same``: the stock ``BatchSpanProcessor(OTLPSpanExporter())`` with the queue and batch
  settings of ours (65,536-span queue, 4,096-span batches, 500 ms schedule delay): the fair
  baseline, since a bigger queue alone already avoids most of the defaults' drops.
- ``infertel``: ``DurableBatchSpanProcessor(DurableSpanExporter(OTLPSpanExporter()))`` with its
  defaults (65,536-span bounded queue, 4,096-span batches encoded on the writer thread, spooled,
  delivered by the sender thread).

One thread ends spans as fast as it can (a GenAI-like span with 8 attributes), then
``force_flush()`` is called. Reported: spans/s produced; spans received by the collector and
unique; dropped = produced - received; delivered spans/s = received / (time of the last
arrival - start); ``force_flush()``'s answer; and what each costs the producer: CPU µs per span
on the producing thread while it ends spans (``time.thread_time``), and CPU µs per span of the
whole process from the first span until the last one arrived (every thread: batching, encoding,
sending; the receiver is another process). Ratios are to ``otel-same`` (and to ``otel-defaults``)
measured in the same run, on the same machine (2 shared cores here: absolute figures are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "exporters" / "durable"))

from durable_receiver import Receiver  # noqa: E402

SETUPS = ("otel-defaults", "otel-same", "infertel")
SAME_AS_OURS = {"max_queue_size": 65_536, "max_export_batch_size": 4_096, "schedule_delay_millis": 500}
"""Queue and batch settings of ``otel-same`` and ``infertel`` alike (DurableSpanExporter's defaults for spans)."""


def _child(config: dict[str, Any]) -> dict[str, Any]:
    from urllib.request import urlopen

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if config["protocol"] == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        inner: Any = OTLPSpanExporter(endpoint=config["grpc_endpoint"], insecure=True)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        inner = HttpExporter(endpoint=config["http_endpoint"])
    provider = TracerProvider(resource=Resource.create({"service.name": "export-benchmark"}))
    durable = None
    if config["setup"] == "infertel":
        from infertel_exporters.durable import DurableBatchSpanProcessor, DurableSpanExporter

        # Its defaults, spelled out so that otel-same is sure to get the very same settings.
        durable = DurableSpanExporter(
            inner,
            spool_dir=config["spool_dir"],
            max_queue_items=SAME_AS_OURS["max_queue_size"],
            max_batch_items=SAME_AS_OURS["max_export_batch_size"],
            schedule_delay_millis=SAME_AS_OURS["schedule_delay_millis"],
        )
        provider.add_span_processor(DurableBatchSpanProcessor(durable))
    elif config["setup"] == "otel-same":
        provider.add_span_processor(BatchSpanProcessor(inner, **SAME_AS_OURS))  # type: ignore[arg-type]
    else:
        provider.add_span_processor(BatchSpanProcessor(inner))

    def received() -> int:
        with urlopen(config["stats_url"], timeout=10) as response:
            return int(json.loads(response.read())["unique"])

    tracer = provider.get_tracer("benchmark")
    n = config["spans"]
    before = received()
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "llama-3-8b",
        "gen_ai.provider.name": "vllm",
        "gen_ai.usage.input_tokens": 128,
        "gen_ai.usage.output_tokens": 256,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.stream": True,
        "server.address": "127.0.0.1",
    }
    cpu0, thread0 = time.process_time(), time.thread_time()
    start = time.perf_counter()
    for _ in range(n):
        tracer.start_span("chat llama-3-8b", attributes=attributes).end()
    produced_s = time.perf_counter() - start
    thread_cpu = time.thread_time() - thread0
    flushed = provider.force_flush(180_000)
    # Wait for the count to stop moving (or reach n); remember when it last moved.
    last, last_change = received() - before, time.perf_counter()
    while last < n and time.perf_counter() - last_change < 2.0:
        time.sleep(0.05)
        now = received() - before
        if now != last:
            last, last_change = now, time.perf_counter()
    process_cpu = time.process_time() - cpu0
    dropped_metric = sum(durable.dropped.values()) if durable is not None else None
    provider.shutdown()
    return {
        "setup": config["setup"],
        "protocol": config["protocol"],
        "produced": n,
        "produced_per_s": n / produced_s,
        "received": last,
        "dropped": n - last,
        "delivered_per_s": last / (last_change - start),
        "force_flush": flushed,
        "dropped_metric": dropped_metric,
        "thread_cpu_us": thread_cpu / n * 1e6,
        "process_cpu_us": process_cpu / n * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--protocols", default="grpc,http")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    receiver = Receiver()
    results = []
    try:
        for protocol in args.protocols.split(","):
            for setup in SETUPS:
                with tempfile.TemporaryDirectory(prefix="infertel-bench-spool-") as spool:
                    config = {
                        "setup": setup,
                        "protocol": protocol,
                        "spans": args.spans,
                        "spool_dir": spool,
                        "grpc_endpoint": receiver.grpc_endpoint,
                        "http_endpoint": f"{receiver.http_base}/v1/traces",
                        "stats_url": f"{receiver.http_base}/stats",
                    }
                    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
                    out = subprocess.run(
                        [sys.executable, __file__, "--child", json.dumps(config)],
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=600,
                        check=True,
                    ).stdout
                    result = json.loads(out.strip().splitlines()[-1])
                    results.append(result)
                    print(
                        f"{setup:>13} {protocol:>4}: produced {result['produced_per_s']:>8,.0f}/s  "
                        f"received {result['received']:>7,}  dropped {result['dropped']:>6,}  "
                        f"delivered {result['delivered_per_s']:>8,.0f}/s  force_flush={result['force_flush']}  "
                        f"CPU µs/span: producer thread {result['thread_cpu_us']:.1f}, "
                        f"process {result['process_cpu_us']:.1f}",
                        flush=True,
                    )
        duplicates = receiver.stats()["duplicates"]
    finally:
        receiver.stop()
    print()
    print("ratios infertel / baseline (same run; delivered/s: higher is better; CPU: lower is better)")
    print(
        f"{'protocol':<8} {'baseline':<14} {'delivered/s':>12} {'producer CPU':>13} {'process CPU':>12}"
        f" {'drops baseline':>15} {'drops ours':>11}"
    )
    for protocol in args.protocols.split(","):
        ours = next(r for r in results if r["protocol"] == protocol and r["setup"] == "infertel")
        for baseline in ("otel-same", "otel-defaults"):
            base = next(r for r in results if r["protocol"] == protocol and r["setup"] == baseline)
            print(
                f"{protocol:<8} {baseline:<14} {ours['delivered_per_s'] / base['delivered_per_s']:>11.2f}x"
                f" {ours['thread_cpu_us'] / base['thread_cpu_us']:>12.2f}x"
                f" {ours['process_cpu_us'] / base['process_cpu_us']:>11.2f}x"
                f" {base['dropped']:>15,} {ours['dropped']:>11,}"
            )
    print(f"duplicate span ids seen by the receiver: {duplicates}")


if __name__ == "__main__":
    main()
