"""Health probes under load: /livez, /readyz and /startupz answer in at most 2 ms p99 under 200 concurrent probes.

A real uvicorn server (its own process, one worker, h11) serves a FastAPI app with
``infertel.health.router`` over the default registry (every built-in check plus a gate) and, as
the fair baseline in the same app, a route answering a constant ``b"ok"`` with FastAPI's
smallest response. 200 concurrent probers (200 HTTP/1.1 keep-alive connections, a light asyncio
client so that the client's own CPU disturbs the server little) send requests back to back,
round-robin over the three probes (and separately to the baseline).

Two figures per endpoint:

* **server time**, the criterion: from the moment uvicorn hands the request to the application
  to the last byte handed back (an outermost ASGI middleware measures it in the server), p50/p99;
* **client latency**: what each prober waits, p50/p99. With 200 requests in flight on one
  event loop this is mostly queueing (Little's law: in-flight / throughput), so it is reported
  with the throughput and the same figure for the baseline, not judged.

Usage: .venv/bin/python benchmarks/health.py [--seconds 5] [--concurrency 200]
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
from typing import Any

BUDGET_MS = 2.0


def _app() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import Response

    from infertel import health

    registry = health.default_registry(gates=["model-loaded"])
    registry.open_gate("model-loaded")
    app = FastAPI(lifespan=health.lifespan(registry))
    app.include_router(health.router(registry))

    @app.get("/baseline")
    async def baseline() -> Response:
        return Response(b"ok", media_type="text/plain")

    timings: dict[str, list[float]] = {}

    @app.get("/_timings")
    async def read_timings() -> Response:
        body = json.dumps(timings).encode()
        timings.clear()
        return Response(body, media_type="application/json")

    async def timed(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] == "/_timings":
            await app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                timings.setdefault(scope["path"], []).append((time.perf_counter() - started) * 1000)

        await app(scope, receive, timed_send)

    return timed


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False, http="h11")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _prober(port: int, paths: list[str], k: int, stop: float, latencies: list[float]) -> int:
    """One keep-alive HTTP/1.1 connection sending GETs back to back (a light client: asyncio streams)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    requests = [f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: kube-probe/1.31\r\n\r\n".encode() for p in paths]
    bad, i = 0, k
    try:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            writer.write(requests[i % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            bad += not head.startswith(b"HTTP/1.1 200")
            i += 1
    finally:
        writer.close()
    return bad


async def _load(port: int, paths: list[str], seconds: float, concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    bad = await asyncio.gather(*(_prober(port, paths, k, stop, latencies) for k in range(concurrency)))
    return latencies, sum(bad)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if args.serve:
        serve(args.serve)
        return 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        time.sleep(1.0)  # the registry's first refresh
        print(
            f"health probes: {args.concurrency} concurrent probers, {args.seconds:g} s per run, "
            "uvicorn in its own process"
        )
        print(
            f"{'endpoint':<26}{'requests':>9}{'req/s':>8}{'server p50':>12}{'server p99':>12}"
            f"{'client p50':>12}{'client p99':>12}"
        )
        runs = (
            ("probes (livez/readyz/startupz)", ["/livez", "/readyz", "/startupz"]),
            ("baseline (constant ok)", ["/baseline"]),
        )
        server_ms: dict[str, list[float]] = {label: [] for label, _ in runs}
        client_ms: dict[str, list[float]] = {label: [] for label, _ in runs}
        failed_requests = 0
        for _ in range(2):  # interleaved halves: the machine's load falls on both alike
            for label, paths in runs:
                asyncio.run(_load(port, paths, 0.3, args.concurrency))  # warm-up
                httpx.get(f"{base}/_timings")
                latencies, bad = asyncio.run(_load(port, paths, args.seconds / 2, args.concurrency))
                failed_requests += bad
                client_ms[label] += latencies
                server_ms[label] += [v for path in paths for v in httpx.get(f"{base}/_timings").json().get(path, [])]
        results: dict[str, float] = {}
        for label, _ in runs:
            in_server, client = server_ms[label], client_ms[label]
            results[label] = p99 = _pct(in_server, 0.99)
            print(
                f"{label:<26}{len(client):>9}{len(client) / args.seconds:>8.0f}{_pct(in_server, 0.5):>10.3f}ms"
                f"{p99:>10.3f}ms{statistics.median(client):>10.1f}ms{_pct(client, 0.99):>10.1f}ms"
            )
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        probes, baseline = results["probes (livez/readyz/startupz)"], results["baseline (constant ok)"]
        print(f"server-time p99 of the probes vs the constant baseline: {probes / baseline:.2f}x")
        verdict = "PASS" if probes <= BUDGET_MS and failed_requests == 0 else "FAIL"
        print(
            f"{verdict}: health endpoints p99 {probes:.3f} ms in the server (budget {BUDGET_MS:g} ms), "
            f"{failed_requests} non-200 answers"
        )
        return 0 if verdict == "PASS" else 1
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    raise SystemExit(main())
