"""Autoscaling JSON routes and pages over HTTP (uvicorn on 127.0.0.1) on a store filled through infertel's exporter.

Every JSON body is asserted whole against what the public APIs of ``infertel.capacity``,
``infertel.forecast``, ``infertel.autoscaling`` and ``infertel.analysis`` compute on the same store
at the same (fixed) time.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: E402

import infertel.dashboard  # noqa: E402
import infertel.planning_web  # noqa: E402
from infertel.dashboard._security import BAD_CSRF  # noqa: E402
from infertel.planning_web import PlanningSettings, actions_path  # noqa: E402
from infertel_exporters.sqlite import SQLiteSpanExporter, SQLiteStore  # noqa: E402

pytestmark = pytest.mark.integration

TOKEN = "t0ken-xyz"
STEP = 300 * 10**9
NOW = (time.time_ns() // STEP) * STEP - STEP + 150 * 10**9  # 2.5 minutes into a 5-minute bucket
DAYS = 3
EVIL = "<script>alert(1)</script>"
SETTINGS = PlanningSettings(capacity_rps=0.02, target_running=4.0, price_per_gpu_hour=2.0, growth=(1.0, 2.0),
                            horizon_s=1800.0)  # fmt: skip


def _clock() -> int:
    return NOW


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """Three days of requests (daily cycle, 10-minute bursts) and a busy last 15 minutes, two services, 3 models."""
    path = tmp_path_factory.mktemp("planning") / "store.db"
    exporter = SQLiteSpanExporter(path, retention=None)
    written: list[dict[str, Any]] = []
    providers = {}
    for service in ("chat-api", "batch"):
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=512))
        providers[service] = provider
    rng = random.Random(7)
    start = NOW - DAYS * 86_400 * 10**9
    starts = []
    for i in range(DAYS * 144):
        t = start + i * 600 * 10**9
        hour = (t / 1e9 % 86_400) / 3600
        n = round(5 + 4 * math.cos(2 * math.pi * (hour - 14) / 24))
        starts += [t + rng.randrange(600 * 10**9) for _ in range(n)]
    starts += [NOW - 15 * 60 * 10**9 + rng.randrange(15 * 60 * 10**9) for _ in range(300)]
    for at in sorted(a for a in starts if a < NOW - 2 * 10**9):
        service = "chat-api" if rng.random() < 0.7 else "batch"
        model = rng.choice(["small", "large", EVIL])
        cost = round(rng.uniform(0.001, 0.01), 6)
        span = providers[service].get_tracer("test").start_span(f"chat {model}", start_time=at, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20, "infertel.cost.usd": cost,
        })  # fmt: skip
        span.end(end_time=at + 500_000_000)
        written.append({"service": service, "model": model, "start_ns": at, "cost": cost})
    for provider in providers.values():  # flush both before the shared exporter shuts down with the first
        assert provider.force_flush(30_000)
    for provider in providers.values():
        provider.shutdown()
    return path, written


class _Served:
    def __init__(self, app: Any) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", ws="none")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.02)
        self.client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        return self.client

    def __exit__(self, *exc: Any) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def registered():
    infertel.planning_web.register_dashboard(SETTINGS, clock=_clock)
    yield
    infertel.planning_web.unregister_dashboard()


def _dashboard(path: Path) -> _Served:
    return _Served(infertel.dashboard.create_app(path, token=TOKEN, refresh_s=0))


def _standalone(path: Path) -> _Served:
    app = FastAPI()
    app.include_router(infertel.planning_web.router(path, settings=SETTINGS, token=TOKEN, clock=_clock))
    return _Served(app)


# --- independent computations through the public APIs ---------------------------------------------


def _history(store: SQLiteStore, start: int, end: int) -> tuple[list[float], float | None]:
    step = 300 * 10**9
    start, end = -(-start // step) * step, end // step * step  # whole 5-minute buckets only
    totals: dict[int, float] = {}
    for s in store.timeseries("requests_per_s", start, end, 300, group_by=()):
        for ts, value in s.points:
            totals[ts] = totals.get(ts, 0.0) + (value or 0.0)
    values = [totals[t] * 300 for t in sorted(totals)]
    while values and values[0] == 0.0:
        values.pop(0)
    rows = store.overview(start, end, group_by=())
    requests = sum(r.requests for r in rows)
    tokens = sum((r.input_tokens_per_s + r.output_tokens_per_s) * (end - start) / 1e9 for r in rows) / requests
    return values, tokens


def _iso(ns: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ns // 1000 / 1e6, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _expected_plan(path: Path) -> dict[str, Any]:
    from infertel.capacity import plan_capacity

    with SQLiteStore(path, read_only=True) as store:
        values, tokens = _history(store, NOW - 28 * 86_400 * 10**9, NOW)
    plan = plan_capacity(values, step_s=300.0, capacity_rps=0.02, horizon_days=30.0, growth=(1.0, 2.0),
                         price_per_gpu_hour=2.0, tokens_per_request=tokens)  # fmt: skip
    return {**plan.to_json(), "history_days": round(len(values) * 300 / 86_400, 2)}


def _expected_predictions(path: Path) -> dict[str, Any]:
    from infertel.forecast import HoltWinters

    origin = NOW // STEP * STEP
    with SQLiteStore(path, read_only=True) as store:
        values, _ = _history(store, origin - 28 * 86_400 * 10**9, origin)
    fc = HoltWinters(step_s=300.0).fit(values, horizon_steps=6).forecast(6, coverage=0.9)
    points = [{"time": _iso(origin + (i + 1) * STEP), "time_ns": origin + (i + 1) * STEP, "mean_rps": fc.mean[i] / 300,
               "lower_rps": fc.lower[i] / 300, "upper_rps": fc.upper[i] / 300} for i in range(6)]  # fmt: skip
    return {"origin": _iso(origin), "origin_ns": origin, "step_s": 300.0, "coverage": 0.9, "horizon_s": 1800.0,
            "history_buckets": len(values), "points": points}  # fmt: skip


def _expected_recommendation(path: Path, current: int, source: str) -> dict[str, Any]:
    from infertel.autoscaling import PredictiveAutoscaler
    from infertel.forecast import HoltWinters
    from infertel.simulate import Observation

    origin = NOW // STEP * STEP - STEP
    with SQLiteStore(path, read_only=True) as store:
        values, _ = _history(store, origin - 28 * 86_400 * 10**9, origin)
        rates = {t: v for s in store.timeseries("requests_per_s", origin, NOW, 60, group_by=()) for t, v in s.points}
        ttft = {t: v for s in store.timeseries("ttft_p95", origin, NOW, 60, group_by=()) for t, v in s.points}
    policy = PredictiveAutoscaler(capacity_rps={1: 0.02}, target_running=4.0, forecaster=HoltWinters(step_s=300.0)
                                  .fit(values), origin_s=origin / 1e9, interval_s=60)  # fmt: skip
    signals = []
    t = origin + 60 * 10**9
    while t <= NOW:
        arrivals = round((rates.get(t - 60 * 10**9) or 0.0) * 60)
        p95 = ttft.get(t - 60 * 10**9)
        desired = policy.decide(Observation(t / 1e9, 60.0, current, current, 0, 0, arrivals, 0.0, 0.0, 0.0, p95, 8))
        signals.append({"time": _iso(t), "time_ns": t, "arrivals": arrivals, "requests_per_s": arrivals / 60,
                        "in_flight": 0.0, "ttft_p95_s": p95, "desired_replicas": desired,
                        "reason": policy.last.reason})  # fmt: skip
        t += 60 * 10**9
    last = dataclasses.asdict(policy.last)
    keys = ("forecast_rps", "forecast_upper_rps", "capacity_rps", "target_running", "from_forecast", "from_load",
            "from_rate", "from_ttft", "from_kv_cache")  # fmt: skip
    return {
        "time": signals[-1]["time"], "time_ns": signals[-1]["time_ns"], "desired_replicas": last["desired_replicas"],
        "current_replicas": current, "current_replicas_source": source, "reason": last["reason"],
        "inputs": {k: last[k] for k in keys}, "forecast_origin_ns": origin, "history_buckets": len(values),
        "signals": signals,
    }  # fmt: skip


# --- tests ----------------------------------------------------------------------------------------


def test_json_routes_under_the_dashboard_api(filled, registered) -> None:
    path, written = filled
    with _dashboard(path) as client:
        plan = client.get("/api/autoscaling/capacity-plan")
        predictions = client.get("/api/autoscaling/predictions")
        recommendation = client.get("/api/autoscaling/recommendations", params={"current_replicas": 2})
        again = client.get("/api/autoscaling/recommendations", params={"current_replicas": 3})  # the fit reused
        cost = client.get("/api/autoscaling/cost", params={"range": "24h"})
        schema = client.get("/openapi.json").json()
    assert plan.status_code == 200 and plan.json() == _expected_plan(path)
    assert [s["growth"] for s in plan.json()["scenarios"]] == [1.0, 2.0]
    assert predictions.status_code == 200 and predictions.json() == _expected_predictions(path)
    assert recommendation.status_code == 200
    body = recommendation.json()
    assert body == _expected_recommendation(path, 2, "query")
    assert again.json() == _expected_recommendation(path, 3, "query")  # the cached forecaster was not changed
    assert 5 <= len(body["signals"]) <= 10 and body["desired_replicas"] >= 2  # the busy last minutes: ~20 req/min
    assert cost.status_code == 200
    by_model: dict[str, float] = {}
    in_window = [w for w in written if NOW - 86_400 * 10**9 <= w["start_ns"] < NOW]
    for w in in_window:
        by_model[w["model"]] = by_model.get(w["model"], 0.0) + w["cost"]
    got = {r["model"]: r["total_cost_usd"] for r in cost.json()["by_model"]}
    assert got == pytest.approx(by_model, rel=1e-9)
    assert sum(r["requests"] for r in cost.json()["series"]) == len(in_window)
    pairs = {(w["service"], w["model"]) for w in in_window}
    assert {(r["service"], r["model"]) for r in cost.json()["series"]} == pairs
    paths = schema["paths"]
    assert {
        "/api/autoscaling/recommendations",
        "/api/autoscaling/predictions",
        "/api/autoscaling/capacity-plan",
        "/api/autoscaling/record-action",
        "/api/autoscaling/actions",
        "/api/autoscaling/cost",
    } <= set(paths)
    assert {"Recommendation", "Predictions", "CapacityPlan", "ActionIn", "Action", "Cost"} <= set(
        schema["components"]["schemas"])  # fmt: skip


def test_capacity_plan_json_has_the_cli_shape(filled, registered) -> None:
    path, _ = filled
    done = subprocess.run(
        [sys.executable, "-m", "infertel._internal.cli", "capacity-plan", "--store", str(path), "--capacity-rps",
         "0.02", "--growth", "1,2", "--price-per-gpu-hour", "2", "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)
    with _standalone(path) as client:
        api = client.get("/autoscaling/capacity-plan").json()
    assert set(api) == set(cli) and [set(s) for s in api["scenarios"]] == [set(s) for s in cli["scenarios"]]
    assert [s["growth"] for s in api["scenarios"]] == [s["growth"] for s in cli["scenarios"]]


def test_record_action_round_trip_survives_a_restart(filled, registered, tmp_path) -> None:
    path, _ = filled
    store = tmp_path / "copy.db"
    store.write_bytes(path.read_bytes())
    with _dashboard(store) as client:
        assert client.get("/api/autoscaling/actions").json() == {"actions": []}
        posted = client.post(
            "/api/autoscaling/record-action",
            json={"replicas": 3, "action": "scale_up", "desired_replicas": 3, "note": "<b>hi</b>"},
        )
    expected = {"v": 1, "time": _iso(NOW), "time_ns": NOW, "replicas": 3, "action": "scale_up",
                "desired_replicas": 3, "note": "<b>hi</b>"}  # fmt: skip
    assert posted.status_code == 201 and posted.json() == expected
    assert [json.loads(line) for line in actions_path(store).read_text().splitlines()] == [expected]
    with _standalone(store) as client:  # a new server, the standalone router, same store
        assert client.get("/autoscaling/actions").json() == {"actions": [expected]}
        rec = client.get("/autoscaling/recommendations").json()
    assert rec == _expected_recommendation(store, 3, "recorded-action")
    with _dashboard(store) as client:
        page = client.get("/autoscaling")
    assert page.status_code == 200
    assert "&lt;b&gt;hi&lt;/b&gt;" in page.text and "<b>hi</b>" not in page.text


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, ["body", "replicas"]),
        ({"replicas": -1}, ["body", "replicas"]),
        ({"replicas": "three"}, ["body", "replicas"]),
        ({"replicas": 2, "action": "explode"}, ["body", "action"]),
        ({"replicas": 2, "extra": 1}, ["body", "extra"]),
        ({"replicas": 2, "note": "x" * 501}, ["body", "note"]),
        ("not json", ["body", 0]),
    ],
)
def test_bad_bodies_answer_422(filled, registered, tmp_path, body: Any, where: list[Any]) -> None:
    path, _ = filled
    with _standalone(tmp_path / "empty.db") as client:
        kwargs = {"content": body, "headers": {"content-type": "application/json"}} if isinstance(body, str) else {
            "json": body}  # fmt: skip
        answer = client.post("/autoscaling/record-action", **kwargs)
    assert answer.status_code == 422
    assert [e["loc"] for e in answer.json()["detail"]] == [where]
    assert not actions_path(tmp_path / "empty.db").exists()


def test_token_gate_on_both_mounts(filled, registered) -> None:
    path, _ = filled
    for served, route in ((_dashboard(path), "/api/autoscaling/actions"), (_standalone(path), "/autoscaling/actions")):
        with served as client:
            anonymous = httpx.get(served.url + route, timeout=30)
            wrong = httpx.get(served.url + route, headers={"Authorization": "Bearer nope"}, timeout=30)
            record = served.url + route.replace("actions", "record-action")
            posted = httpx.post(record, json={"replicas": 1}, timeout=30)
            ok = client.get(route)
        assert (anonymous.status_code, wrong.status_code, posted.status_code, ok.status_code) == (401, 401, 401, 200)
        assert ok.headers["content-security-policy"] and ok.headers["x-content-type-options"] == "nosniff"


def test_pages_render_escaped_without_scripts(filled, registered) -> None:
    path, _ = filled
    with _dashboard(path) as client:
        pages = {p: client.get(p) for p in ("/autoscaling", "/capacity", "/cost?range=24h", "/cost?range=1h")}
        bad = client.get("/cost?range=2y")
        plan = client.get("/api/autoscaling/capacity-plan").json()
    for name, page in pages.items():
        assert page.status_code == 200, name
        assert "<script" not in page.text and " style=" not in page.text, name
    auto = pages["/autoscaling"].text
    assert 'id="desired-replicas"' in auto and 'class="band"' in auto and 'id="signals-table"' in auto
    assert 'id="data-forecast"' in auto and auto.count('class="signal-row"') >= 5
    capacity = pages["/capacity"].text
    assert capacity.count('class="scenario-row') == 2
    for s in plan["scenarios"]:
        assert f'data-growth="{s["growth"]}"' in capacity and f">{s['replicas']}<" in capacity
    cost = pages["/cost?range=24h"].text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in cost and EVIL not in cost
    assert 'id="cost-by-model"' in cost and 'id="cost-by-service"' in cost and 'data-service="chat-api"' in cost
    assert bad.status_code == 422


def test_no_store_and_short_history_answer_409(registered, tmp_path) -> None:
    with _standalone(tmp_path / "missing.db") as client:
        answers = [client.get(f"/autoscaling/{r}") for r in ("recommendations", "predictions", "capacity-plan")]
    assert [a.status_code for a in answers] == [409, 409, 409]
    assert all("no store at" in a.json()["detail"] for a in answers)


def test_router_checks_its_settings() -> None:
    with pytest.raises(ValueError, match="settings must be an infertel.planning_web.PlanningSettings"):
        infertel.planning_web.router(None, settings={"capacity_rps": 1})  # type: ignore[arg-type]


def test_without_capacity_the_forecast_and_cost_still_answer(filled, tmp_path) -> None:
    path, _ = filled
    app = FastAPI()
    app.include_router(infertel.planning_web.router(path, settings=PlanningSettings(horizon_s=1800.0), token=TOKEN,
                                                    clock=_clock, prefix="/ops"))  # fmt: skip
    with _Served(app) as client:
        rec = client.get("/ops/autoscaling/recommendations")
        plan = client.get("/ops/autoscaling/capacity-plan")
        predictions = client.get("/ops/autoscaling/predictions")
        cost = client.get("/ops/autoscaling/cost?range=1h")
    assert (rec.status_code, plan.status_code) == (409, 409)
    assert rec.json() == plan.json() == {"detail": "no per-replica capacity set: pass capacity_rps (infertel "
                                         "dashboard --capacity-rps), measured with infertel.capacity."
                                         "estimate_capacity or the simulator"}  # fmt: skip
    assert predictions.json() == _expected_predictions(path) and cost.status_code == 200


def test_a_cross_site_form_cannot_record(filled, tmp_path) -> None:
    """A browser form can post ``text/plain`` (no preflight) with the cookie: refused (403) before the body is read."""
    served = _standalone(tmp_path / "csrf.db")
    with served:
        cookie = {"Cookie": f"infertel_dashboard_token={TOKEN}", "content-type": "text/plain"}
        url = served.url + "/autoscaling/record-action"
        answers = [httpx.post(url, content='{"replicas": 5}', timeout=30, headers={**cookie, **extra})
                   for extra in ({"Sec-Fetch-Site": "cross-site"}, {})]  # fmt: skip
    assert [(a.status_code, a.json()["detail"]) for a in answers] == [
        (403, "cross-site request refused (Sec-Fetch-Site: cross-site)"), (403, BAD_CSRF)]  # fmt: skip
    assert not actions_path(tmp_path / "csrf.db").exists()
