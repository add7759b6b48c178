"""``infertel.dashboard.router(...)`` mounted in a FastAPI app under uvicorn, over a live engine and health registry.

The engine's clock is the test's, so times in the JSON are exact. Silences and acknowledgements made
over HTTP change what the engine notifies to a real webhook receiver; the CSRF token is bound to the
credential the request carries (bearer token or the dashboard's cookie).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("jinja2")

import httpx  # noqa: E402
from alerts_web_support import EVIL, Clock, Gauges, Served, WebhookReceiver, assert_inert, hidden, iso  # noqa: E402
from fastapi import FastAPI  # noqa: E402

import infertel.dashboard  # noqa: E402
from infertel.alerting import AlertEngine, Receiver, Route, ThresholdRule  # noqa: E402
from infertel.alerting import web as alerts_web  # noqa: E402
from infertel.alerting.channels import WebhookChannel  # noqa: E402
from infertel.dashboard._security import BAD_CSRF  # noqa: E402
from infertel.health import Check, CheckResult, HealthRegistry  # noqa: E402
from infertel.health import web as health_web  # noqa: E402

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
RULES = [
    ThresholdRule("HotCpu", signal="cpu_utilization", threshold=0.8, severity="page", labels={"team": EVIL}),
    ThresholdRule("HotCpuTicket", signal="cpu_utilization", threshold=0.7, severity="ticket"),
    ThresholdRule("HotCpuOther", signal="cpu_utilization", threshold=0.6, severity="ticket"),
]


@dataclass
class Mounted:
    url: str
    engine: AlertEngine
    clock: Clock
    gauges: Gauges
    receiver: WebhookReceiver
    channel: WebhookChannel
    registry: HealthRegistry
    app: FastAPI

    def rounds(self, *times: float) -> None:
        for t in times:
            self.clock.now = t
            self.engine.evaluate(t)
            self.engine.tick(t)
        assert self.channel.flush(timeout_millis=10_000)


def _checks() -> list[Check]:
    return [
        Check("model:loaded", lambda: CheckResult("pass", "", True, None, "component")),
        Check("queue:depth", lambda: CheckResult("fail", EVIL, 42, "{item}", "component"), critical=True),
        Check("cache:ratio", lambda: CheckResult("fail", "cold", 0.1, "1"), critical=False),
    ]


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Mounted]:
    receiver = WebhookReceiver()
    channel = WebhookChannel(receiver.url)
    clock = Clock(T0)
    gauges = Gauges(infertel_live_cpu_utilization=0.1)
    route = Route("ops", group_wait_s=0.0, group_interval_s=60.0, repeat_interval_s=60.0)
    engine = AlertEngine(RULES, source=gauges, store=str(tmp_path / "store.db"), route=route, clock=clock,
                         receivers=[Receiver("ops", channels=[channel])])  # fmt: skip
    registry = HealthRegistry(checks=_checks(), gates=["model-loaded"])
    assert registry.refresh()
    alerts, health = alerts_web.feature(engine), health_web.feature(registry)
    app = FastAPI()
    app.include_router(infertel.dashboard.router(
        tmp_path / "store.db", prefix="/monitoring", token=TOKEN, refresh_s=7,
        pages=[*alerts.pages(), *health.pages()], apis=[alerts.api(), health.api()],
    ))  # fmt: skip
    try:
        with Served(app) as served:
            yield Mounted(served.url, engine, clock, gauges, receiver, channel, registry, app)
    finally:
        registry.stop()
        engine.shutdown()
        channel.shutdown(timeout_millis=5_000)
        receiver.close()


def _csrf(mounted: Mounted, **headers: str) -> str:
    response = httpx.get(mounted.url + "/monitoring/api/csrf", headers=headers, timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"csrf_token", "header", "field"}
    assert (body["header"], body["field"]) == ("X-CSRF-Token", "csrf_token")
    return str(body["csrf_token"])


def _browser(mounted: Mounted) -> httpx.Client:
    """A client holding the dashboard's cookie, as a browser does after opening ``?token=`` once."""
    client = httpx.Client(base_url=mounted.url, timeout=10)
    first = client.get("/monitoring/alerts", params={"token": TOKEN})
    assert first.status_code == 303 and "samesite=strict" in first.headers["set-cookie"].lower()
    return client


def test_the_pages_and_api_show_the_live_engine(mounted: Mounted) -> None:
    mounted.gauges.values["infertel_live_cpu_utilization"] = 0.75
    mounted.rounds(T0, T0 + 15)
    body = httpx.get(mounted.url + "/monitoring/api/alerts", headers=BEARER, timeout=10).json()
    (ticket, other) = sorted((a for a in mounted.engine.alerts()), key=lambda a: a.name, reverse=True)
    assert body == {"source": "engine", "alerts": [
        {"fingerprint": other.fingerprint, "name": "HotCpuOther", "state": "firing", "severity": "ticket",
         "labels": {"alertname": "HotCpuOther", "severity": "ticket"}, "annotations": {}, "value": 0.75,
         "active_at": iso(T0), "active_at_unix_nano": int(T0 * 1e9), "fired_at": iso(T0),
         "fired_at_unix_nano": int(T0 * 1e9), "resolved_at": None, "resolved_at_unix_nano": None, "silenced_by": [],
         "acknowledged": None},
        {"fingerprint": ticket.fingerprint, "name": "HotCpuTicket", "state": "firing", "severity": "ticket",
         "labels": {"alertname": "HotCpuTicket", "severity": "ticket"}, "annotations": {}, "value": 0.75,
         "active_at": iso(T0), "active_at_unix_nano": int(T0 * 1e9), "fired_at": iso(T0),
         "fired_at_unix_nano": int(T0 * 1e9), "resolved_at": None, "resolved_at_unix_nano": None, "silenced_by": [],
         "acknowledged": None},
    ]}  # fmt: skip
    mounted.gauges.values["infertel_live_cpu_utilization"] = 0.1
    mounted.rounds(T0 + 30)
    resolved = httpx.get(mounted.url + "/monitoring/api/alerts", headers=BEARER, timeout=10).json()["alerts"]
    assert [(a["name"], a["state"], a["resolved_at"]) for a in resolved] == [
        ("HotCpuOther", "resolved", iso(T0 + 30)), ("HotCpuTicket", "resolved", iso(T0 + 30)),
    ]  # fmt: skip
    page = httpx.get(mounted.url + "/monitoring/alerts", headers=BEARER, timeout=10)
    assert page.status_code == 200
    assert_inert(page.text)
    table = re.findall(r'<table id="alerts-resolved".*?</table>', page.text, flags=re.S)[0]
    assert re.findall(r'<strong class="alert-name">([^<]+)</strong>', table) == ["HotCpuOther", "HotCpuTicket"]
    assert '<meta http-equiv="refresh" content="7">' in page.text  # the alerts page follows refresh_s
    silences = httpx.get(mounted.url + "/monitoring/silences", headers=BEARER, timeout=10).text
    assert 'http-equiv="refresh"' not in silences  # not the page with the form: a reload would wipe the input
    nav = re.findall(r'<nav class="pages".*?</nav>', page.text, flags=re.S)[0]
    links = re.findall(r'<a href="([^"]+)"', nav)
    assert links[-3:] == ["/monitoring/alerts", "/monitoring/silences", "/monitoring/health"]
    assert httpx.get(mounted.url + "/monitoring/api/alerts", timeout=10).status_code == 401  # the token still holds


def test_the_csrf_token_is_bound_to_the_credential_the_request_carries(mounted: Mounted) -> None:
    bearer_token = _csrf(mounted, **BEARER)
    with closing(_browser(mounted)) as browser:
        cookie_token = hidden(browser.get("/monitoring/silences").text, "csrf_token")[0]
        assert cookie_token != bearer_token and cookie_token == _csrf(mounted, Cookie=_cookie(browser))
        form = {"matchers": 'alertname="HotCpu"', "duration": "30m", "back": "silences"}
        refused = browser.post("/monitoring/api/silences", data={**form, "csrf_token": bearer_token})
        assert (refused.status_code, refused.json()) == (403, {"detail": BAD_CSRF})
        header = browser.post("/monitoring/api/silences", json={"matchers": ['alertname="X"']},
                              headers={"X-CSRF-Token": bearer_token})  # fmt: skip
        assert (header.status_code, header.json()) == (403, {"detail": BAD_CSRF})
        with_cookie = browser.post("/monitoring/api/silences", data={**form, "csrf_token": cookie_token})
        assert with_cookie.status_code == 303
        assert with_cookie.headers["location"].startswith("/monitoring/silences?done=created+silence+")
    # The valid bearer header alone is an API client's credential (a browser cannot add it cross-site): no CSRF token.
    alone = httpx.post(mounted.url + "/monitoring/api/silences", json={"matchers": ['alertname="X"']},
                       headers=BEARER, timeout=10)  # fmt: skip
    assert alone.status_code == 201 and set(alone.json()) == {"id"}
    right = httpx.post(mounted.url + "/monitoring/api/silences", json={"matchers": ['alertname="X"']},
                       headers={**BEARER, "X-CSRF-Token": bearer_token}, timeout=10)  # fmt: skip
    assert right.status_code == 201 and set(right.json()) == {"id"}
    bad = httpx.post(mounted.url + "/monitoring/api/silences", json={"matchers": ["not a matcher"]},
                     headers={**BEARER, "X-CSRF-Token": bearer_token}, timeout=10)  # fmt: skip
    assert (bad.status_code, bad.json()) == (422, {"detail": "matcher 'not a matcher': expected name=value, "
                                                   "name!=value, name=~regex or name!~regex"})  # fmt: skip
    too_long = httpx.post(mounted.url + "/monitoring/api/silences", json={"matchers": ['a="b"'], "duration": "45d"},
                          headers={**BEARER, "X-CSRF-Token": bearer_token}, timeout=10)  # fmt: skip
    assert (too_long.status_code, too_long.json()) == (
        422, {"detail": "duration: must be more than 0 and at most 30d; got '45d'"})  # fmt: skip
    assert sorted(str(m) for s in mounted.engine.silences() for m in s.matchers) == [
        'alertname="HotCpu"', 'alertname="X"', 'alertname="X"']  # fmt: skip


def _cookie(client: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def test_silences_and_acknowledgements_change_what_the_engine_notifies(mounted: Mounted) -> None:
    token = _csrf(mounted, **BEARER)
    created = httpx.post(mounted.url + "/monitoring/api/silences", headers={**BEARER, "X-CSRF-Token": token},
                         json={"matchers": ['alertname="HotCpu"'], "duration": "1h", "comment": "deploy",
                               "created_by": "ops"}, timeout=10)  # fmt: skip
    assert created.status_code == 201
    silence_id = created.json()["id"]
    listed = httpx.get(mounted.url + "/monitoring/api/silences", headers=BEARER, timeout=10).json()
    assert listed == {"source": "engine", "silences": [
        {"id": silence_id, "matchers": ['alertname="HotCpu"'], "starts_at": iso(T0),
         "starts_at_unix_nano": int(T0 * 1e9), "ends_at": iso(T0 + 3600),
         "ends_at_unix_nano": int((T0 + 3600) * 1e9), "created_by": "ops", "comment": "deploy", "state": "active"},
    ]}  # fmt: skip
    mounted.gauges.values["infertel_live_cpu_utilization"] = 0.9
    mounted.rounds(T0 + 15, T0 + 30)
    assert sorted(mounted.receiver.alertnames()) == [("firing", "HotCpuOther"), ("firing", "HotCpuTicket")]
    alerts = {a["name"]: a for a in httpx.get(mounted.url + "/monitoring/api/alerts", headers=BEARER).json()["alerts"]}
    assert alerts["HotCpu"]["silenced_by"] == [silence_id] and alerts["HotCpuTicket"]["silenced_by"] == []

    ticket = alerts["HotCpuTicket"]["fingerprint"]
    with closing(_browser(mounted)) as browser:
        page = browser.get("/monitoring/alerts").text
        silenced = re.findall(r'<table id="alerts-silenced".*?</table>', page, flags=re.S)[0]
        assert re.findall(r'<strong class="alert-name">([^<]+)</strong>', silenced) == ["HotCpu"]
        form = {"by": "alice", "comment": "looking", "back": "alerts", "csrf_token": hidden(page, "csrf_token")[0]}
        acked = browser.post(f"/monitoring/api/alerts/{ticket}/ack", data=form)
        assert (acked.status_code, acked.headers["location"]) == (303, f"/monitoring/alerts?done=acknowledged+{ticket}")
    assert mounted.engine.acknowledged(ticket)
    # Past the repeat interval: the unacknowledged alert is sent again, the acknowledged one is not.
    mounted.rounds(T0 + 100)
    names = mounted.receiver.alertnames()
    assert (names.count(("firing", "HotCpuOther")), names.count(("firing", "HotCpuTicket"))) == (2, 1)
    assert ("firing", "HotCpu") not in names
    history = httpx.get(mounted.url + "/monitoring/api/alerts/history", headers=BEARER, timeout=10).json()
    acks = [h for h in history["history"] if h["event"] == "acknowledged"]
    assert [(h["alertname"], h["fingerprint"], h["message"], h["time"]) for h in acks] == [
        ("HotCpuTicket", ticket, "by alice: looking", iso(T0 + 30))]  # fmt: skip


def test_api_health_is_the_registry_probe_body_and_the_page_shows_every_check(mounted: Mounted) -> None:
    response = httpx.get(mounted.url + "/monitoring/api/health", headers=BEARER, timeout=10)
    assert (response.status_code, response.headers["content-type"]) == (503, "application/health+json")
    body = response.json()
    assert body == json.loads(mounted.registry.report("readyz").body)
    observed = mounted.registry.observations()

    def when(name: str) -> str:  # ISO 8601 UTC with milliseconds, as the health+json draft shows it
        moment = datetime.fromtimestamp(observed[name].time_unix_nano / 1e9, tz=timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    checks = body["checks"]
    assert {k: [{f: v for f, v in e.items() if f != "time"} for e in entries] for k, entries in checks.items()} == {
        "cache:ratio": [{"status": "warn", "observedValue": 0.1, "observedUnit": "1", "output": "cold"}],
        "gate:model-loaded": [{"componentType": "gate", "status": "fail", "output": "closed"}],
        "model:loaded": [{"status": "pass", "componentType": "component", "observedValue": True}],
        "queue:depth": [{"status": "fail", "componentType": "component", "observedValue": 42,
                         "observedUnit": "{item}", "output": EVIL}],
    }  # fmt: skip
    assert (body["status"], body["description"]) == ("fail", "readyz") and set(body) == {"status", "description",
                                                                                          "checks"}  # fmt: skip
    assert {k: e[0]["time"] for k, e in checks.items() if "time" in e[0]} == {
        name: when(name) for name in ("cache:ratio", "model:loaded", "queue:depth")}  # fmt: skip
    livez = httpx.get(mounted.url + "/monitoring/api/health", params={"probe": "livez"}, headers=BEARER, timeout=10)
    assert (livez.status_code, livez.json()) == (200, json.loads(mounted.registry.report("livez").body))
    bogus = httpx.get(mounted.url + "/monitoring/api/health", params={"probe": "bogus"}, headers=BEARER, timeout=10)
    assert bogus.status_code == 422

    page = httpx.get(mounted.url + "/monitoring/health", headers=BEARER, timeout=10)
    assert page.status_code == 200
    assert_inert(page.text)
    probes = re.findall(r'<tr class="probe-row" data-probe="(\w+)"><th scope="row"><code>/\w+</code></th>'
                        r'<td class="(\w+)">(\w+)</td><td class="num">(\d+)</td></tr>', page.text)  # fmt: skip
    assert probes == [("livez", "ok", "pass", "200"), ("readyz", "crit", "fail", "503"),
                      ("startupz", "crit", "fail", "503")]  # fmt: skip
    rows = re.findall(r'<tr class="check-row" data-check="([^"]+)">\s*<th scope="row"><code>[^<]+</code></th>\s*'
                      r'<td class="(\w+)">(\w+)</td>\s*<td>([\w-]+)</td>\s*<td>(.*?)</td>', page.text)  # fmt: skip
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;&#34;&amp;"
    assert rows == [
        ("cache:ratio", "crit", "fail", "non-critical", "cold"),
        ("model:loaded", "ok", "pass", "critical", "—"),
        ("queue:depth", "crit", "fail", "critical", escaped),
    ]
    assert EVIL not in page.text
    assert '<li class="gate crit"><code>model-loaded</code>: closed</li>' in page.text


def test_the_openapi_schema_documents_the_shapes(mounted: Mounted) -> None:
    schema = httpx.get(mounted.url + "/openapi.json", timeout=10).json()
    paths = schema["paths"]
    assert {p for p in paths if p.startswith("/monitoring/api/") and ("alert" in p or "silence" in p or "health" in p
                                                                      or "csrf" in p)} == {
        "/monitoring/api/alerts", "/monitoring/api/alerts/history", "/monitoring/api/alerts/{fingerprint}/ack",
        "/monitoring/api/silences", "/monitoring/api/silences/{silence_id}",
        "/monitoring/api/silences/{silence_id}/expire", "/monitoring/api/health", "/monitoring/api/csrf",
    }  # fmt: skip

    def ref(path: str, method: str, status: str, media: str = "application/json") -> Any:
        return paths[path][method]["responses"][status]["content"][media]["schema"]

    assert ref("/monitoring/api/alerts", "get", "200") == {"$ref": "#/components/schemas/AlertsOut"}
    assert ref("/monitoring/api/silences", "get", "200") == {"$ref": "#/components/schemas/SilencesOut"}
    assert ref("/monitoring/api/health", "get", "503", "application/health+json") == {
        "$ref": "#/components/schemas/HealthOut"}  # fmt: skip
    body = paths["/monitoring/api/silences"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["matchers"] and set(body["properties"]) == {"matchers", "duration", "comment",
                                                                             "created_by"}  # fmt: skip
    components = schema["components"]["schemas"]
    assert set(components["AlertOut"]["properties"]) == {
        "fingerprint", "name", "state", "severity", "labels", "annotations", "value", "active_at",
        "active_at_unix_nano", "fired_at", "fired_at_unix_nano", "resolved_at", "resolved_at_unix_nano",
        "silenced_by", "acknowledged"}  # fmt: skip
    assert set(components["HealthOut"]["properties"]) == {"status", "description", "version", "releaseId",
                                                          "serviceId", "checks"}  # fmt: skip
