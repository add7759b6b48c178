"""Throughput and latency of examples/serve.py with and without zero-code instrumentation.

Each configuration starts the example server in its own process on 127.0.0.1 and drives it from
a SECOND process (an asyncio + httpx load generator: fixed concurrency, bounded request count and
time), alternating non-streamed and streamed (SSE, ``include_usage``) chat completions:

* ``plain``: ``python examples/serve.py`` (infertel not configured: its in-process spans are no-ops)
* ``otel+infertel (no infertel_fastapi)``: under ``opentelemetry-instrument`` with our FastAPI
  instrumentation disabled (infertel's distro + configurator, contrib FastAPI spans, infertel
  inference spans), exporting OTLP/HTTP to a local sink process
* ``zero-code (all)``: the same with ``infertel_fastapi`` on

Configurations are interleaved over ``--rounds`` rounds and the median is reported, for two
scenarios: ``latency-bound`` (the engine sleeps like a model decoding 100 tokens/s: 50 ms to
first token, 10 ms per token) and ``cpu-bound`` (no engine latency: the worst case for relative overhead). Prints
requests/s, p50/p99 latency and ratios to ``plain`` measured in the same run.

    .venv/bin/python benchmarks/server.py            # about 4 minutes
    .venv/bin/python benchmarks/server.py --quick    # about 1 minute
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SERVE = REPO / "examples" / "serve.py"
INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")
MAX_TOKENS = 16

SCENARIOS = {"latency-bound": ("50", "10"), "cpu-bound": ("0", "0")}
CONFIGS = ("plain", "otel+infertel (no infertel_fastapi)", "zero-code (all)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the OTLP/HTTP sink (a stand-in collector that accepts and discards) ---------------------------
class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server API)
        return


def run_sink(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _Sink).serve_forever()


# --- the load generator (second process) --------------------------------------------------------
async def _load(url: str, concurrency: int, requests: int, duration_s: float, server_pid: int) -> dict[str, Any]:
    import httpx
    import psutil

    server = psutil.Process(server_pid)

    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = 0.0
    body = {
        "model": "synthetic-llm",
        "messages": [{"role": "user", "content": "benchmark prompt"}],
        "max_tokens": MAX_TOKENS,
    }
    stream_body = body | {"stream": True, "stream_options": {"include_usage": True}}

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors, issued
        while issued < requests and time.perf_counter() < deadline:
            issued += 1
            streamed = issued % 2 == 0
            start = time.perf_counter()
            try:
                if streamed:
                    async with client.stream("POST", url, json=stream_body) as response:
                        async for _ in response.aiter_raw():
                            pass
                        ok = response.status_code == 200
                else:
                    response = await client.post(url, json=body)
                    ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _ in range(2):  # warm-up, not measured
            await asyncio.gather(*(client.post(url, json=body) for _ in range(concurrency)))
        cpu_before = sum(server.cpu_times()[:2])
        started = time.perf_counter()
        deadline = started + duration_s
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu_s = sum(server.cpu_times()[:2]) - cpu_before
    latencies.sort()
    return {
        "completed": len(latencies),
        "errors": errors,
        "elapsed_s": elapsed,
        "rps": len(latencies) / elapsed,
        "cpu_ms_per_request": 1000 * cpu_s / max(len(latencies), 1),
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan"),
    }


# --- orchestration ------------------------------------------------------------------------------
def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def measure(config: str, scenario: str, sink_port: int, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    ttft_ms, token_ms = SCENARIOS[scenario]
    command = [sys.executable, str(SERVE), "--port", str(port), "--ttft-ms", ttft_ms, "--token-ms", token_ms]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_", "PYTHONPATH"))}
    if config != "plain":
        command = [str(INSTRUMENT), *command]
        disabled = ["infertel_transformers"] + (["infertel_fastapi"] if "no infertel_fastapi" in config else [])
        env.update(
            OTEL_PYTHON_DISTRO="infertel",  # opentelemetry-distro may be installed beside infertel
            OTEL_SERVICE_NAME="infertel-benchmark-server",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{sink_port}",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=",".join(disabled),
        )
    server = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(port, server)
        load = subprocess.run(
            [
                sys.executable,
                __file__,
                "--role",
                "loadgen",
                "--url",
                f"http://127.0.0.1:{port}/v1/chat/completions",
                "--concurrency",
                str(args.concurrency),
                "--requests",
                str(args.requests),
                "--duration",
                str(args.duration),
                "--server-pid",
                str(server.pid),
            ],
            capture_output=True,
            text=True,
            timeout=args.duration + 120,
            check=True,
        )
        return dict(json.loads(load.stdout.strip().splitlines()[-1]))
    finally:
        _stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--role", choices=["bench", "loadgen", "sink"], default="bench")
    parser.add_argument("--url", default="")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=4000, help="at most this many requests per measurement")
    parser.add_argument("--duration", type=float, default=8.0, help="at most this many seconds per measurement")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="1 round of 6 s")
    args = parser.parse_args()
    if args.role == "loadgen":
        load = _load(args.url, args.concurrency, args.requests, args.duration, args.server_pid)
        print(json.dumps(asyncio.run(load)))
        return
    if args.role == "sink":
        run_sink(args.port)
        return
    if args.quick:
        args.rounds, args.duration = 1, 6.0

    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--role", "sink", "--port", str(sink_port)])
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        for scenario in SCENARIOS:
            for _ in range(args.rounds):
                for config in CONFIGS:
                    results.setdefault((scenario, config), []).append(measure(config, scenario, sink_port, args))
    finally:
        _stop(sink)

    print(
        f"examples/serve.py, concurrency {args.concurrency}, {args.rounds} round(s) of <= {args.duration:.0f} s, "
        f"alternating stream/non-stream chat, {MAX_TOKENS} tokens. Medians over rounds; ratios are paired "
        "per round (each configuration against the plain run next to it). Server CPU per request is the "
        "noise-robust figure on a shared machine."
    )
    for scenario in SCENARIOS:
        print(f"\n[{scenario}] engine ttft {SCENARIOS[scenario][0]} ms, {SCENARIOS[scenario][1]} ms/token")
        header = f"{'configuration':<38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} {'errors':>6}"
        print(header + f" {'req/s vs plain':>15} {'CPU vs plain':>13}")
        plain = results[(scenario, "plain")]
        for config in CONFIGS:
            runs = results[(scenario, config)]
            rps_ratio = statistics.median(r["rps"] / p["rps"] for r, p in zip(runs, plain, strict=True))
            cpu_ratio = statistics.median(
                r["cpu_ms_per_request"] / p["cpu_ms_per_request"] for r, p in zip(runs, plain, strict=True)
            )
            print(
                f"{config:<38} {statistics.median(r['rps'] for r in runs):>8.1f} "
                f"{statistics.median(r['p50_ms'] for r in runs):>8.2f} "
                f"{statistics.median(r['p99_ms'] for r in runs):>8.2f} "
                f"{statistics.median(r['cpu_ms_per_request'] for r in runs):>10.3f} "
                f"{sum(r['errors'] for r in runs):>6} {rps_ratio:>14.3f}x {cpu_ratio:>12.3f}x"
            )
        ours, without = results[(scenario, CONFIGS[2])], results[(scenario, CONFIGS[1])]
        rps_cost = 1 - statistics.median(r["rps"] / p["rps"] for r, p in zip(ours, plain, strict=True))
        fastapi_cpu = statistics.median(
            r["cpu_ms_per_request"] - w["cpu_ms_per_request"] for r, w in zip(ours, without, strict=True)
        )
        print(
            f"throughput cost of zero-code instrumentation: {100 * rps_cost:.1f}%; "
            f"infertel_fastapi alone adds {1000 * fastapi_cpu:.0f} us of server CPU per request"
        )


if __name__ == "__main__":
    main()
