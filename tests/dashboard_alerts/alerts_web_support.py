"""Helpers of the alerts/health dashboard tests: a real uvicorn, a real webhook receiver, a settable source."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from peers.phoenix import free_port as free_port  # noqa: E402  (re-exported for the tests)
from served import Served as Served  # noqa: E402

EVIL = '<script>alert("x")</script>\'"&'
"""Markup and quotes that must render inert wherever an alert's label or annotation is shown."""

ALERT_KEYS = {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
PAYLOAD_KEYS = {"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
                "commonAnnotations", "externalURL", "alerts"}  # fmt: skip


def iso(seconds: float) -> str:
    """RFC 3339 UTC text of ``seconds``, computed here independently of infertel."""
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else "") + "Z"


class WebhookReceiver:
    """A real HTTP server taking Alertmanager v4 payloads (each validated: every key, nothing more)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        received, lock = self.received, self.lock

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                ok = set(body) == PAYLOAD_KEYS and body["version"] == "4"
                ok = ok and all(set(a) == ALERT_KEYS for a in body["alerts"])
                self.send_response(200 if ok else 400)
                self.end_headers()
                if ok:
                    with lock:
                        received.append(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def alertnames(self) -> list[tuple[str, str]]:
        """(status, alertname) of every alert received, in order."""
        with self.lock:
            return [(a["status"], a["labels"]["alertname"]) for p in self.received for a in p["alerts"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Gauges:
    """A source of live series whose values the test sets: ``collect(now)`` gives each one at ``now``."""

    def __init__(self, **values: float) -> None:
        self.values = dict(values)

    def collect(self, now: float) -> list[tuple[str, dict[str, str], float, float]]:
        return [(name, {}, value, now) for name, value in self.values.items()]


class Clock:
    """The engine's wall clock, moved by the test."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def make_store(path: Path) -> None:
    """An empty infertel store at ``path`` (the other dashboard pages read it), made by the store itself."""
    from infertel_exporters.sqlite import SQLiteStore

    store = SQLiteStore(path)
    try:
        assert store.search_traces(limit=1).traces == []
    finally:
        store.close()


def hidden(html: str, name: str) -> list[str]:
    """Values of the hidden inputs called ``name`` in ``html``."""
    return re.findall(rf'<input type="hidden" name="{name}" value="([^"]*)">', html)


def assert_inert(text: str) -> None:
    """No script, no event handler, no style attribute, nothing loaded from elsewhere."""
    assert "<script" not in text.lower()
    assert not re.search(r"\son[a-z]+\s*=", text)
    assert " style=" not in text
    assert not re.search(r"\b(src|srcset)\s*=", text)
