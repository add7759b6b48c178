"""The dashboard's JSON API over HTTP: a real uvicorn serving create_app() on a store filled through infertel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx  # noqa: E402
from dashboard_support import SECURITY_HEADERS, Filled, Served, fill_store  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan  # noqa: E402

from infertel.dashboard import create_app  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill_store(tmp_path_factory.mktemp("api") / "store.db", requests=6)


@pytest.fixture(scope="module")
def server(filled: Filled) -> Iterator[Served]:
    app = create_app(filled.path, refresh_s=0, trace_url="http://127.0.0.1:16686/trace/{trace_id}")
    with Served(app) as served:
        yield served


def get(server: Served, path: str, **params: Any) -> Any:
    response = httpx.get(server.url + path, params=params, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    return response.json()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(dict(value)))


def expected_span(s: ReadableSpan) -> dict[str, Any]:
    attributes = dict(s.attributes or {})
    return {
        "trace_id": f"{s.context.trace_id:032x}",
        "span_id": f"{s.context.span_id:016x}",
        "parent_span_id": None if s.parent is None else f"{s.parent.span_id:016x}",
        "name": s.name,
        "kind": s.kind.name,
        "start_time_ns": s.start_time,
        "end_time_ns": s.end_time,
        "duration_s": (s.end_time - s.start_time) / 1e9,
        "status_code": s.status.status_code.name,
        "status_message": s.status.description,
        "model": attributes.get("gen_ai.request.model") or attributes.get("gen_ai.response.model"),
        "operation": attributes.get("gen_ai.operation.name"),
        "attributes": _jsonable(attributes),
        "events": [
            {"name": e.name, "time_ns": e.timestamp, "attributes": _jsonable(e.attributes or {})} for e in s.events
        ],
        "links": [],
        "resource": _jsonable(s.resource.attributes),
        "scope_name": s.instrumentation_scope.name,
        "scope_version": s.instrumentation_scope.version,
    }


def test_trace_returns_every_span_and_its_logs(server: Served, filled: Filled) -> None:
    traces = filled.traces()
    failing = next(tid for tid, spans in traces.items() if any(s.status.status_code.name == "ERROR" for s in spans))
    body = get(server, f"/api/traces/{failing}")
    spans = sorted(traces[failing], key=lambda s: s.start_time)
    assert body["trace_id"] == failing
    assert body["external_url"] == f"http://127.0.0.1:16686/trace/{failing}"
    assert body["spans"] == [expected_span(s) for s in spans]
    inference = next(s for s in spans if s.parent is not None)
    model = inference.attributes["gen_ai.request.model"]
    assert [(x["severity_text"], x["span_id"], x["trace_id"], x["service"]) for x in body["logs"]] == [
        ("INFO", f"{inference.context.span_id:016x}", failing, filled.service),
        ("ERROR", f"{inference.context.span_id:016x}", failing, filled.service),
    ]
    assert [x["body"].split(" of ")[1].split(" ")[0] for x in body["logs"]] == [model, model]


def test_unknown_trace_is_404_json(server: Served) -> None:
    response = httpx.get(f"{server.url}/api/traces/{'0' * 32}", timeout=30)
    assert (response.status_code, response.json()) == (404, {"detail": f"trace {'0' * 32} is not in the store"})
    response = httpx.get(f"{server.url}/api/traces/not-hex", timeout=30)
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "trace_id: expected 32 hexadecimal digits, got 'not-hex'"},
    )


def test_traces_newest_first_filtered_and_paginated(server: Served, filled: Filled) -> None:
    traces = filled.traces()
    roots = sorted(
        (spans for spans in traces.values()), key=lambda spans: min(s.start_time for s in spans), reverse=True
    )
    expected = [
        {
            "trace_id": f"{spans[0].context.trace_id:032x}",
            "root_name": "POST /v1/chat",
            "service": filled.service,
            "start_time_ns": min(s.start_time for s in spans),
            "end_time_ns": max(s.end_time for s in spans),
            "duration_s": (max(s.end_time for s in spans) - min(s.start_time for s in spans)) / 1e9,
            "span_count": len(spans),
            "error_count": sum(1 for s in spans if s.status.status_code.name == "ERROR"),
            "models": sorted({s.attributes["gen_ai.request.model"] for s in spans if s.parent is not None}),
        }
        for spans in roots
    ]
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = get(server, "/api/traces", limit=5, **({"cursor": cursor} if cursor else {}))
        assert len(page["traces"]) <= 5
        seen.extend(page["traces"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    errors = get(server, "/api/traces", status="error", model="model-b", limit=100)
    assert errors["traces"] == [t for t in expected if t["error_count"] and t["models"] == ["model-b"]]
    assert errors["next_cursor"] is None


def test_overview_per_service_and_model(server: Served, filled: Filled) -> None:
    body = get(server, "/api/overview", range="1h")
    assert body["group_by"] == ["service", "model"]
    assert body["end_ns"] - body["start_ns"] == 3600 * 10**9
    rows = {row["group"]["model"]: row for row in body["rows"]}
    assert sorted(rows) == sorted(filled.models)
    for model, row in rows.items():
        spans = [s for s in filled.spans if s.attributes.get("gen_ai.request.model") == model]
        durations = sorted((s.end_time - s.start_time) / 1e9 for s in spans)
        assert row["group"] == {"service": filled.service, "model": model}
        assert (row["requests"], row["errors"]) == (filled.requests[model], filled.errors[model])
        assert row["error_rate"] == pytest.approx(filled.errors[model] / filled.requests[model])
        assert row["requests_per_s"] == pytest.approx(filled.requests[model] / 3600, rel=0.05)
        inputs = sum(s.attributes["gen_ai.usage.input_tokens"] for s in spans)
        assert row["input_tokens_per_s"] == pytest.approx(inputs / 3600, rel=0.05)
        assert set(row["latency_s"]) == {"p50", "p95", "p99"}
        assert durations[0] * 0.8 <= row["latency_s"]["p50"] <= durations[-1] * 1.2


def test_metrics_requests_per_model_add_up(server: Served, filled: Filled) -> None:
    body = get(server, "/api/metrics", query="requests_per_s", range="15m", group_by="model")
    assert (body["query"], body["group_by"], body["where"]) == ("requests_per_s", ["model"], {})
    assert body["step_s"] == 20
    totals = {
        s["labels"]["model"]: sum((p["value"] or 0.0) * body["step_s"] for p in s["points"]) for s in body["series"]
    }
    assert totals == pytest.approx({m: float(n) for m, n in filled.requests.items()})
    one = get(server, "/api/metrics", query="requests_per_s", range="15m", group_by="model", model="model-a")
    assert [s["labels"] for s in one["series"]] == [{"model": "model-a"}]
    assert one["where"] == {"model": "model-a"}


def test_metrics_rejects_an_unknown_query(server: Served) -> None:
    response = httpx.get(f"{server.url}/api/metrics", params={"query": "nope"}, timeout=30)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("query: ")
    assert "requests_per_s" in response.json()["detail"]


def test_logs_filtered_by_level_text_and_trace(server: Served, filled: Filled) -> None:
    errors = get(server, "/api/logs", level="error", limit=500)
    expected = sum(filled.errors.values())
    assert [x["severity_text"] for x in errors["logs"]] == ["ERROR"] * expected
    times = [x["time_ns"] for x in errors["logs"]]
    assert times == sorted(times, reverse=True)
    text = get(server, "/api/logs", text="of model-b failed")
    assert len(text["logs"]) == filled.errors["model-b"]
    tid = errors["logs"][0]["trace_id"]
    by_trace = get(server, "/api/logs", trace_id=tid)
    assert {x["trace_id"] for x in by_trace["logs"]} == {tid}
    assert len(by_trace["logs"]) == 2
    bad = httpx.get(f"{server.url}/api/logs", params={"level": "loud"}, timeout=30)
    assert (bad.status_code, bad.json()) == (
        422,
        {"detail": "level: expected trace | debug | info | warn | error | fatal, got 'loud'"},
    )


def test_stats_and_active_are_empty_in_the_standalone_server(server: Served) -> None:
    assert get(server, "/api/stats") == {"live": False, "windows": []}
    assert get(server, "/api/active") == {"live": False, "requests": []}


def test_openapi_documents_the_shapes(server: Served) -> None:
    schema = get(server, "/openapi.json")
    paths = schema["paths"]
    assert sorted(paths) == [
        "/api/active",
        "/api/logs",
        "/api/metrics",
        "/api/overview",
        "/api/stats",
        "/api/traces",
        "/api/traces/{trace_id}",
    ]
    ok = paths["/api/traces/{trace_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/TraceResponse"}
    span = schema["components"]["schemas"]["SpanModel"]["properties"]
    assert {"trace_id", "span_id", "parent_span_id", "start_time_ns", "attributes", "events"} <= set(span)


def test_every_answer_is_its_documented_model_serialised(server: Served, filled: Filled) -> None:
    """The routes build their JSON without the response models: the bytes are what the models would give."""
    from infertel.dashboard import _models as m

    tid = next(iter(filled.traces()))
    routes = [
        ("/api/overview?range=1h", m.OverviewResponse),
        ("/api/overview?range=24h&group_by=model,error_type", m.OverviewResponse),
        ("/api/metrics?query=requests_per_s&range=15m", m.MetricsResponse),
        ("/api/metrics?query=latency_p95&range=1h&group_by=service,model", m.MetricsResponse),
        ("/api/traces?limit=3", m.TracesResponse),
        (f"/api/traces/{tid}", m.TraceResponse),
        ("/api/logs?limit=4", m.LogsResponse),
    ]
    for path, model in routes:
        response = httpx.get(server.url + path, timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        parsed = model.model_validate_json(response.content, strict=False)
        assert response.content == parsed.model_dump_json().encode(), path


def test_store_missing_is_404_for_the_api(tmp_path: Path) -> None:
    with Served(create_app(tmp_path / "absent.db", refresh_s=0)) as served:
        response = httpx.get(f"{served.url}/api/overview", timeout=30)
        assert (response.status_code, response.json()) == (
            404,
            {"detail": f"no store at {tmp_path / 'absent.db'} yet"},
        )
        page = httpx.get(f"{served.url}/", timeout=30)
        assert page.status_code == 200
        assert 'id="no-store"' in page.text
    assert not (tmp_path / "absent.db").exists()


def test_unusable_store_is_503_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database, only text " * 8)
    with Served(create_app(bad, refresh_s=0)) as served:
        api = httpx.get(f"{served.url}/api/overview", timeout=30)
        assert (api.status_code, api.headers["retry-after"], api.json()) == (
            503,
            "10",
            {"detail": f"the store cannot be read: '{bad}' is not a usable infertel store: file is not a database"},
        )
        page = httpx.get(f"{served.url}/traces", timeout=30)
        assert page.status_code == 503 and "the store cannot be read: " in page.text
        assert page.headers["x-content-type-options"] == "nosniff"
    assert bad.read_bytes() == b"not a database, only text " * 8


def test_a_store_object_passed_in_stays_the_callers(filled: Filled) -> None:
    from infertel_exporters.sqlite import SQLiteStore

    store = SQLiteStore(filled.path, read_only=True)
    with Served(create_app(store, refresh_s=0)) as served:
        page = httpx.get(f"{served.url}/api/traces", params={"limit": 1}, timeout=30).json()
    assert [t.trace_id for t in store.search_traces(limit=1).traces] == [t["trace_id"] for t in page["traces"]]
    store.close()
