"""Remediation actions driven by a real AlertEngine: runs, spans, history, rate limit, timeout, escalation."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from infertel.alerting import AlertEngine, ReplaySource, ThresholdRule
from infertel.alerting.channels import CallableChannel
from infertel.alerting.remediation import Action, collect_garbage, scale_request, shed_load
from infertel.health import LoadShedder

SERIES = 'infertel_live_in_flight{gen_ai_request_model="m1"}'


def overload_engine(actions: list[Any], tmp_path: Path, values: str = "10 100 100 10 10", **rule: Any) -> AlertEngine:
    source = ReplaySource([(SERIES, values)], interval_s=15)
    engine = AlertEngine(
        [ThresholdRule("Overloaded", signal="in_flight", threshold=50, actions=actions, **rule)],
        source=source,
        store=str(tmp_path / "alerts.db"),
    )
    return engine  # the engine attaches each rule action itself (its history is the alert's)


def run_rounds(engine: AlertEngine, actions: list[Action], count: int = 5) -> None:
    for i in range(count):
        engine.evaluate(15.0 * i)
        for action in actions:
            assert action.wait(5_000)


def remediation_spans(exporter: InMemorySpanExporter) -> list[Any]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith("infertel.remediation")]


def test_fire_and_resolve_runs_are_recorded(
    tmp_path: Path, tracer_provider: Any, span_exporter: InMemorySpanExporter
) -> None:
    done: list[tuple[str, str]] = []
    action = Action(
        "drain-queue",
        fire=lambda alert: done.append(("fire", alert.labels["gen_ai_request_model"])) or "drained 12 requests",
        resolve=lambda alert: done.append(("resolve", alert.labels["gen_ai_request_model"])),
        tracer_provider=tracer_provider,
    )
    engine = overload_engine([action], tmp_path)
    run_rounds(engine, [action])
    assert done == [("fire", "m1"), ("resolve", "m1")]
    assert [(r.trigger, r.outcome, r.message) for r in action.runs] == [
        ("fire", "ok", "drained 12 requests"),
        ("resolve", "ok", ""),
    ]
    fingerprint = action.runs[0].subject
    assert len(fingerprint) == 16
    spans = remediation_spans(span_exporter)
    assert [(s.name, s.status.status_code, dict(s.attributes)) for s in spans] == [
        (
            "infertel.remediation drain-queue",
            StatusCode.UNSET,
            {
                "infertel.remediation.action": "drain-queue",
                "infertel.remediation.trigger": trigger,
                "infertel.remediation.dry_run": False,
                "infertel.alert.name": "Overloaded",
                "infertel.alert.fingerprint": fingerprint,
                "infertel.remediation.outcome": "ok",
            },
        )
        for trigger in ("fire", "resolve")
    ]
    entries = [(e["event"], e["message"]) for e in engine.history(limit=20) if e["event"].startswith("remediation")]
    assert sorted(entries) == sorted(
        [
            ("remediation", "drain-queue (fire): ok: drained 12 requests"),
            ("remediation", "drain-queue (resolve): ok"),
        ]
    )
    engine.shutdown()


def test_rate_limit_dry_run_and_failure_escalation(
    tmp_path: Path, tracer_provider: Any, span_exporter: InMemorySpanExporter
) -> None:
    escalations: list[dict[str, Any]] = []
    pager = CallableChannel(escalations.append, name="pager")
    calls: list[str] = []

    def broken(alert: Any) -> None:
        calls.append(alert.fingerprint)
        raise PermissionError("no permission to restart")

    failing = Action(
        "restart", fire=broken, max_runs=1, per_s=3600, escalate_to=[pager], tracer_provider=tracer_provider
    )
    dry = Action(
        "scale",
        fire=lambda alert: calls.append("scaled"),
        dry_run=True,
        describe="scale up by 2",
        tracer_provider=tracer_provider,
    )
    # Fires, resolves, fires again: the second fire is past the rate limit.
    engine = overload_engine([failing, dry], tmp_path, values="100 100 10 100 100")
    run_rounds(engine, [failing, dry])
    assert pager.flush(5_000)
    assert len(calls) == 1  # the dry run did nothing, the rate-limited run did not run
    assert [(r.trigger, r.outcome) for r in failing.runs] == [("fire", "failed"), ("fire", "rate_limited")]
    assert failing.runs[0].message == "PermissionError: no permission to restart"
    assert failing.runs[1].message == "more than 1 run(s) in 3600 s"
    assert [(r.outcome, r.message) for r in dry.runs] == [("dry_run", "dry run: would scale up by 2")] * 2

    (escalation,) = escalations
    assert escalation["version"] == "4" and escalation["status"] == "firing"
    assert escalation["groupLabels"] == {"alertname": "Overloaded", "remediation": "restart"}
    (alert,) = escalation["alerts"]
    assert alert["labels"]["remediation"] == "restart" and alert["labels"]["gen_ai_request_model"] == "m1"
    assert alert["annotations"]["remediation"] == "restart failed: PermissionError: no permission to restart"

    failed_span = next(
        s for s in remediation_spans(span_exporter) if s.attributes["infertel.remediation.outcome"] == "failed"
    )
    assert failed_span.status.status_code == StatusCode.ERROR
    assert failed_span.attributes["error.type"] == "PermissionError"
    events = [e["event"] for e in engine.history(limit=50)]
    assert events.count("remediation_escalated") == 1
    engine.shutdown()


def test_timeout_is_a_recorded_escalated_failure(tmp_path: Path, tracer_provider: Any) -> None:
    release = threading.Event()
    told: list[dict[str, Any]] = []
    slow = Action(
        "flush-cache",
        fire=lambda alert: release.wait(5),
        timeout_millis=100,
        escalate_to=[CallableChannel(told.append)],
        tracer_provider=tracer_provider,
    )
    engine = overload_engine([slow], tmp_path, values="100 100")
    started = time.monotonic()
    engine.evaluate(0.0)
    assert time.monotonic() - started < 0.1  # on_fire only queued the run
    assert slow.wait(5_000)
    release.set()
    assert [(r.outcome, r.message) for r in slow.runs] == [("timeout", "timed out after 0.1 s")]
    assert 0.09 < slow.runs[0].duration_s < 1.0
    deadline = time.monotonic() + 5
    while not told and time.monotonic() < deadline:
        time.sleep(0.01)
    assert told[0]["alerts"][0]["annotations"]["remediation"] == "flush-cache timeout: timed out after 0.1 s"
    engine.shutdown()


def test_builtins(tmp_path: Path, tracer_provider: Any) -> None:
    shedder = LoadShedder()
    cleared: list[str] = []
    actions = [
        shed_load(retry_after_s=7, shedder=shedder, tracer_provider=tracer_provider),
        collect_garbage(lambda: cleared.append("embeddings"), tracer_provider=tracer_provider),
    ]
    engine = overload_engine(actions, tmp_path, values="100 100")
    engine.evaluate(0.0)
    for action in actions:
        assert action.wait(5_000)
    assert (shedder.active, shedder.retry_after_header, len(shedder.holders())) == (True, b"7", 1)
    assert cleared == ["embeddings"]
    assert actions[0].runs[0].message == "shedding inference requests (Retry-After 7 s)"
    assert actions[1].runs[0].message.startswith("gc collected ")
    alert = engine.alerts()[0]
    actions[0].on_resolve(alert)
    assert actions[0].wait(5_000)
    assert not shedder.active and actions[0].runs[-1].message == "shedding stopped"
    engine.shutdown()


def test_configuration_errors() -> None:
    with pytest.raises(ValueError, match="fire"):
        Action("nothing")
    with pytest.raises(ValueError, match="timeout_millis"):
        Action("a", fire=print, timeout_millis=0)
    with pytest.raises(ValueError, match="max_runs"):
        Action("a", fire=print, max_runs=0)
    with pytest.raises(ValueError, match="retry_after_s"):
        shed_load(retry_after_s=0)
    with pytest.raises(ValueError, match="scale_request url"):
        scale_request("not a url")


@pytest.mark.parametrize("first", ["infertel.alerting._actions", "infertel.alerting.remediation"])
def test_the_built_in_actions_and_remediation_import_in_either_order(first: str) -> None:
    # remediation re-exports the built-in actions, which build its Actions: a cycle that must hold both ways
    code = f"import {first}; from infertel.alerting.remediation import shed_load; print(shed_load().name)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "shed_load"), done.stderr
