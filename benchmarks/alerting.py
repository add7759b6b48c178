"""Cost of alert rule evaluation: 100 rules over 100 series, CPU time per rule per round.

The engine runs in the ``"prometheus"`` dialect over canned series (``ReplaySource``) at a 15 s
interval, after one hour of warm-up samples, so each round reads a realistic history: 100 models,
each with request and error counters and latency histogram buckets. The 100 rules: 40 error-rate
thresholds (one per model, 5 min rate), 20 p99-latency thresholds (histogram quantile, 5 models
each), 20 CPU/memory/disk thresholds, 10 trend rules (recorded signal, 30 min slope), 5
deviation rules (z-score bands, 30 min) and 5 SLO rules (9 recording rules and 2 multi-window
alerts each). The figure is the evaluating thread's CPU time (``time.thread_time``) per round
divided by the number of rules; the budget (issue 14) is 1 ms. Beside it: the same round's cost
of reading the samples alone (source and history append), the floor any evaluator pays.

Usage: .venv/bin/python benchmarks/alerting.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from infertel.alerting import AlertEngine, DeviationRule, ReplaySource, SLORule, ThresholdRule, TrendRule

STEP_S = 15.0
MODELS = 100
DUR = "gen_ai_server_request_duration_seconds"
BUDGET_MS = 1.0


def series(samples: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    n = samples - 1
    for i in range(MODELS):
        m = f'gen_ai_request_model="model-{i:03d}"'
        out.append((f"{DUR}_count{{{m}}}", f"0+{10 + i % 7}x{n}"))
        out.append((f'{DUR}_count{{{m},error_type="timeout"}}', f"0+{i % 3}x{n}"))
        for le, share in (("0.5", 0.6), ("1", 0.9), ("2.5", 0.99)):
            out.append((f'{DUR}_bucket{{{m},le="{le}"}}', f"0+{(10 + i % 7) * share:g}x{n}"))
        out.append((f'{DUR}_bucket{{{m},le="+Inf"}}', f"0+{10 + i % 7}x{n}"))
    for mode, share in (("user", 0.4), ("system", 0.1), ("idle", 0.5)):
        out.append((f'system_cpu_utilization{{cpu_mode="{mode}"}}', f"{share}x{n}"))
    out.append(('system_memory_utilization{system_memory_state="used"}', f"0.7x{n}"))
    out.append(('node_filesystem_avail_bytes{mountpoint="/"}', f"40x{n}"))
    out.append(('node_filesystem_size_bytes{mountpoint="/"}', f"100x{n}"))
    return out


def rules() -> list:
    out: list = []
    for i in range(40):
        out.append(ThresholdRule(f"ErrorRate{i}", signal="error_rate", threshold=0.2, for_s=300,
                                 where={"model": f"model-{i:03d}"}))  # fmt: skip
    for i in range(20):
        models = f"~model-0{i % 10}[{'0-4' if i < 10 else '5-9'}]"  # 20 disjoint sets of 5 models
        out.append(ThresholdRule(f"P99Latency{i}", signal="latency_p99", threshold=2.0, for_s=300,
                                 where={"model": models}))  # fmt: skip
    for i in range(20):
        signal = ("cpu_utilization", "memory_utilization", "disk_utilization")[i % 3]
        out.append(ThresholdRule(f"Resource{i}", signal=signal, threshold=0.8 + i / 200, for_s=300))
    for i in range(10):
        out.append(TrendRule(f"Trend{i}", signal="requests_per_s", threshold_pct_per_hour=50 + i,
                             trend_window_s=1800, where={"model": f"~model-0{i}.*"}))  # fmt: skip
    for i in range(5):
        out.append(DeviationRule(f"Deviation{i}", signal="error_rate", k=3 + i, baseline_window_s=1800,
                                 where={"model": f"~model-0{i}.*"}))  # fmt: skip
    for i in range(5):
        out.append(SLORule(f"Slo{i}", objective=0.99, period_s=86_400.0, where={"model": f"~model-{i}.*"}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40, help="measured rounds (default 40)")
    args = parser.parse_args()
    warmup = int(3600 / STEP_S)
    total = warmup + args.rounds + 1
    all_rules = rules()
    assert len(all_rules) == 100
    data = series(total)
    engine = AlertEngine(all_rules, source=ReplaySource(data, interval_s=STEP_S), dialect="prometheus",
                         interval_s=STEP_S, clock=lambda: 0.0)  # fmt: skip
    t = 0.0
    for _ in range(warmup):
        engine.evaluate(t)
        t += STEP_S
    per_rule_ms: list[float] = []
    for _ in range(args.rounds):
        start = time.thread_time()
        engine.evaluate(t)
        engine.tick(t)
        per_rule_ms.append((time.thread_time() - start) * 1000 / len(all_rules))
        t += STEP_S
    # The floor: reading the same samples into a history, with no rule evaluated.
    floor_engine = AlertEngine([], source=ReplaySource(data, interval_s=STEP_S), dialect="prometheus",
                               interval_s=STEP_S, clock=lambda: 0.0)  # fmt: skip
    floor_ms: list[float] = []
    t = 0.0
    for i in range(warmup + args.rounds):
        start = time.thread_time()
        floor_engine.evaluate(t)
        if i >= warmup:
            floor_ms.append((time.thread_time() - start) * 1000)
        t += STEP_S
    series_count = len(data)
    mean = statistics.fmean(per_rule_ms)
    p95 = sorted(per_rule_ms)[int(0.95 * (len(per_rule_ms) - 1))]
    held = engine.series.series_count()
    print(f"alert evaluation: {len(all_rules)} rules over {MODELS} models ({series_count} input series, "
          f"{held} held incl. recordings), {args.rounds} rounds after 1 h of history")  # fmt: skip
    print(f"  CPU per rule per round: mean {mean:.3f} ms, p95 {p95:.3f} ms "
          f"(whole round: {mean * len(all_rules):.1f} ms at a {STEP_S:g} s interval)")  # fmt: skip
    print(f"  reading the samples alone (no rules): {statistics.fmean(floor_ms):.2f} ms per round")
    print(f"  budget {BUDGET_MS:g} ms per rule per round: mean is {mean / BUDGET_MS:.2f}x the budget -> "
          f"{'PASS' if mean <= BUDGET_MS else 'FAIL'}")  # fmt: skip


if __name__ == "__main__":
    main()
