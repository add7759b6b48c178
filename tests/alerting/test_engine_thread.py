"""The engine's own thread: rounds exactly ``interval`` apart, and a group flushed when its ``group_wait`` ends.

A round that starts a few milliseconds late must not find ``for`` short by those milliseconds (which
fired a whole interval later), and a group whose ``group_wait`` ends between two rounds is notified
then, not at the next round (issue 14, point 8: condition true -> notification within ``for`` +
``group_wait`` + one interval + 1 s).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from infertel.alerting import AlertEngine, Receiver, Route, ThresholdRule

INTERVAL, FOR, GROUP_WAIT = 0.4, 0.8, 0.5


class Switch:
    """``infertel_live_in_flight`` at 100 once the test flips it (the condition becomes true), else 0."""

    def __init__(self) -> None:
        self.on = False

    def collect(self, now: float) -> list[tuple[str, dict[str, str], float, float]]:
        return [("infertel_live_in_flight", {"gen_ai_request_model": "m"}, 100.0 if self.on else 0.0, now)]


class Stamped:
    """A channel that notes when each notification reaches it (on the engine's dispatcher)."""

    name = "stamped"

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.arrived = threading.Event()

    def submit(self, payload: dict[str, Any]) -> bool:
        self.received.append((time.time(), payload))
        self.arrived.set()
        return True

    def shutdown(self, timeout_millis: float = 0) -> bool:
        return True


def test_the_thread_fires_after_exactly_for_and_notifies_when_group_wait_ends() -> None:
    switch, channel = Switch(), Stamped()
    engine = AlertEngine([ThresholdRule("Busy", signal="in_flight", threshold=50, for_s=FOR)], source=switch,
                         interval_s=INTERVAL, route=Route("r", group_by=("alertname",), group_wait_s=GROUP_WAIT),
                         receivers=[Receiver("r", [channel])])  # fmt: skip
    engine.start()
    try:
        time.sleep(INTERVAL / 2)
        switch.on = True
        assert channel.arrived.wait(10)
        (alert,) = engine.alerts()
        assert (alert.name, alert.state) == ("Busy", "firing")
        assert alert.fired_at is not None
        # Two rounds after the first that saw it, not three: rounds are planned exactly INTERVAL apart.
        assert abs(alert.fired_at - alert.active_at - FOR) < 0.02
        (at, payload), *_ = channel.received
        assert [a["labels"]["alertname"] for a in payload["alerts"]] == ["Busy"]
        # Flushed when group_wait ends (0.5 s after firing), not at the next round after it (0.8 s).
        assert GROUP_WAIT - 0.02 <= at - alert.fired_at < GROUP_WAIT + 0.2
    finally:
        assert engine.shutdown()
