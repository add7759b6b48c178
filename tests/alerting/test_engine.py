"""The engine end to end with an injected clock: lifecycle, routing, silences, inhibition, acks, escalation."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from infertel.alerting import (
    AlertEngine,
    InhibitRule,
    Matcher,
    Receiver,
    ReplaySource,
    Route,
    ThresholdRule,
)

CPU = "infertel_live_cpu_utilization"


class Inbox:
    """A channel (the ``submit`` protocol) that keeps every payload it is given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.payloads: list[dict[str, Any]] = []
        self.acks: list[dict[str, Any]] = []

    def submit(self, payload: dict[str, Any]) -> bool:
        self.payloads.append(payload)
        return True

    def acknowledge(self, payload: dict[str, Any]) -> bool:
        self.acks.append(payload)
        return True


def _run(engine: AlertEngine, start: float, end: float, step: float = 15.0) -> None:
    t = start
    while t <= end:
        engine.evaluate(t)
        engine.tick(t)
        t += step


def _hot_cpu(**kwargs: Any) -> ThresholdRule:
    return ThresholdRule("HotCpu", signal="cpu_utilization", threshold=0.8, **kwargs)


def test_pending_firing_resolved_with_for_and_keep_firing_for() -> None:
    # One sample a minute: hot from 0 to 4 min, cold after.
    source = ReplaySource([(CPU, "0.9x4 0.1x10")], interval_s=60)
    engine = AlertEngine([_hot_cpu(for_s=120, keep_firing_for_s=120)], source=source, interval_s=60)
    states = {}
    for minute in range(10):
        alerts = engine.evaluate(minute * 60.0)
        states[minute] = [(a.state, a.value) for a in alerts]
    assert states[0] == [("pending", 0.9)]
    assert states[1] == [("pending", 0.9)]
    assert states[2] == [("firing", 0.9)]
    assert states[4] == [("firing", 0.9)]
    # Cold from minute 5; keep_firing_for holds it two more minutes, then it resolves.
    assert states[5] == [("firing", 0.9)]
    assert states[6] == [("firing", 0.9)]
    assert states[7] == [("resolved", 0.9)]
    alert = engine.alerts()[0]
    assert (alert.active_at, alert.fired_at, alert.resolved_at) == (0.0, 120.0, 420.0)
    assert alert.labels == {"alertname": "HotCpu", "severity": "warning"}


def test_a_pending_alert_that_clears_never_notifies() -> None:
    inbox = Inbox("team")
    source = ReplaySource([(CPU, "0.9x1 0.1x20")], interval_s=60)
    engine = AlertEngine([_hot_cpu(for_s=300)], source=source, interval_s=60, receivers=[Receiver("team", [inbox])])
    _run(engine, 0, 900, 60)
    assert inbox.payloads == []


def test_group_wait_group_interval_and_repeat_rounded_up() -> None:
    inbox = Inbox("team")
    route = Route("team", group_wait_s=30, group_interval_s=300, repeat_interval_s=1000)
    source = ReplaySource([(CPU, "0.9x400")], interval_s=15)
    engine = AlertEngine([_hot_cpu()], source=source, interval_s=15, route=route, receivers=[Receiver("team", [inbox])])
    assert engine.route.repeat_interval_s == 1200  # rounded up to a multiple of group_interval
    _run(engine, 0, 2700)
    # First notification after group_wait; unchanged group repeats only every 1200 s (checked at 5 min flushes).
    times = [int(p["alerts"][0]["startsAt"] == "1970-01-01T00:00:00Z") for p in inbox.payloads]
    assert times == [1, 1, 1]
    assert len(inbox.payloads) == 3  # at 30 s, 1230 s, 2430 s
    first = inbox.payloads[0]
    assert first == {
        "version": "4",
        "groupKey": '{}:{alertname="HotCpu"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "team",
        "groupLabels": {"alertname": "HotCpu"},
        "commonLabels": {"alertname": "HotCpu", "severity": "warning"},
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HotCpu", "severity": "warning"},
                "annotations": {},
                "startsAt": "1970-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": engine.alerts()[0].fingerprint,
            }
        ],
    }


def test_routes_with_matchers_continue_and_two_receivers_then_resolved() -> None:
    pager, team, audit = Inbox("pager"), Inbox("team"), Inbox("audit")
    route = Route(
        "team",
        group_wait_s=30,
        group_interval_s=60,
        routes=[
            Route("pager", matchers=(Matcher.parse('severity="page"'),), continue_=True),
            Route("audit", matchers=(Matcher.parse('alertname=~"Hot.*"'),)),
        ],
    )
    source = ReplaySource([(CPU, "0.9x10 0.1x20")], interval_s=15)
    rules = [_hot_cpu(severity="page"), ThresholdRule("WarmCpu", signal="cpu_utilization", threshold=0.5)]
    receivers = [Receiver("pager", [pager]), Receiver("team", [team]), Receiver("audit", [audit])]
    engine = AlertEngine(rules, source=source, interval_s=15, route=route, receivers=receivers)
    _run(engine, 0, 600)
    assert [(p["status"], p["groupLabels"]["alertname"]) for p in pager.payloads] == [
        ("firing", "HotCpu"),
        ("resolved", "HotCpu"),
    ]
    assert [(p["status"], p["groupLabels"]["alertname"]) for p in team.payloads] == [
        ("firing", "WarmCpu"),
        ("resolved", "WarmCpu"),
    ]
    # continue: HotCpu also reaches the next matching route; WarmCpu matches no child and stays at the root.
    assert [(p["status"], p["groupLabels"]["alertname"]) for p in audit.payloads] == [
        ("firing", "HotCpu"),
        ("resolved", "HotCpu"),
    ]
    assert pager.payloads[0]["groupKey"] == '{}/0:{alertname="HotCpu"}'
    assert audit.payloads[0]["groupKey"] == '{}/1:{alertname="HotCpu"}'
    assert team.payloads[0]["groupKey"] == '{}:{alertname="WarmCpu"}'
    resolved = pager.payloads[1]["alerts"][0]
    assert resolved["status"] == "resolved" and resolved["endsAt"] == "1970-01-01T00:02:45Z"


def test_inhibition_mutes_the_ticket_while_the_page_fires() -> None:
    inbox = Inbox("team")
    rules = [_hot_cpu(severity="page"), ThresholdRule("WarmCpu", signal="cpu_utilization", threshold=0.5)]
    inhibit = InhibitRule((Matcher.parse('severity="page"'),), (Matcher.parse('severity="warning"'),))
    engine = AlertEngine(rules, source=ReplaySource([(CPU, "0.9x100")], interval_s=15), inhibit_rules=[inhibit],
                         receivers=[Receiver("team", [inbox])])  # fmt: skip
    _run(engine, 0, 120)
    assert [p["groupLabels"]["alertname"] for p in inbox.payloads] == ["HotCpu"]


def test_silences_ack_and_history_survive_a_restart(tmp_path: Path) -> None:
    store = str(tmp_path / "infertel.db")
    inbox = Inbox("team")
    now = [0.0]
    route = Route("team", group_wait_s=0, group_interval_s=60, repeat_interval_s=60)

    def engine_at() -> AlertEngine:
        return AlertEngine([_hot_cpu()], source=ReplaySource([(CPU, "0.9x1000")], interval_s=15), route=route,
                           receivers=[Receiver("team", [inbox])], store=store, clock=lambda: now[0])  # fmt: skip

    first = engine_at()
    silence_id = first.add_silence(['alertname="HotCpu"'], duration_s=120, created_by="ops", comment="deploy")
    _run(first, 0, 105)
    assert inbox.payloads == []  # silenced
    first.shutdown()

    second = engine_at()  # a restart: the silence is still there
    assert [(s.id, s.created_by, s.comment, s.ends_at) for s in second.silences()] == [
        (silence_id, "ops", "deploy", 120.0)
    ]
    _run(second, 0, 150)  # the silence ends at 120 s
    assert len(inbox.payloads) == 1 and inbox.payloads[0]["status"] == "firing"
    fingerprint = second.alerts()[0].fingerprint
    now[0] = 150.0
    assert second.acknowledge(fingerprint, by="alice", comment="looking")
    assert inbox.acks and inbox.acks[0]["alerts"][0]["fingerprint"] == fingerprint
    _run(second, 165, 600)
    assert len(inbox.payloads) == 1  # acknowledged: no repeats
    second.shutdown()

    third = engine_at()
    assert third.acknowledged(fingerprint)
    events = [(h["event"], h["alertname"]) for h in reversed(third.history(limit=50))]
    assert events[:2] == [("pending", "HotCpu"), ("firing", "HotCpu")]
    assert ("acknowledged", "HotCpu") in events and ("notified", "HotCpu") in events
    assert third.store is not None and third.store.schema_version() == 1
    assert third.expire_silence(silence_id) is False  # already ended
    third.shutdown()


def test_escalation_when_not_acknowledged_in_time() -> None:
    oncall, managers = Inbox("oncall"), Inbox("managers")
    receivers = [
        Receiver("oncall", [oncall], escalate_to="managers", escalate_after_s=300),
        Receiver("managers", [managers]),
    ]
    engine = AlertEngine([_hot_cpu()], source=ReplaySource([(CPU, "0.9x200")], interval_s=15),
                         route=Route("oncall"), receivers=receivers)  # fmt: skip
    _run(engine, 0, 320)
    assert managers.payloads == []
    _run(engine, 335, 600)
    assert [(p["receiver"], p["status"]) for p in managers.payloads] == [("managers", "firing")]
    assert managers.payloads[0]["groupKey"] == oncall.payloads[0]["groupKey"]


def test_acknowledged_alerts_are_not_escalated() -> None:
    oncall, managers = Inbox("oncall"), Inbox("managers")
    receivers = [
        Receiver("oncall", [oncall], escalate_to="managers", escalate_after_s=300),
        Receiver("managers", [managers]),
    ]
    now = [0.0]
    engine = AlertEngine([_hot_cpu()], source=ReplaySource([(CPU, "0.9x200")], interval_s=15),
                         route=Route("oncall"), receivers=receivers, clock=lambda: now[0])  # fmt: skip
    _run(engine, 0, 60)
    assert engine.acknowledge(engine.alerts()[0].fingerprint, by="bob")
    _run(engine, 75, 900)
    assert managers.payloads == []
    assert engine.acknowledge("0" * 16) is False


def test_actions_run_on_fire_and_on_resolve_and_a_failing_action_does_not_stop_the_engine(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[tuple[str, str]] = []

    class Shed:
        def on_fire(self, alert: Any) -> None:
            calls.append(("fire", alert.state))

        def on_resolve(self, alert: Any) -> None:
            calls.append(("resolve", alert.state))

    class Broken:
        def on_fire(self, alert: Any) -> None:
            raise RuntimeError("boom")

    engine = AlertEngine([_hot_cpu(actions=(Broken(), Shed()))],
                         source=ReplaySource([(CPU, "0.9x3 0.1x3")], interval_s=15))  # fmt: skip
    _run(engine, 0, 90)
    assert calls == [("fire", "firing"), ("resolve", "resolved")]
    assert sum("action" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records) == 1


def test_firing_alerts_are_a_metric_by_name_and_severity() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    rules = [_hot_cpu(severity="page"), ThresholdRule("WarmCpu", signal="cpu_utilization", threshold=0.5)]
    engine = AlertEngine(rules, source=ReplaySource([(CPU, "0.9x3")], interval_s=15), meter_provider=provider)
    engine.evaluate(0.0)
    data = reader.get_metrics_data()
    metrics = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    assert [(m.name, m.unit) for m in metrics] == [("infertel.alerts.firing", "{alert}")]
    points = sorted(((dict(p.attributes), p.value) for p in metrics[0].data.data_points), key=str)  # type: ignore[attr-defined]
    assert points == [
        ({"alertname": "HotCpu", "severity": "page"}, 1),
        ({"alertname": "WarmCpu", "severity": "warning"}, 1),
    ]
    provider.shutdown()


def test_evaluation_runs_on_its_own_thread() -> None:
    seen: list[str] = []

    class Source:
        def collect(self, now: float) -> list:
            seen.append(threading.current_thread().name)
            return [(CPU, {}, 0.9, now)]

    engine = AlertEngine([_hot_cpu()], source=Source(), interval_s=0.05)
    engine.start()
    try:
        deadline = threading.Event()
        for _ in range(100):
            if len(seen) >= 3:
                break
            deadline.wait(0.02)
    finally:
        assert engine.shutdown(timeout_millis=2000)
    assert len(seen) >= 3 and set(seen) == {"infertel-alerting"}
    assert [a.state for a in engine.alerts()] == ["firing"]


def test_a_failing_channel_does_not_stop_the_others() -> None:
    class Broken:
        name = "broken"

        def submit(self, payload: dict) -> bool:
            raise RuntimeError("channel bug")

    class Full(Inbox):
        def submit(self, payload: dict) -> bool:
            return False

    good = Inbox("good")
    engine = AlertEngine([_hot_cpu()], source=ReplaySource([(CPU, "0.9x10")], interval_s=15),
                         receivers=[Receiver("team", [Broken(), Full("full"), good])],
                         route=Route("team", group_wait_s=0))  # fmt: skip
    _run(engine, 0, 30)
    assert len(good.payloads) == 1
    assert engine.dispatcher.dropped == 2


def test_a_restart_keeps_the_for_clock_and_does_not_notify_twice(tmp_path: Path) -> None:
    store = str(tmp_path / "infertel.db")
    inbox = Inbox("team")
    series = [(CPU, "0.9x40 0.1x10"), ("infertel_live_memory_utilization", "0.95x60")]
    rules = [_hot_cpu(), ThresholdRule("FullMemory", signal="memory_utilization", threshold=0.9, for_s=600)]

    def engine_at() -> AlertEngine:
        return AlertEngine(rules, source=ReplaySource(series, interval_s=15), route=Route("team", group_wait_s=0),
                           receivers=[Receiver("team", [inbox])], store=store)  # fmt: skip

    first = engine_at()
    _run(first, 0, 300)
    assert [(p["status"], p["groupLabels"]["alertname"]) for p in inbox.payloads] == [("firing", "HotCpu")]
    before = {a.name: (a.state, a.active_at, a.fired_at) for a in first.alerts()}
    assert before == {"HotCpu": ("firing", 0.0, 0.0), "FullMemory": ("pending", 0.0, None)}
    first.shutdown()

    second = engine_at()  # restarted: the saved alerts are back before the first round
    assert {a.name: (a.state, a.active_at, a.fired_at) for a in second.alerts()} == before
    _run(second, 315, 900)
    # HotCpu was notified before the restart: only its resolution is sent; FullMemory fires at 600 s, not 915 s.
    assert [(p["status"], p["groupLabels"]["alertname"]) for p in inbox.payloads] == [
        ("firing", "HotCpu"),
        ("firing", "FullMemory"),
        ("resolved", "HotCpu"),
    ]
    memory = next(a for a in second.alerts() if a.name == "FullMemory")
    assert memory.fired_at == 600.0
    second.shutdown()


def test_why_an_alert_is_not_notified() -> None:
    now = [0.0]
    rules = [_hot_cpu(severity="page"), ThresholdRule("WarmCpu", signal="cpu_utilization", threshold=0.5),
             ThresholdRule("MemoryFull", signal="memory_utilization", threshold=0.5)]  # fmt: skip
    inhibit = InhibitRule((Matcher.parse('severity="page"'),), (Matcher.parse('alertname="WarmCpu"'),))
    source = ReplaySource([(CPU, "0.9x100"), ("infertel_live_memory_utilization", "0.9x100")], interval_s=15)
    engine = AlertEngine(rules, source=source, inhibit_rules=[inhibit], clock=lambda: now[0])
    engine.evaluate(0.0)
    by_name = {a.name: a for a in engine.alerts()}
    assert {n: engine.suppressed(a) for n, a in by_name.items()} == {
        "HotCpu": None, "WarmCpu": "inhibited", "MemoryFull": None,
    }  # fmt: skip
    engine.add_silence({"alertname": "MemoryFull"}, duration_s=60)
    assert engine.acknowledge(by_name["HotCpu"].fingerprint, by="carol")
    assert {n: engine.suppressed(a) for n, a in by_name.items()} == {
        "HotCpu": "acknowledged", "WarmCpu": "inhibited", "MemoryFull": "silenced",
    }  # fmt: skip
    now[0] = 61.0  # the silence ended
    assert engine.suppressed(by_name["MemoryFull"]) is None


def test_escalation_climbs_the_chain_one_step_per_deadline() -> None:
    oncall, lead, director = Inbox("oncall"), Inbox("lead"), Inbox("director")
    receivers = [
        Receiver("oncall", [oncall], escalate_to="lead", escalate_after_s=300),
        Receiver("lead", [lead], escalate_to="director", escalate_after_s=600),
        Receiver("director", [director]),
    ]
    engine = AlertEngine([_hot_cpu()], source=ReplaySource([(CPU, "0.9x200")], interval_s=15),
                         route=Route("oncall", group_wait_s=0), receivers=receivers)  # fmt: skip
    _run(engine, 0, 885)
    assert [p["receiver"] for p in lead.payloads] == ["lead"]  # at 300 s
    assert director.payloads == []  # the lead has until 900 s
    _run(engine, 900, 1800)
    assert [p["receiver"] for p in director.payloads] == ["director"]  # once, at 900 s
    assert len(lead.payloads) == 1 and len(oncall.payloads) == 1


def test_an_ack_written_by_another_process_stops_repeats_and_actions_are_attached(tmp_path: Path) -> None:
    from infertel.alerting import AlertStore

    store = str(tmp_path / "infertel.db")
    inbox = Inbox("team")
    attached: list[AlertEngine] = []

    class Recorded:
        def attach(self, engine: AlertEngine) -> None:
            attached.append(engine)

        def on_fire(self, alert: Any) -> None:
            attached[0].record(alert.fingerprint, "remediation", "Recorded (fire): ok", alert=alert)

    route = Route("team", group_wait_s=0, group_interval_s=60, repeat_interval_s=60)
    engine = AlertEngine([_hot_cpu(actions=(Recorded(),))], source=ReplaySource([(CPU, "0.9x100")], interval_s=15),
                         route=route, receivers=[Receiver("team", [inbox])], store=store)  # fmt: skip
    assert attached == [engine]
    _run(engine, 0, 60)
    assert len(inbox.payloads) == 2  # the first notification and one repeat
    fingerprint = engine.alerts()[0].fingerprint
    other = AlertStore(store)  # e.g. the standalone dashboard
    other.acknowledge(fingerprint, time=75.0, by="dave", comment="on it", labels=engine.alerts()[0].labels)
    other.close()
    _run(engine, 75, 600)
    assert engine.acknowledged(fingerprint)
    assert len(inbox.payloads) == 2
    assert ("remediation", "Recorded (fire): ok") in [(h["event"], h["message"]) for h in engine.history()]
    assert engine.shutdown()


def test_an_alert_silenced_after_its_notification_sends_nothing_new() -> None:
    inbox = Inbox("team")
    now = [0.0]
    gpu = "infertel_live_gpu_utilization"
    source = ReplaySource(
        [(f'{gpu}{{hw_id="GPU-0"}}', "0.99x100"), (f'{gpu}{{hw_id="GPU-1"}}', "0.99x100")], interval_s=15
    )
    route = Route("team", group_wait_s=0, group_interval_s=60)
    engine = AlertEngine([ThresholdRule("GpuBusy", signal="gpu_utilization", threshold=0.9)], source=source,
                         route=route, receivers=[Receiver("team", [inbox])], clock=lambda: now[0])  # fmt: skip
    _run(engine, 0, 30)
    assert [sorted(a["labels"]["hw_id"] for a in p["alerts"]) for p in inbox.payloads] == [["GPU-0", "GPU-1"]]
    engine.add_silence(['hw_id="GPU-1"'], duration_s=3600)
    _run(engine, 45, 600)
    assert len(inbox.payloads) == 1  # the group only shrank: Alertmanager sends nothing for that
