"""Notification latency: from a condition becoming true to the webhook receiving the notification.

The budget (issue 14, point 8) is ``for`` + ``group_wait`` + one evaluation interval + 1 s. A real
:class:`~infertel.alerting.AlertEngine` runs on its background thread at ``interval_s``; its
source reads a switch the benchmark flips at a random moment (the condition becomes true); the
rule (``for`` seconds) fires, the route's group waits ``group_wait``, and a
:class:`~infertel.alerting.channels.WebhookChannel` POSTs the Alertmanager v4 payload to a real
HTTP receiver on 127.0.0.1 (``http.server`` thread), which stamps its arrival. Each trial uses a
fresh alert label, so each is a new group. Printed: every trial's latency, the worst, the budget,
and what is left once ``for`` and ``group_wait`` (waits the user asked for) are taken out.

Usage: .venv/bin/python benchmarks/notification_latency.py [--trials 5] [--for 2] [--group-wait 1] [--interval 1]
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from infertel.alerting import AlertEngine, Receiver, Route, ThresholdRule
from infertel.alerting.channels import WebhookChannel


class Switch:
    """The engine's source: ``infertel_live_in_flight`` is 100 for the trial's model once flipped, else 0."""

    def __init__(self) -> None:
        self.model: str | None = None

    def collect(self, now: float) -> Iterable[tuple[str, dict[str, str], float, float]]:
        model = self.model
        return [("infertel_live_in_flight", {"gen_ai_request_model": model or "idle"}, 100.0 if model else 0.0, now)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--for", dest="for_s", type=float, default=2.0)
    parser.add_argument("--group-wait", type=float, default=1.0)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()

    arrivals: dict[str, float] = {}
    lock = threading.Condition()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            now = time.monotonic()
            with lock:
                for alert in body["alerts"]:
                    if alert["status"] == "firing":
                        arrivals.setdefault(alert["labels"].get("gen_ai_request_model", ""), now)
                lock.notify_all()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    switch = Switch()
    channel = WebhookChannel(f"http://127.0.0.1:{server.server_address[1]}/hook")
    engine = AlertEngine(
        [ThresholdRule("Overloaded", signal="in_flight", threshold=50, for_s=args.for_s)],
        source=switch,
        interval_s=args.interval,
        route=Route("hook", group_by=("alertname", "gen_ai_request_model"), group_wait_s=args.group_wait),
        receivers=[Receiver("hook", channels=[channel])],
    )
    budget = args.for_s + args.group_wait + args.interval + 1.0
    latencies = []
    engine.start()
    try:
        for trial in range(args.trials):
            time.sleep(random.uniform(0, args.interval))  # the condition starts anywhere in the round
            model = f"model-{trial}"
            started = time.monotonic()
            switch.model = model
            with lock:
                lock.wait_for(lambda m=model: m in arrivals, timeout=budget + 10)
            latency = arrivals.get(model, float("inf")) - started
            latencies.append(latency)
            print(f"trial {trial + 1}: {latency:.3f} s")
            switch.model = None
            time.sleep(args.interval * 1.5)  # resolved before the next trial
    finally:
        engine.shutdown()
        channel.shutdown(2_000)
        server.shutdown()
    worst = max(latencies)
    overhead = worst - args.for_s - args.group_wait
    print(
        f"for {args.for_s:g} s + group_wait {args.group_wait:g} s + interval {args.interval:g} s + 1 s "
        f"= budget {budget:g} s"
    )
    print(
        f"worst {worst:.3f} s, median {sorted(latencies)[len(latencies) // 2]:.3f} s; beyond for + group_wait: "
        f"{overhead:.3f} s (the allowance for evaluation + delivery is {args.interval + 1:g} s)"
    )
    verdict = "PASS" if worst <= budget else "FAIL"
    print(f"{verdict}: condition true -> webhook received in at most {worst:.3f} s (budget {budget:g} s)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
