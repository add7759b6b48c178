"""From a rules file to a real HTTP receiver: the engine's notifications through infertel's webhook channel."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from infertel.alerting import AlertEngine, ReplaySource, load_config

pytest.importorskip("yaml")

REQUIRED = {"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
            "commonAnnotations", "externalURL", "alerts"}  # fmt: skip
ALERT_KEYS = {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]], threading.Event]]:
    received: list[dict[str, Any]] = []
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            # The Alertmanager webhook schema, version 4: every key, of the right type.
            ok = set(body) == REQUIRED and body["version"] == "4" and all(set(a) == ALERT_KEYS for a in body["alerts"])
            self.send_response(200 if ok else 400)
            self.end_headers()
            if ok:
                received.append(body)
                arrived.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received, arrived
    server.shutdown()
    server.server_close()


def test_a_firing_then_resolved_alert_reaches_the_webhook(receiver: tuple) -> None:
    url, received, arrived = receiver
    config = load_config({
        "defaults": False,
        "rules": [{"alert": "HotCpu", "signal": "cpu_utilization", "threshold": 0.8, "for": "30s", "severity": "page",
                   "annotations": {"summary": "CPU at {{ $value | humanizePercentage }}"}}],
        "route": {"receiver": "ops", "group_wait": "0s", "group_interval": "1m"},
        "receivers": [{"name": "ops", "channels": [{"type": "webhook", "url": url}]}],
    })  # fmt: skip
    source = ReplaySource([("infertel_live_cpu_utilization", "0.95x8 0.2x8")], interval_s=15)
    engine = AlertEngine(config.rules, route=config.route, receivers=config.receivers, external_url="http://infertel",
                         source=source)  # fmt: skip
    for step in range(17):
        engine.evaluate(step * 15.0)
        engine.tick(step * 15.0)
    channel = config.receivers[0].channels[0]
    assert channel.flush(timeout_millis=10_000)
    assert arrived.is_set()
    assert [(p["status"], p["receiver"], p["externalURL"]) for p in received] == [
        ("firing", "ops", "http://infertel"),
        ("resolved", "ops", "http://infertel"),
    ]
    firing = received[0]["alerts"][0]
    assert firing["labels"] == {"alertname": "HotCpu", "severity": "page"}
    assert firing["annotations"] == {"summary": "CPU at 95%"}
    assert (firing["startsAt"], firing["endsAt"]) == ("1970-01-01T00:00:30Z", "0001-01-01T00:00:00Z")
    assert received[1]["alerts"][0]["endsAt"] == "1970-01-01T00:02:15Z"
    assert engine.shutdown(timeout_millis=5_000)  # stops the channels too
    assert channel.status["delivered"] == 2
