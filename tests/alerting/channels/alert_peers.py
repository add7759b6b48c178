"""Real peers on 127.0.0.1 for channel tests: an HTTP receiver, an SMTP server with TLS, a sample payload."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    time: float


class HttpReceiver:
    """A threaded http.server on 127.0.0.1 that answers from a script and validates each body."""

    def __init__(self, schema: Mapping[str, Any] | None = None, replies: Sequence[Reply] = ()) -> None:
        self.schema = schema
        self.replies = list(replies)
        self.default = Reply()
        self.received: list[Received] = []
        self.invalid: list[str] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                if outer.schema is not None:
                    try:
                        jsonschema.validate(body, outer.schema)
                    except jsonschema.ValidationError as exc:
                        outer.invalid.append(exc.message)
                with outer._lock:
                    outer.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
                    )
                    reply = outer.replies.pop(0) if outer.replies else outer.default
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> HttpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.received)


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, made with the openssl CLI (one day, P-256)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def sample_payload(status: str = "firing", *, alerts: int = 2, receiver: str = "oncall") -> dict[str, Any]:
    """An Alertmanager webhook v4 payload as the engine builds it."""
    items = []
    for i in range(alerts):
        items.append(
            {
                "status": status,
                "labels": {"alertname": "HighP99Latency", "severity": "page", "model": f"llama-{i}", "service": "chat"},
                "annotations": {"summary": f"p99 latency of llama-{i} is 2.{i} s", "description": "above 2 s for 5 m"},
                "startsAt": "2026-12-07T04:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-07T04:10:00Z",
                "generatorURL": "http://127.0.0.1:8686/alerts",
                "fingerprint": f"{i:016x}",
            }
        )
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighP99Latency"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": "HighP99Latency"},
        "commonLabels": {"alertname": "HighP99Latency", "severity": "page", "service": "chat"},
        "commonAnnotations": {"description": "above 2 s for 5 m"},
        "externalURL": "http://127.0.0.1:8686",
        "alerts": items,
    }
