"""One alert engine per host under a real prefork server: gunicorn, 3 uvicorn workers, a real webhook receiver.

Every worker imports ``leader_app.py`` and so starts an engine over the same store, with a rule that
fires at once (memory in use > 0) and a route that repeats a firing notification every 2 s. Exactly
one worker holds the leader lock (its pid is in the lock file): the receiver gets one notification
per firing and per repeat, never one per worker; every worker's pages and ``engine.alerts()`` show
the firing alert (the followers read the store). When the leader is killed (SIGKILL: no cleanup at
all), another worker takes the lock within an evaluation interval and carries on: the next repeat
arrives once, on time, and the alert was not notified again as new.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("gunicorn")
pytest.importorskip("uvicorn")
pytest.importorskip("fastapi")
pytest.importorskip("yaml")

from alerting.channels.alert_peers import HttpReceiver  # noqa: E402
from alerting.channels.channel_schemas import ALERTMANAGER_V4  # noqa: E402
from peers.phoenix import free_port  # noqa: E402

from infertel.alerting._leader import held_by, lock_path  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not hasattr(os, "fork"), reason="prefork servers need fork()"),
    pytest.mark.timeout(180),
]

HERE = Path(__file__).resolve().parent
WORKERS = 3
REPEAT_S = 2.0
RULES = """
interval: 250ms
defaults: false
route: {receiver: hook, group_wait: 0s, group_interval: 1s, repeat_interval: 2s}
receivers:
  - name: hook
    channels: [{type: webhook, url: "%s"}]
rules:
  - alert: MemoryInUse
    signal: memory_utilization
    threshold: 0
    severity: ticket
"""


def _get(url: str) -> Any:
    # A new connection per request, so the kernel hands requests to every worker.
    response = httpx.get(url, headers={"Connection": "close"}, timeout=10)
    response.raise_for_status()
    return response.json()


def _until(what: str, check: Any, timeout_s: float, log: Path) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"{what} within {timeout_s} s:\n{log.read_text()[-4000:]}")


class Server:
    def __init__(self, tmp_path: Path, hook: str) -> None:
        self.store = tmp_path / "store.db"
        rules = tmp_path / "rules.yml"
        rules.write_text(RULES % hook)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "gunicorn.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
        env.update(LEADER_STORE=str(self.store), LEADER_RULES=str(rules), INFERTEL_SPOOL_DIR=str(tmp_path / "spool"))
        command = [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class",
                   "uvicorn.workers.UvicornWorker", "--bind", f"127.0.0.1:{self.port}", "--chdir", str(HERE),
                   "--graceful-timeout", "10", "leader_app:app"]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)

    def workers(self) -> set[int]:
        """The pids of the master's live children (the workers)."""
        found = set()
        for entry in Path("/proc").iterdir():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split() if entry.name.isdigit() else []
            except OSError:
                continue
            if fields and fields[0] != "Z" and int(fields[1]) == self.process.pid:  # state, parent pid
                found.add(int(entry.name))
        return found

    def leader(self) -> int | None:
        pid = held_by(lock_path(self.store))
        return pid if pid in self.workers() else None

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, HttpReceiver]]:
    with HttpReceiver(schema=ALERTMANAGER_V4) as receiver:
        server = Server(tmp_path, receiver.url())
        try:
            yield server, receiver
        finally:
            server.stop()
        assert receiver.invalid == []


def _firing(receiver: HttpReceiver) -> list[float]:
    got = list(receiver.received)
    for item in got:
        assert (item.body["status"], [a["labels"]["alertname"] for a in item.body["alerts"]]) == (
            "firing", ["MemoryInUse"])  # fmt: skip
    return [item.time for item in got]


def test_one_engine_notifies_per_host_and_another_worker_takes_over_when_it_dies(served: Any) -> None:
    server, receiver = served
    log = server.log
    _until("the 3 workers did not start", lambda: len(server.workers()) == WORKERS, 60, log)
    leader = _until("no worker took the leader lock", server.leader, 60, log)
    first = _until("no notification arrived", lambda: _firing(receiver), 30, log)[0]
    # Every worker answered by now, with its engine: one leads, the others follow and show the store's alerts.
    seen: dict[int, Any] = {}
    deadline = time.monotonic() + 60
    while len(seen) < WORKERS and time.monotonic() < deadline:
        answer = _get(server.base + "/engine")
        seen[answer["pid"]] = (answer["leading"], answer["alerts"])
    assert seen == {pid: (pid == leader, [["MemoryInUse", "firing"]]) for pid in server.workers()}
    for _ in range(2 * WORKERS):  # the alerts API, whichever worker answers
        alerts = _get(server.base + "/monitoring/api/alerts")["alerts"]
        assert [(a["name"], a["state"]) for a in alerts] == [("MemoryInUse", "firing")]
    # One notification for the firing, then one per repeat interval: never one per worker.
    time.sleep(max(0.0, first + 2 * REPEAT_S + 1.0 - time.monotonic()))
    times = _firing(receiver)
    assert len(times) == 3, times
    assert all(b - a > REPEAT_S - 0.8 for a, b in zip(times, times[1:], strict=False)), times

    os.kill(leader, signal.SIGKILL)
    killed = time.monotonic()
    before = len(_firing(receiver))
    successor = _until("no worker took over", lambda: (p := server.leader()) not in (None, leader) and p, 10, log)
    assert time.monotonic() - killed < 5.0  # one evaluation interval (0.25 s) once the kernel freed the lock
    after = _until("no notification after the takeover", lambda: _firing(receiver)[before:], 15, log)
    time.sleep(max(0.0, after[0] + REPEAT_S + 1.0 - time.monotonic()))
    times = _firing(receiver)
    assert len(times) == before + 2, times  # the successor's first repeat and the next one, once each
    assert all(b - a > REPEAT_S - 0.8 for a, b in zip(times, times[1:], strict=False)), times
    answer = _until("the successor did not answer", lambda: (a := _get(server.base + "/engine"))["pid"] == successor
                    and a, 30, log)  # fmt: skip
    assert (answer["leading"], answer["alerts"]) == (True, [["MemoryInUse", "firing"]])
