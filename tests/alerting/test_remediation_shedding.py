"""A real uvicorn server driven into overload: the alert fires, load shedding starts, then stops with the alert.

The engine's input is the server's own in-flight count (read each round from the application, as
``infertel.stats()`` would give it), so the alert follows the real overload; the
``shed_load`` action switches the FastAPI instrumentation's shedding on and off.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("infertel_instrumentation.fastapi")

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

from infertel.alerting import AlertEngine, ThresholdRule  # noqa: E402
from infertel.alerting.remediation import shed_load  # noqa: E402
from infertel.health import LoadShedder  # noqa: E402
from infertel_instrumentation.fastapi import InfertelFastAPIInstrumentor  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class InFlight:
    """The application's requests in progress, as the engine's source (``infertel_live_in_flight``)."""

    def __init__(self) -> None:
        self.count = 0

    def collect(self, now: float) -> Iterable[tuple[str, dict[str, str], float, float]]:
        return [("infertel_live_in_flight", {"gen_ai_request_model": "llama"}, float(self.count), now)]


def build_app(in_flight: InFlight, shedder: LoadShedder) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(body: dict[str, Any]) -> dict[str, Any]:
        in_flight.count += 1
        try:
            await asyncio.sleep(0.6)  # the model is slow: requests pile up
        finally:
            in_flight.count -= 1
        return {
            "id": "c1",
            "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        }

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    InfertelFastAPIInstrumentor.instrument_app(
        app, shedder=shedder, meter_provider=MeterProvider(), tracer_provider=TracerProvider()
    )
    return app


def test_overload_fires_the_alert_and_sheds_until_it_resolves(tmp_path: Any) -> None:
    in_flight, shedder = InFlight(), LoadShedder()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(in_flight, shedder), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    action = shed_load(retry_after_s=3, shedder=shedder)
    engine = AlertEngine(
        [ThresholdRule("Overloaded", signal="in_flight", threshold=20, keep_firing_for_s=1.0, actions=[action])],
        source=in_flight,
        interval_s=0.1,
        store=str(tmp_path / "alerts.db"),
    )
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    body = {"model": "llama", "messages": [{"role": "user", "content": "hi"}]}
    timeline: list[tuple[float, str]] = []
    engine.start()
    try:
        with httpx.Client(timeout=10, limits=httpx.Limits(max_connections=100)) as client:
            assert client.post(url, json=body).status_code == 200  # no overload: served

            # Overload: 60 concurrent clients (one pooled client, 100 connections) for 3 s.
            stop = threading.Event()
            statuses: list[tuple[float, int, str | None]] = []

            def hammer() -> None:
                while not stop.is_set():
                    response = client.post(url, json=body)
                    statuses.append((time.monotonic(), response.status_code, response.headers.get("retry-after")))
                    if response.status_code == 503:
                        time.sleep(0.05)

            workers = [threading.Thread(target=hammer) for _ in range(60)]
            for worker in workers:
                worker.start()
            started = time.monotonic()
            while time.monotonic() - started < 3.0:
                timeline.append((time.monotonic(), "shedding" if shedder.active else "serving"))
                time.sleep(0.05)
            stop.set()
            for worker in workers:
                worker.join(15)

            shed = [s for s in statuses if s[1] == 503]
            assert shed, "the overload never made the server shed load"
            assert {s[2] for s in shed} == {"3"}  # Retry-After from the action
            assert any(state == "shedding" for _, state in timeline)
            assert client.get(f"http://127.0.0.1:{port}/ping").status_code == 200  # other routes unaffected

            # Load gone: the alert resolves (after keep_firing_for) and shedding stops.
            deadline = time.monotonic() + 10
            while shedder.active and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not shedder.active
            assert client.post(url, json=body).status_code == 200
        assert action.wait(5_000)
        history = list(reversed(engine.history(limit=100)))
    finally:
        engine.shutdown()
        server.should_exit = True
        thread.join(15)
    triggers = [(run.trigger, run.outcome) for run in action.runs]
    assert triggers[0] == ("fire", "ok") and triggers[-1] == ("resolve", "ok")
    events = [entry["event"] for entry in history]
    assert "firing" in events and "resolved" in events
    assert events.index("firing") < events.index("resolved")
    remediation = [e["message"] for e in history if e["event"] == "remediation"]
    assert remediation[0] == "shed_load (fire): ok: shedding inference requests (Retry-After 3 s)"
    assert remediation[-1] == "shed_load (resolve): ok: shedding stopped"
    assert shedder.rejected == len(shed)
