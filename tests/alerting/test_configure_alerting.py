"""``configure(alert_rules=...)`` / ``INFERTEL_ALERT_RULES``: checked at configuration time, evaluated on live data."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import infertel
from infertel._internal import configure as configure_module
from infertel.alerting import AlertEngine, current_engine

pytest.importorskip("yaml")

pytestmark = pytest.mark.usefixtures("fresh_otel")

RULES = """
interval: 100ms
defaults: false
rules:
  - alert: ErrorsHigh
    signal: error_rate
    window: 3s
    threshold: 0.3
    severity: page
    annotations: {summary: "{{ $labels.gen_ai_request_model }} fails {{ $value | humanizePercentage }}"}
"""


def test_an_invalid_rule_fails_configure_naming_the_rule_and_the_field(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("defaults: false\nrules:\n  - alert: Bad\n    signal: latency_p99\n    op: '>>'\n")
    with pytest.raises(
        ValueError, match=r"^configure\(alert_rules=\.\.\.\): alert rule 'Bad': field 'op': must be one of"
    ):
        infertel.configure(alert_rules=str(rules))
    with pytest.raises(ValueError, match=r"^configure\(alert_rules=\.\.\.\): no such alert rules file"):
        infertel.configure(alert_rules=str(tmp_path / "missing.yml"))


def test_the_environment_variable_names_itself_in_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("defaults: false\nrules:\n  - alert: Slow\n    signal: latency_p99\n    for: soon\n")
    monkeypatch.setenv("INFERTEL_ALERT_RULES", str(rules))
    with pytest.raises(ValueError, match=r"^INFERTEL_ALERT_RULES: alert rule 'Slow': field 'for': expected a duration"):
        infertel.configure()


def test_live_statistics_fire_a_rule_on_the_engine_thread_and_shutdown_stops_it(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    infertel.configure(alert_rules=str(rules), resource_metrics=False)
    engine = configure_module._active.extras["alerting"]  # type: ignore[union-attr]
    assert isinstance(engine, AlertEngine)
    assert current_engine() is engine
    assert any(t.name == "infertel-alerting" for t in threading.enumerate())

    @infertel.observe(model="llama", operation="chat", provider="vllm")
    def call(fail: bool) -> str:
        if fail:
            raise TimeoutError("upstream")
        return "ok"

    deadline = time.monotonic() + 10
    firing = []
    while time.monotonic() < deadline and not firing:
        for i in range(4):
            try:
                call(i % 2 == 0)
            except TimeoutError:
                pass
        time.sleep(0.2)
        firing = [a for a in engine.alerts() if a.state == "firing"]
    assert [(a.name, a.labels) for a in firing] == [
        ("ErrorsHigh", {"alertname": "ErrorsHigh", "severity": "page", "gen_ai_request_model": "llama"})
    ]
    assert firing[0].annotations["summary"].startswith("llama fails ")
    assert 0.3 < (firing[0].value or 0) <= 0.6
    assert infertel.shutdown(timeout_millis=5000)
    assert current_engine() is None
    assert not any(t.name == "infertel-alerting" for t in threading.enumerate())
