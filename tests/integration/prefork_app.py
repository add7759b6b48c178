"""The application tests/integration/test_prefork.py serves with gunicorn ``--preload`` and uvicorn workers.

Imported once, in gunicorn's master, before it forks the workers: ``configure()`` and four calls of
the observed function happen in the master, as in an application that warms its model up at import.
Spans go to an OTLP receiver (durable export), metrics and logs to the embedded store.
With ``PREFORK_FASTAPI_INSTRUMENTATION=1`` the app is instrumented by infertel's FastAPI
instrumentation (which flushes at the ASGI lifespan shutdown); ``PREFORK_METRIC_INTERVAL_MILLIS``
sets the metric push interval.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

import infertel

WARMUP_CALLS = 4

infertel.configure(
    service_name="prefork-app",
    traces_endpoint=os.environ["PREFORK_TRACES_ENDPOINT"],
    protocol="http/protobuf",
    store_path=os.environ["PREFORK_STORE"],
    resource_metrics=False,
    metric_export_interval_millis=int(os.environ.get("PREFORK_METRIC_INTERVAL_MILLIS", "1000")),
)

if os.environ.get("PREFORK_FASTAPI_INSTRUMENTATION") == "1":
    from infertel_instrumentation.fastapi import InfertelFastAPIInstrumentor

    InfertelFastAPIInstrumentor().instrument()


@infertel.observe(model="m", operation="chat", provider="p")
def generate(prompt: str) -> str:
    return prompt.upper()


for _ in range(WARMUP_CALLS):
    generate("warm up")

app = FastAPI()


@app.get("/chat")
def chat() -> dict[str, Any]:
    return {"pid": os.getpid(), "text": generate("hello")}


@app.get("/stats")
def stats() -> dict[str, Any]:
    snapshot = infertel.stats()
    return {"pid": os.getpid(), "series": {"/".join(k): [s.requests, s.in_flight] for k, s in snapshot.items()}}
