"""Parity: the in-process engine and ``promtool test rules`` fire the same alerts at the same times.

The same input series (promtool's notation) feed both. The engine runs with an injected clock at
every evaluation instant; every alert it holds firing at each checked instant (labels and rendered
annotations) becomes promtool's expectation for the generated rule file, so promtool fails when
Prometheus disagrees on anything: which alerts, when, labels, or the annotation text.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from alerting.promtool_support import engine_expectations, promtool_test

from infertel.alerting import DeviationRule, SLORule, ThresholdRule, TrendRule
from infertel.alerting._render import prometheus_rule_groups

yaml = pytest.importorskip("yaml")

pytestmark = pytest.mark.integration

STEP = 15.0
END = 3 * 3600.0
DUR = "gen_ai_client_operation_duration_seconds"
M = 'gen_ai_request_model="llama"'


def _series() -> list[tuple[str, str]]:
    # 720 samples (3 h at 15 s). Traffic: 10 requests per sample; errors: none, then a burst, then few.
    return [
        (f"{DUR}_count{{{M}}}", "0+10x719"),
        (f'{DUR}_count{{{M},error_type="timeout"}}', "0x99 0+4x79 320+0x99 320+1x439"),
        # Latency histogram: buckets 0.5 s / 1 s / +Inf. Slow requests grow from 1 per sample after 1 h.
        (f'{DUR}_bucket{{{M},le="0.5"}}', "0+9x719"),
        (f'{DUR}_bucket{{{M},le="1"}}', "0+10x239 2400+9x479"),
        (f'{DUR}_bucket{{{M},le="+Inf"}}', "0+10x719"),
        # CPU: idle, hot for 10 min, a dip, hot again, idle.
        ('system_cpu_utilization{cpu_mode="user"}', "0.15x59 0.8x39 0.4x3 0.7x59 0.05x555"),
        ('system_cpu_utilization{cpu_mode="system"}', "0.05x59 0.15x39 0.1x3 0.2x59 0.05x555"),
        ('system_cpu_utilization{cpu_mode="idle"}', "0.8x59 0.05x39 0.5x3 0.1x59 0.9x555"),
    ]


def _rules() -> list:
    return [
        ThresholdRule("HighErrorRate", signal="error_rate", threshold=0.05, window_s=300, for_s=120,
                      keep_firing_for_s=60, severity="page",
                      annotations={"summary": "{{ $labels.gen_ai_request_model }} errors at "
                                              "{{ $value | humanizePercentage }}"}),
        ThresholdRule("HotCpu", signal="cpu_utilization", threshold=0.8, for_s=300,
                      annotations={"summary": "CPU {{ $value }}"}),
        ThresholdRule("SlowP95", signal="latency_p95", threshold=0.9, window_s=300, for_s=60,
                      annotations={"summary": "p95 {{ $value | humanizeDuration }}"}),
        SLORule("Availability", objective=0.99, period_s=86_400.0, min_events=50),
        SLORule("Fast", sli="latency", latency_threshold_s=1.0, objective=0.95, period_s=86_400.0, min_events=50),
        TrendRule("LatencyRising", signal="latency_p95", threshold_pct_per_hour=20, trend_window_s=1800,
                  annotations={"summary": "{{ $value | humanize }}%/h"}),
        DeviationRule("TrafficOdd", signal="error_rate", method="bands", k=2.5, baseline_window_s=1800),
        DeviationRule("ErrorsOffTrend", signal="error_rate", method="ewma", alpha=0.05, k=3, min_samples=20,
                      baseline_window_s=1800, window_s=120),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (scripts/install-peers.sh installs Debian's prometheus package)")
    return path


def test_in_process_engine_fires_what_prometheus_fires(tmp_path: Path, promtool: str) -> None:
    rules = _rules()
    checks, fired = engine_expectations(rules, _series(), end_s=END, step_s=STEP)
    # The scenario must exercise every rule kind, or parity would be checked on silence only.
    assert fired == {"HighErrorRate", "HotCpu", "SlowP95", "Availability", "Fast", "LatencyRising", "TrafficOdd",
                     "ErrorsOffTrend"}  # fmt: skip
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(prometheus_rule_groups(rules, interval_s=STEP), sort_keys=False))
    test_file = tmp_path / "test.yml"
    test_file.write_text(yaml.safe_dump(promtool_test("rules.yml", _series(), checks, STEP), sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "SUCCESS" in result.stdout
