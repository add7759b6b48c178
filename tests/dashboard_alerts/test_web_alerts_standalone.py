"""``infertel dashboard`` (the real command, over HTTP) on a store whose alerts a real engine persisted.

The alerts page and ``api/alerts`` show what the engine saved; a silence made through the page's form
(CSRF token, same origin) is stored for the engine, which then does not notify the silenced alert to a
real webhook receiver while it still notifies the others; an acknowledgement is stored and recorded.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("jinja2")

import httpx  # noqa: E402
from alerts_web_support import EVIL, Gauges, WebhookReceiver, assert_inert, free_port, hidden, iso, make_store  # noqa: E402

from infertel.alerting import AlertEngine, AlertStore, Receiver, Route, ThresholdRule  # noqa: E402
from infertel.alerting.channels import WebhookChannel  # noqa: E402
from infertel.dashboard._security import BAD_CSRF  # noqa: E402

pytestmark = pytest.mark.integration

RULES = [
    ThresholdRule("HotCpu", signal="cpu_utilization", threshold=0.8, severity="page", labels={"team": EVIL},
                  annotations={"summary": EVIL}),
    ThresholdRule("HighMemory", signal="memory_utilization", threshold=0.5, for_s=3600.0),
    ThresholdRule("HotCpuTicket", signal="cpu_utilization", threshold=0.7, severity="ticket"),
]  # fmt: skip
SOURCE = {"infertel_live_cpu_utilization": 0.9, "infertel_live_memory_utilization": 0.6}


def _engine(path: Path, channels: list[Any] = ()) -> AlertEngine:  # type: ignore[assignment]
    route = Route("ops", group_wait_s=0.0, group_interval_s=1.0, repeat_interval_s=3600.0)
    return AlertEngine(RULES, source=Gauges(**SOURCE), store=str(path), route=route,
                       receivers=[Receiver("ops", channels=list(channels))])  # fmt: skip


@dataclass
class Dashboard:
    url: str
    path: Path
    alerts: dict[str, Any]  # name -> the engine's Alert


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    path = tmp_path_factory.mktemp("standalone") / "store.db"
    make_store(path)
    engine = _engine(path)
    now = time.time()
    engine.evaluate(now)
    held = {a.name: a for a in engine.evaluate(now + 1)}
    assert engine.shutdown()
    port = free_port()
    script = shutil.which("infertel", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "infertel._internal.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    process = subprocess.Popen([*command, "dashboard", "--store", str(path), "--port", str(port), "--refresh", "0"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/api/alerts", timeout=2)
            break
        except httpx.TransportError:
            alive = process.poll() is None and time.monotonic() < deadline
            assert alive, process.stdout.read() if process.stdout else ""
            time.sleep(0.1)
    try:
        yield Dashboard(url, path, held)
    finally:
        process.terminate()
        process.wait(15)
        if process.stdout:
            process.stdout.close()


def _expected(alert: Any, **extra: Any) -> dict[str, Any]:
    fired = alert.fired_at
    return {
        "fingerprint": alert.fingerprint, "name": alert.name, "state": alert.state,
        "severity": alert.labels["severity"], "labels": dict(alert.labels), "annotations": dict(alert.annotations),
        "value": alert.value, "active_at": iso(alert.active_at), "active_at_unix_nano": round(alert.active_at * 1e9),
        "fired_at": None if fired is None else iso(fired),
        "fired_at_unix_nano": None if fired is None else round(fired * 1e9),
        "resolved_at": None, "resolved_at_unix_nano": None, "silenced_by": [], "acknowledged": None, **extra,
    }  # fmt: skip


def test_the_command_serves_the_alerts_the_engine_persisted(dashboard: Dashboard) -> None:
    hot, memory, ticket = (dashboard.alerts[n] for n in ("HotCpu", "HighMemory", "HotCpuTicket"))
    assert (hot.state, memory.state, ticket.state) == ("firing", "pending", "firing")
    body = httpx.get(dashboard.url + "/api/alerts", timeout=10).json()
    assert body == {"source": "store", "alerts": [_expected(memory), _expected(hot), _expected(ticket)]}
    assert body["alerts"][1]["labels"] == {"alertname": "HotCpu", "severity": "page", "team": EVIL}
    history = httpx.get(dashboard.url + "/api/alerts/history", params={"limit": 10}, timeout=10).json()
    assert history["source"] == "store"
    entries = history["history"]
    assert sorted((h["alertname"], h["event"], h["state"]) for h in entries) == [
        ("HighMemory", "pending", "pending"), ("HotCpu", "firing", "firing"), ("HotCpu", "pending", "pending"),
        ("HotCpuTicket", "firing", "firing"), ("HotCpuTicket", "pending", "pending"),
    ]  # fmt: skip
    times = [h["time_unix_nano"] for h in entries]
    assert times == sorted(times, reverse=True)  # newest first
    assert [h["time"] for h in entries] == [iso(t / 1e9) for t in times]
    assert set(history["history"][0]) == {"time", "time_unix_nano", "fingerprint", "alertname", "event", "state",
                                          "labels", "value", "message"}  # fmt: skip


def test_the_pages_show_each_state_in_its_table_and_render_hostile_labels_inert(dashboard: Dashboard) -> None:
    response = httpx.get(dashboard.url + "/alerts", timeout=10)
    assert response.status_code == 200
    text = response.text
    assert_inert(text)
    assert "default-src 'none'" in response.headers["content-security-policy"]
    nav = re.findall(r'<nav class="pages".*?</nav>', text, flags=re.S)[0]
    assert {"/alerts", "/silences", "/health"} <= set(re.findall(r'<a href="([^"]+)"', nav))
    firing = re.findall(r'<table id="alerts-firing".*?</table>', text, flags=re.S)[0]
    pending = re.findall(r'<table id="alerts-pending".*?</table>', text, flags=re.S)[0]
    assert re.findall(r'<strong class="alert-name">([^<]+)</strong>', firing) == ["HotCpu", "HotCpuTicket"]
    assert re.findall(r'<strong class="alert-name">([^<]+)</strong>', pending) == ["HighMemory"]
    assert 'id="alerts-silenced-empty"' in text
    escaped = html.escape(EVIL, quote=True).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")
    assert f'team="{escaped}"' in firing and f"<dd>{escaped}</dd>" in firing
    assert EVIL not in text
    assert len(re.findall(r'<form class="inline ack-form" method="post"', firing)) == 2
    assert len(set(hidden(text, "csrf_token"))) == 1


def _form_token(url: str, page: str) -> str:
    tokens = hidden(httpx.get(url + page, timeout=10).text, "csrf_token")
    assert tokens
    return tokens[0]


def test_state_changes_are_refused_without_a_valid_token_or_from_another_origin(dashboard: Dashboard) -> None:
    token = _form_token(dashboard.url, "/silences")
    form = {"matchers": 'alertname="HotCpu"', "duration": "1h", "back": "silences"}
    # No token on this dashboard: a request with neither Origin nor Sec-Fetch-Site is not a browser's and passes;
    # a browser's request must show it comes from this dashboard, or carry the page's token.
    cases = [
        ({}, {"Sec-Fetch-Site": "cross-site"}, "cross-site request refused (Sec-Fetch-Site: cross-site)"),
        ({"csrf_token": token}, {"Sec-Fetch-Site": "same-site"},
         "cross-site request refused (Sec-Fetch-Site: same-site)"),
        ({}, {"Origin": "null"}, BAD_CSRF),
        ({"csrf_token": "0" * 64}, {"Origin": "null"}, BAD_CSRF),
        ({"csrf_token": token}, {"Origin": "http://evil.example"},
         "cross-origin request refused (Origin 'http://evil.example' is not this dashboard)"),
        ({"csrf_token": token}, {"Referer": "http://evil.example/page"},
         "cross-origin request refused (the Referer is not this dashboard)"),
    ]  # fmt: skip
    for extra, headers, detail in cases:
        response = httpx.post(dashboard.url + "/api/silences", data={**form, **extra}, headers=headers, timeout=10)
        assert (response.status_code, response.json()) == (403, {"detail": detail})
    fingerprint = dashboard.alerts["HotCpu"].fingerprint
    cross = {"Sec-Fetch-Site": "cross-site"}
    response = httpx.post(f"{dashboard.url}/api/alerts/{fingerprint}/ack", json={"by": "x"}, headers=cross, timeout=10)
    assert response.status_code == 403
    response = httpx.delete(f"{dashboard.url}/api/silences/whatever", headers=cross, timeout=10)
    assert response.status_code == 403
    assert AlertStore(dashboard.path).silences(now=time.time()) == []  # nothing was written


def test_a_silence_made_on_the_page_stops_the_engine_notifying_that_alert(dashboard: Dashboard) -> None:
    token = _form_token(dashboard.url, "/silences")
    form = {"matchers": 'alertname="HotCpu"\nteam=~".*script.*"', "duration": "2h", "comment": EVIL,
            "created_by": "ops", "back": "silences", "csrf_token": token}  # fmt: skip
    # A browser's own form post under Referrer-Policy: no-referrer carries "Origin: null" and no Referer.
    response = httpx.post(dashboard.url + "/api/silences", data=form, headers={"Origin": "null"}, timeout=10)
    assert response.status_code == 303
    created = re.fullmatch(r"/silences\?done=created\+silence\+([0-9a-f]{32})", response.headers["location"])
    assert created is not None
    silence_id = created.group(1)
    listed = httpx.get(dashboard.url + "/api/silences", timeout=10).json()
    (silence,) = listed["silences"]
    assert silence == {
        "id": silence_id, "matchers": ['alertname="HotCpu"', 'team=~".*script.*"'],
        "starts_at": silence["starts_at"], "starts_at_unix_nano": silence["starts_at_unix_nano"],
        "ends_at": silence["ends_at"], "ends_at_unix_nano": silence["ends_at_unix_nano"], "created_by": "ops",
        "comment": EVIL, "state": "active",
    }  # fmt: skip
    assert silence["ends_at_unix_nano"] - silence["starts_at_unix_nano"] == pytest.approx(7200e9, abs=1e6)
    assert abs(silence["starts_at_unix_nano"] / 1e9 - time.time()) < 60
    page = httpx.get(dashboard.url + "/alerts", timeout=10).text
    silenced = re.findall(r'<table id="alerts-silenced".*?</table>', page, flags=re.S)[0]
    assert re.findall(r'<strong class="alert-name">([^<]+)</strong>', silenced) == ["HotCpu"]
    assert EVIL not in httpx.get(dashboard.url + "/silences", timeout=10).text

    receiver = WebhookReceiver()
    channel = WebhookChannel(receiver.url)
    try:
        engine = _engine(dashboard.path, [channel])  # restarts over the same store, as after a deploy
        now = time.time()
        for step in range(3):
            engine.evaluate(now + step)
            engine.tick(now + step + 0.5)
        assert channel.flush(timeout_millis=10_000)
        names = receiver.alertnames()
        assert ("firing", "HotCpuTicket") in names
        assert ("firing", "HotCpu") not in names  # silenced through the dashboard
        # Expired through the API (DELETE, token in the header), the next group flush notifies it.
        headers = {"X-CSRF-Token": httpx.get(dashboard.url + "/api/csrf", timeout=10).json()["csrf_token"]}
        response = httpx.delete(f"{dashboard.url}/api/silences/{silence_id}", headers=headers, timeout=10)
        assert (response.status_code, response.json()) == (200, {"id": silence_id, "expired": True})
        again = httpx.delete(f"{dashboard.url}/api/silences/{silence_id}", headers=headers, timeout=10)
        assert (again.status_code, again.json()) == (404, {"detail": f"no active silence {silence_id}"})
        later = time.time() + 5
        for step in range(3):
            engine.evaluate(later + step)
            engine.tick(later + step + 0.5)
        assert channel.flush(timeout_millis=10_000)
        assert ("firing", "HotCpu") in receiver.alertnames()
        assert engine.shutdown()
    finally:
        channel.shutdown(timeout_millis=5_000)
        receiver.close()


def test_an_acknowledgement_made_on_the_page_is_stored_and_recorded(dashboard: Dashboard) -> None:
    ticket = dashboard.alerts["HotCpuTicket"]
    token = _form_token(dashboard.url, "/alerts")
    form = {"by": "alice", "comment": EVIL, "back": "alerts", "csrf_token": token}
    response = httpx.post(f"{dashboard.url}/api/alerts/{ticket.fingerprint}/ack", data=form, timeout=10)
    location = f"/alerts?done=acknowledged+{ticket.fingerprint}"
    assert (response.status_code, response.headers["location"]) == (303, location)
    alerts = {a["name"]: a for a in httpx.get(dashboard.url + "/api/alerts", timeout=10).json()["alerts"]}
    ack = alerts["HotCpuTicket"]["acknowledged"]
    assert ack == {"by": "alice", "comment": EVIL, "time": ack["time"], "time_unix_nano": ack["time_unix_nano"]}
    assert abs(ack["time_unix_nano"] / 1e9 - time.time()) < 60
    stored = AlertStore(dashboard.path)
    try:
        assert set(stored.acks()) == {ticket.fingerprint}
        entry = stored.history(limit=1, fingerprint=ticket.fingerprint)[0]
        assert (entry["event"], entry["message"]) == ("acknowledged", f"by alice: {EVIL}")
    finally:
        stored.close()
    pending = dashboard.alerts["HighMemory"].fingerprint  # only firing alerts are acknowledged
    response = httpx.post(f"{dashboard.url}/api/alerts/{pending}/ack", json={"by": "bob"},
                          headers={"X-CSRF-Token": token}, timeout=10)  # fmt: skip
    assert (response.status_code, response.json()) == (404, {"detail": f"no firing alert {pending}"})
    text = httpx.get(dashboard.url + "/alerts", timeout=10).text
    assert_inert(text)
    row = re.findall(rf'<tr class="alert-row firing" data-fingerprint="{ticket.fingerprint}">.*?</tr>', text, re.S)[0]
    assert "ack-form" not in row and "yes, by alice" in row
