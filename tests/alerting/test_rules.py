"""Rules as data: loading, validation errors that name the rule and the field, the default pack, rendering."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from infertel.alerting import (
    DeviationRule,
    Route,
    SLORule,
    ThresholdRule,
    TrendRule,
    default_rules,
    load_config,
    load_rules,
)
from infertel.alerting._expr import duration
from infertel.alerting._history import histogram_quantile
from infertel.alerting._loader import parse_duration
from infertel.alerting._templates import expand, go_float, humanize, humanize_duration

pytest.importorskip("yaml")


def _rule(**fields: Any) -> dict[str, Any]:
    return {"alert": "R", "signal": "latency_p99", "threshold": 1, **fields}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (_rule(alert="bad name"), "alert rule 'bad name': field 'name': must match"),
        (_rule(signal="latency_p42"), "alert rule 'R': field 'signal': unknown signal 'latency_p42'; accepted: "),
        (_rule(op="=>"), "alert rule 'R': field 'op': must be one of >, >=, <, <=, ==, !="),
        (_rule(threshold="high"), "alert rule 'R': field 'threshold': must be a number"),
        (_rule(**{"for": "5 minutes"}), "alert rule 'R': field 'for': expected a duration such as 30s"),
        (_rule(keep_firing_for=-1), "alert rule 'R': field 'keep_firing_for': a duration cannot be negative"),
        (_rule(window=0), "alert rule 'R': field 'window_s': must be a positive number"),
        (_rule(by="model"), "alert rule 'R': field 'by': expected a list of label names"),
        (_rule(where={"model": "~(unclosed"}), "alert rule 'R': field 'where.model': bad regular expression"),
        (_rule(annotations={"summary": "{{ .Value }}"}), "alert rule 'R': field 'annotations.summary': unsupported"),
        (_rule(labels="team"), "alert rule 'R': field 'labels': expected a mapping"),
        (_rule(severity=""), "alert rule 'R': field 'severity': must be a non-empty string"),
        (_rule(colour="red"), "alert rule 'R': field 'colour': unknown for kind 'threshold'; accepted: "),
        (_rule(kind="magic"), "alert rule 'R': field 'kind': must be one of threshold, slo, trend, deviation"),
        ({"alert": "S", "kind": "slo", "objective": 99.9}, "alert rule 'S': field 'objective': must be a fraction"),
        ({"alert": "S", "kind": "slo", "sli": "latency"}, "alert rule 'S': field 'latency_threshold_s': must be a"),
        ({"alert": "S", "kind": "slo", "min_events": -1}, "alert rule 'S': field 'min_events': must be a non-negative"),
        ({"alert": "T", "kind": "trend", "signal": "ttft_p95", "threshold_pct_per_hour": 0},
         "alert rule 'T': field 'threshold_pct_per_hour': must be a non-zero number"),
        ({"alert": "D", "kind": "deviation", "signal": "ttft_p95", "method": "holt"},
         "alert rule 'D': field 'method': must be 'bands', 'seasonal' or 'ewma'"),
        ({"alert": "D", "kind": "deviation", "signal": "ttft_p95", "method": "ewma", "alpha": 1},
         "alert rule 'D': field 'alpha': must be between 0 and 1"),
        ({"alert": "D", "kind": "deviation", "signal": "ttft_p95", "days": 30},
         "alert rule 'D': field 'days': must be an integer from 1 to 14"),
    ],
)  # fmt: skip
def test_an_invalid_rule_is_a_value_error_naming_the_rule_and_the_field(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        load_rules({"defaults": False, "rules": [item]})
    assert str(caught.value).startswith(message), str(caught.value)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"rulez": []}, "alert rules: unknown section 'rulez'; accepted: defaults, groups, inhibit_rules"),
        ({"interval": "0s"}, "alert rules: field 'interval': must be positive"),
        ({"defaults": {"disable": ["Nope"]}}, "default alert rule 'Nope' does not exist; accepted: InfertelHighCpu"),
        ({"route": {"receiver": "x", "group_wait": "soon"}}, "route: field 'group_wait': expected a duration"),
        ({"route": {"receiver": "x", "matchers": ["a=~("]}}, "route: field 'matchers': matcher a=~'('"),
        ({"route": {"receiver": "ghost"}, "receivers": [{"name": "team"}]},
         "route {}: field 'receiver': no receiver named 'ghost'"),
        ({"receivers": [{"name": "a", "escalate_to": "b"}]},
         "receiver 'a': field 'escalate_to': no receiver named 'b'"),
        ({"route": {"routes": []}}, "route: the root route needs a receiver"),
    ],
)  # fmt: skip
def test_an_invalid_section_is_a_value_error_naming_it(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        load_config(config, build_channels=False)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_yaml_rules_file_loads_every_kind_and_the_default_pack_minus_what_it_disables(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(
        """
interval: 30s
defaults: {disable: [InfertelHighCpu, InfertelNoRequests]}
groups:
  - name: g
    rules:
      - {alert: A, signal: ttft_p99, threshold: 1.5, for: 2m, keep_firing_for: 30s, by: [model, operation],
         where: {model: llama}, severity: page, labels: {team: ml}, annotations: {summary: "{{ $value }}"}}
      - {alert: B, kind: slo, sli: latency, latency_threshold: 0.5, objective: 0.99, period: 7d, min_events: 10}
      - {alert: C, kind: trend, signal: latency_p95, threshold_pct_per_hour: -30, trend_window: 2h}
      - {alert: D, kind: deviation, signal: requests_per_s, method: seasonal, days: 2, tolerance: 0.5,
         direction: down, enabled: false}
route: {receiver: team, group_by: ["..."], repeat_interval: 1h, group_interval: 7m}
receivers: [{name: team}]
"""
    )
    config = load_config(path, build_channels=False)
    assert config.interval_s == 30.0
    names = [r.name for r in config.rules]
    assert names == ["InfertelHighMemory", "InfertelDiskFull", "InfertelHighErrorRate", "InfertelHighTtftP99",
                     "InfertelHighTpotP99", "InfertelHighGpuMemory", "A", "B", "C", "D"]  # fmt: skip
    a, b, c, d = config.rules[-4:]
    assert a == ThresholdRule("A", signal="ttft_p99", threshold=1.5, for_s=120.0, keep_firing_for_s=30.0,
                              by=("model", "operation"), where={"model": "llama"}, severity="page",
                              labels={"team": "ml"}, annotations={"summary": "{{ $value }}"})  # fmt: skip
    assert b == SLORule("B", sli="latency", latency_threshold_s=0.5, objective=0.99, period_s=7 * 86400.0,
                        min_events=10)  # fmt: skip
    assert c == TrendRule("C", signal="latency_p95", threshold_pct_per_hour=-30, trend_window_s=7200.0)
    assert d == DeviationRule("D", signal="requests_per_s", method="seasonal", days=2, tolerance=0.5,
                              direction="down", enabled=False)  # fmt: skip
    assert config.route is not None and config.route.repeat_interval_s == 7 * 60 * 9  # 1h rounded up to 9 x 7m


def test_the_slo_windows_scale_with_the_period_and_use_sloths_names() -> None:
    rule = SLORule("Chat", objective=0.999, period_s=28 * 86400.0)
    assert [(duration(long), duration(short), factor, kind) for long, short, factor, kind in rule.windows()] == [
        ("56m", "4m40s", 14.4, "page"),
        ("5h36m", "28m", 6.0, "page"),
        ("22h24m", "1h52m", 3.0, "ticket"),
        ("2d19h12m", "5h36m", 1.0, "ticket"),
    ]
    compiled = rule.compile("prometheus")
    records = [r.record for r in compiled.recordings]
    assert records[:7] == [f"slo:sli_error:ratio_rate{w}" for w in ("4m40s", "28m", "56m", "1h52m", "5h36m",
                                                                     "22h24m", "2d19h12m")]  # fmt: skip
    assert {"slo:objective:ratio", "slo:error_budget:ratio", "slo:time_period:days", "slo:current_burn_rate:ratio",
            "slo:period_burn_rate:ratio", "slo:period_error_budget_remaining:ratio",
            "slo:sli_error:ratio_rate28d"} <= set(records)  # fmt: skip
    assert dict(compiled.recordings[0].labels) == {"sloth_id": "infertel-Chat", "sloth_service": "infertel",
                                                   "sloth_slo": "Chat", "sloth_window": "4m40s"}  # fmt: skip
    page, ticket = compiled.alerts
    assert (page.labels["severity"], ticket.labels["severity"]) == ("page", "ticket")
    assert page.annotations["budget_exhausted_in"] == "{{ $value | humanizeDuration }}"


def test_default_pack_rules_are_each_switchable() -> None:
    every = [r.name for r in default_rules()]
    assert every == ["InfertelHighCpu", "InfertelHighMemory", "InfertelDiskFull", "InfertelHighErrorRate",
                     "InfertelHighTtftP99", "InfertelHighTpotP99", "InfertelHighGpuMemory",
                     "InfertelNoRequests"]  # fmt: skip
    assert [r.name for r in default_rules(disable=("InfertelDiskFull",))] == [
        n for n in every if n != "InfertelDiskFull"
    ]
    cpu = default_rules(only=("InfertelHighCpu",))[0]
    assert (cpu.threshold, cpu.for_s, cpu.op) == (0.8, 300, ">")  # type: ignore[attr-defined]


def test_route_tree_inherits_and_rounds() -> None:
    root = Route("team", group_interval_s=300, routes=[Route(group_wait_s=5, repeat_interval_s=301)]).resolve()
    child = root.routes[0]
    assert (child.receiver, child.group_by, child.group_wait_s, child.group_interval_s, child.repeat_interval_s) == (
        "team", ("alertname",), 5, 300, 600.0,
    )  # fmt: skip
    assert (root.group_wait_s, root.repeat_interval_s) == (30.0, 4 * 3600.0)


def test_durations_templates_and_quantiles_match_prometheus_arithmetic() -> None:
    assert [parse_duration(t, "x") for t in ("15s", "5m", "1h30m", "2d", "250ms", 7)] == [15, 300, 5400, 172800,
                                                                                          0.25, 7]  # fmt: skip
    assert [duration(s) for s in (15, 300, 5400, 172800, 0.25)] == ["15s", "5m", "1h30m", "2d", "250ms"]
    assert [go_float(v) for v in (1.0, 0.1, 1e-7, 123456789012.0, math.nan)] == ["1", "0.1", "1e-07", "123456789012",
                                                                                 "NaN"]  # fmt: skip
    assert [humanize(v) for v in (0.0, 999.0, 1000.0, 2.5e6, 0.0031)] == ["0", "999", "1k", "2.5M", "3.1m"]
    assert [humanize_duration(v) for v in (0.0, 0.5, 59.5, 61.0, 3601.0, 90061.0)] == [
        "0s", "500ms", "59.5s", "1m 1s", "1h 0m 1s", "1d 1h 1m 1s",
    ]  # fmt: skip
    assert expand("{{$labels.a}}/{{ $labels.missing }}/{{ $value|humanizePercentage }}", {"a": "x"}, 0.25) == "x//25%"
    # Buckets 0.1 / 0.5 / 1 / +Inf holding 50, 30, 15 and 5 observations.
    buckets = [(0.1, 50.0), (0.5, 80.0), (1.0, 95.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == 0.1
    assert histogram_quantile(0.65, buckets) == pytest.approx(0.1 + 0.4 * (15 / 30))
    assert histogram_quantile(0.99, buckets) == 1.0  # in the +Inf bucket: the highest finite bound
    assert math.isnan(histogram_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]))
