"""The probes over HTTP: the FastAPI router and the plain ASGI app under a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("fastapi")

import httpx  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from served import Served  # noqa: E402

from infertel import health  # noqa: E402
from infertel.health import Check, CheckResult, HealthRegistry  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture
def app_and_registry() -> Iterator[tuple[FastAPI, HealthRegistry]]:
    registry = health.default_registry(gates=["model-loaded"], gpu=False)
    registry.add(lambda: CheckResult("pass", observed_value=1), name="model:replicas", period_s=0.1)
    app = FastAPI(lifespan=health.lifespan(registry))
    app.include_router(health.router(registry, prefix="/health"))

    @app.get("/block")
    async def block() -> dict[str, str]:
        time.sleep(0.4)  # a handler that blocks the event loop
        return {"ok": "yes"}

    yield app, registry
    registry.stop()


def test_router_under_uvicorn(app_and_registry: tuple[FastAPI, HealthRegistry]) -> None:
    app, registry = app_and_registry
    with Served(app) as served, httpx.Client(base_url=served.url) as client:
        assert registry.refresh()
        live = client.get("/health/livez")
        assert (live.status_code, live.headers["content-type"], live.headers["cache-control"]) == (
            200,
            "application/health+json",
            "no-store",
        )
        assert live.json() == {"status": "pass", "description": "livez", "checks": {}}

        ready = client.get("/health/readyz")
        assert ready.status_code == 503
        document = ready.json()
        assert document["status"] == "fail"
        assert set(document["checks"]) == {
            "disk:utilization",
            "event_loop:lag",
            "exporters:state",
            "gate:model-loaded",
            "load_shedding:active",
            "memory:utilization",
            "model:replicas",
            "store:writable",
        }
        gate = document["checks"]["gate:model-loaded"]
        assert gate == [{"componentType": "gate", "status": "fail", "output": "closed"}]
        verbose = client.get("/health/readyz", params={"verbose": ""})
        assert verbose.headers["content-type"] == "text/plain; charset=utf-8"
        assert verbose.text.splitlines()[-2:] == ["[-]gate:model-loaded failed: closed", "readyz check failed"]
        assert client.get("/health/startupz").status_code == 503

        registry.open_gate("model-loaded")
        assert client.get("/health/readyz").status_code == 200
        assert client.get("/health/startupz").status_code == 200
        assert client.get("/health/readyz", params={"verbose": "1"}).text.endswith("readyz check passed\n")

        # The first probes started the event-loop lag monitor on uvicorn's loop: a blocking handler shows.
        assert registry.event_loop_monitor is not None and registry.event_loop_monitor.watching
        client.get("/block")
        deadline = time.monotonic() + 5
        lag: dict[str, Any] = {}
        while time.monotonic() < deadline:
            lag = client.get("/health/readyz").json()["checks"]["event_loop:lag"][0]
            if lag.get("status") == "warn":
                break
            time.sleep(0.1)
        assert lag["status"] == "warn"  # not critical: a slow loop warns, it does not take the server out
        assert 0.1 < lag["observedValue"] < 2 and lag["observedUnit"] == "s"  # up to 0.4 s, less the sleep it ate

        schema = client.get("/openapi.json").json()
        assert {"/health/livez", "/health/readyz", "/health/startupz"} <= set(schema["paths"])


def test_plain_asgi_app_under_uvicorn() -> None:
    async def flaky() -> CheckResult:
        await asyncio.sleep(0)
        return CheckResult("fail", "replica lag 12 s", 12.0, "s", "datastore")

    registry = HealthRegistry(checks=[Check("db:replication", flaky, period_s=30)])
    app = health.health_app(registry, prefix="/-")
    with Served(app) as served, httpx.Client(base_url=served.url) as client:
        assert registry.running  # the ASGI lifespan started it
        assert registry.refresh()
        ready = client.get("/-/readyz")
        assert ready.status_code == 503
        body = json.loads(ready.content)
        entry = body["checks"]["db:replication"][0]
        assert {k: v for k, v in entry.items() if k != "time"} == {
            "status": "fail",
            "componentType": "datastore",
            "observedValue": 12.0,
            "observedUnit": "s",
            "output": "replica lag 12 s",
        }
        assert client.get("/-/livez").status_code == 200
        head = client.head("/-/readyz")
        assert (head.status_code, head.content) == (503, b"")
        assert client.get("/-/nothing").status_code == 404
        post = client.post("/-/livez")
        assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")
    assert not registry.running  # and the lifespan shutdown stopped it
