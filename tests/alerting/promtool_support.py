"""Run the in-process engine over promtool-notation series and write what it fires as a promtool test file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infertel.alerting import AlertEngine, ReplaySource


def engine_expectations(
    rules: Sequence[Any], series: Sequence[tuple[str, str]], *, end_s: float, step_s: float = 15.0, every_s: int = 300
) -> tuple[list[dict[str, Any]], set[str]]:
    """promtool ``alert_rule_test`` entries for every rule at every ``every_s`` and at each transition.

    Returns the entries and the names of the alerts that fired at some point.
    """
    engine = AlertEngine(rules, source=ReplaySource(series, interval_s=step_s), dialect="prometheus",
                         interval_s=step_s, clock=lambda: 0.0)  # fmt: skip
    names = sorted({r.name for r in rules if r.enabled})
    checks: list[dict[str, Any]] = []
    fired: set[str] = set()
    t = 0.0
    while t <= end_s:
        alerts = engine.evaluate(t)
        firing = [a for a in alerts if a.state == "firing"]
        fired.update(a.name for a in firing)
        if int(t) % every_s == 0 or any(a.fired_at == t or a.resolved_at == t for a in alerts):
            for name in names:
                expected = [
                    {"exp_labels": {k: v for k, v in sorted(a.labels.items()) if k != "alertname"},
                     "exp_annotations": dict(sorted(a.annotations.items()))}
                    for a in sorted(firing, key=lambda a: a.fingerprint) if a.name == name
                ]  # fmt: skip
                checks.append({"eval_time": f"{int(t)}s", "alertname": name, "exp_alerts": expected})
        t += step_s
    return checks, fired


def promtool_test(rule_file: str, series: Sequence[tuple[str, str]], checks: list[dict[str, Any]],
                  step_s: float = 15.0) -> dict[str, Any]:  # fmt: skip
    """The promtool unit-test document."""
    step = f"{int(step_s)}s"
    return {
        "rule_files": [rule_file],
        "evaluation_interval": step,
        "tests": [{"interval": step, "input_series": [{"series": s, "values": v} for s, v in series],
                   "alert_rule_test": checks}],
    }  # fmt: skip
