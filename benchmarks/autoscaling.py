"""Autoscaling policies compared on the fleet simulator: SLO-violation minutes and replica-hours.

On the same traces, infertel's PredictiveAutoscaler (forecast load at the measured per-replica
capacity, corrected by LLM signals) against (a) a CPU > 80% step policy like the reference systems',
(b) the Kubernetes HPA on utilization, (c) the best fixed fleet chosen in hindsight. Also prints the
forecaster's rolling-origin backtest (MASE, relative MAE against seasonal-naive, interval coverage).

Traces: synthetic daily/weekly seasonal traffic with bursts (token lengths drawn from the real trace),
and the real Azure LLM inference trace 2023 (code), replayed faster to load a fleet. The real trace:
Azure Public Dataset, CC-BY 4.0; Patel et al., "Splitwise: Efficient generative LLM inference using
phase splitting", ISCA 2024.

Targets (issue 15): at most half the violation minutes of (a) and of (b) at no more replica-hours;
within 15% of the hindsight fleet's replica-hours at equal (or fewer) violations ((c) is the fewest
replicas of a fixed fleet whose violation minutes are at most infertel's).

Where a target fails, reference rows ("ref:") show what else reaches it at the baseline's cost:
the HPA at lower utilization targets and infertel with a wider interval (standing headroom bought
with replica-hours), fixed fleets, a clairvoyant reference that sizes the fleet from the arrivals
one cold start ahead and, on the burst day, infertel pre-warmed one cold start before each burst
(both know the future; no real policy can). Bounds (benchmarks/_autoscaling_bounds.py): on the burst
day, each burst's onset floor (the violation minutes a burst costs any causal policy for the fleet
it holds at the onset) and what uniform standing headroom costs; on the real trace, a relaxed lower
bound on violation minutes at each baseline's replica-hours for any schedule, clairvoyant ones
included, next to the best offline schedule found on the simulator. ``--sensitivity`` adds the
burst day's verdicts at cold starts of 120, 300 and 600 s (a report; the headline keeps 600 s).

Usage: python benchmarks/autoscaling.py [--days 1] [--seed 1] [--sensitivity]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from _autoscaling_bounds import Clairvoyant, Prewarmed, onset_floors, print_burst_bounds, print_trace_bounds

from infertel.autoscaling import CpuThresholdPolicy, HpaUtilizationPolicy, PredictiveAutoscaler
from infertel.capacity import simulated_capacity_table
from infertel.forecast import HoltWinters, backtest
from infertel.simulate import (
    AZURE_ATTRIBUTION,
    DAY_S,
    Burst,
    ReplicaModel,
    Request,
    Seasonality,
    SimulationResult,
    azure_code_trace,
    bucket_counts,
    poisson_arrivals,
    random_bursts,
    rate_with_bursts,
    simulate,
)

STEP_S = 300.0
HISTORY_DAYS = 21
REPLAY_SPEEDUP = 1.0
REPLAY_COLD_START_S = 120.0


@dataclass
class Row:
    policy: str
    result: SimulationResult


def _run(requests: list[Request], model: ReplicaModel, policy: object, replicas: int, end_s: float) -> SimulationResult:
    return simulate(requests, model=model, policy=policy, replicas=replicas, end_s=end_s)  # type: ignore[arg-type]


def _hindsight(
    requests: list[Request], model: ReplicaModel, end_s: float, violations: int, start: int
) -> tuple[int, SimulationResult, SimulationResult | None]:
    """The smallest fixed fleet with at most ``violations`` violation minutes, and the fleet one smaller."""
    seen: dict[int, SimulationResult] = {}

    def fixed(n: int) -> SimulationResult:
        if n not in seen:
            seen[n] = simulate(requests, model=model, replicas=n, end_s=end_s)
        return seen[n]

    n = max(1, start)
    while fixed(n).violation_minutes > violations:
        n += 1
    while n > 1 and fixed(n - 1).violation_minutes <= violations:
        n -= 1
    return n, fixed(n), fixed(n - 1) if n > 1 else None


def _equal_violations(mine: SimulationResult, fixed: SimulationResult, smaller: SimulationResult | None) -> float:
    """Replica-hours of a fixed fleet at exactly infertel's violation minutes, interpolated between fleet sizes."""
    if smaller is None or smaller.violation_minutes == fixed.violation_minutes:
        return fixed.replica_hours
    share = (smaller.violation_minutes - mine.violation_minutes) / (smaller.violation_minutes - fixed.violation_minutes)
    return smaller.replica_hours + share * (fixed.replica_hours - smaller.replica_hours)


def _burst_minutes(result: SimulationResult, burst: Burst) -> int:
    # a burst's window: from its start to 15 minutes after its end (cold start + 5 min to drain)
    first = int(burst.start_s // 60)
    last = int((burst.start_s + burst.duration_s) // 60) + 15
    return sum(1 for i, m in enumerate(result.minutes) if m[3] and first <= i < last)


def _line(row: Row, shadow: set[int], bursts: list[Burst]) -> str:
    r = row.result
    line = f"{row.policy:34} {r.violation_minutes:>13} {r.replica_hours:>10.1f} {r.ttft_p95_s:>10.2f}"
    if shadow:
        line += f" {sum(1 for i, m in enumerate(r.minutes) if m[3] and i not in shadow):>14}"
    if bursts:
        line += f" {' '.join(f'{_burst_minutes(r, b):>3}' for b in bursts):>22}"
    return line


def compare(
    name: str,
    requests: list[Request],
    *,
    model: ReplicaModel,
    end_s: float,
    ours: PredictiveAutoscaler,
    start_replicas: int,
    bursts: list[Burst] | None = None,
    frontier: list[tuple[str, SimulationResult]] | None = None,
) -> tuple[bool, list[Row]]:
    t0 = time.perf_counter()
    rows = [
        Row("infertel predictive", _run(requests, model, ours, start_replicas, end_s)),
        Row("(a) CPU > 80% step", _run(requests, model, CpuThresholdPolicy(), start_replicas, end_s)),
        Row("(b) HPA utilization 70%", _run(requests, model, HpaUtilizationPolicy(), start_replicas, end_s)),
    ]
    mine = rows[0].result
    n, fixed, smaller = _hindsight(requests, model, end_s, mine.violation_minutes, start_replicas)
    rows.append(Row(f"(c) fixed fleet of {n} (hindsight)", fixed))
    minutes = len(mine.minutes)
    print(f"\n## {name}: {len(requests):,} requests, {end_s / 3600:.1f} h, {minutes} minutes with arrivals")
    # minutes from a burst's start to cold start + 5 min after its end: no reactive policy can avoid those
    shadow = {m for b in bursts or [] for m in range(int(b.start_s // 60), int((b.start_s + b.duration_s) // 60) + 15)}
    extra = f" {'outside bursts':>14}" if shadow else ""
    if bursts:
        extra += f" {'in each burst window':>22}"
    print(f"{'policy':34} {'violation min':>13} {'replica-h':>10} {'p95 TTFT s':>10}{extra}")
    for row in rows + [Row(label, result) for label, result in (frontier or [])]:
        print(_line(row, shadow, bursts or []))
    checks = []
    for base in rows[1:3]:
        b = base.result
        ok = mine.violation_minutes <= b.violation_minutes / 2 and mine.replica_hours <= b.replica_hours
        checks.append((f"vs {base.policy}: <= 1/2 violation minutes at <= replica-hours", ok))
    ok = fixed.violation_minutes <= mine.violation_minutes and mine.replica_hours <= 1.15 * fixed.replica_hours
    checks.append((f"vs hindsight fleet: replica-hours <= 1.15 x {fixed.replica_hours:.1f}", ok))
    for label, passed in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {label}")
    print(
        f"  (c) is the fewest replicas of a fixed fleet with <= {mine.violation_minutes} violation minutes (equal "
        "or fewer than infertel's), found by simulating fixed fleets; its replica-hours are compared."
    )
    equal = _equal_violations(mine, fixed, smaller)
    print(
        f"  stricter reading of (c), not the verdict: fixed fleets interpolated to exactly {mine.violation_minutes} "
        f"violation minutes cost {equal:.2f} replica-h; {mine.replica_hours:.2f} <= 1.15 x that: "
        f"{'yes' if mine.replica_hours <= 1.15 * equal else 'no'}"
    )
    if frontier:
        # what the reference rows (policies with more standing headroom, fixed fleets, a clairvoyant) reach
        # at each baseline's cost: if none halves its violation minutes, the target is beyond them too
        for base in rows[1:3]:
            b = base.result
            refs = [*frontier, (rows[3].policy, rows[3].result)]
            within = [(r.violation_minutes, label) for label, r in refs if r.replica_hours <= b.replica_hours]
            best = min(within) if within else None
            found = f"{best[0]} ({best[1]})" if best else "none"
            print(
                f"  reference rows at <= {b.replica_hours:.1f} replica-h ({base.policy}): fewest violation minutes "
                f"{found}; target <= {b.violation_minutes // 2}"
            )
    print(f"  ({time.perf_counter() - t0:.0f} s)")
    return all(passed for _, passed in checks), rows


def _sensitivity(
    requests: list[Request],
    caps: dict[int, float],
    running: dict[int, float],
    history: list[int],
    first: int,
    end_s: float,
    drain_s: float,
) -> None:
    """The burst day's verdicts at other cold starts (report only: the headline keeps 600 s)."""
    print("\n## Sensitivity: the burst day at other replica cold starts (same policies and parameters)")
    print(f"{'cold start':>10} {'infertel':>12} {'(a) CPU':>12} {'(b) HPA':>12} {'(c) hindsight':>16}  vs (a) (b) (c)")
    for cold in (120.0, 300.0, 600.0):
        model = ReplicaModel(cold_start_s=cold)
        ours = PredictiveAutoscaler(
            capacity_rps=caps,
            target_running=running,
            forecaster=HoltWinters(step_s=STEP_S).fit(history, horizon_steps=3),
            cold_start_s=cold,
            backlog_drain_s=drain_s,
        )
        mine = _run(requests, model, ours, first, end_s)
        cpu = _run(requests, model, CpuThresholdPolicy(), first, end_s)
        hpa = _run(requests, model, HpaUtilizationPolicy(), first, end_s)
        n, fixed, _ = _hindsight(requests, model, end_s, mine.violation_minutes, first)
        verdicts = [
            mine.violation_minutes <= b.violation_minutes / 2 and mine.replica_hours <= b.replica_hours
            for b in (cpu, hpa)
        ]
        verdicts.append(mine.replica_hours <= 1.15 * fixed.replica_hours)

        def cell(r: SimulationResult) -> str:
            return f"{r.violation_minutes} / {r.replica_hours:.1f}"

        print(
            f"{cold:>9.0f}s {cell(mine):>12} {cell(cpu):>12} {cell(hpa):>12} {f'{n}: ' + cell(fixed):>16}  "
            + " ".join("PASS" if v else "FAIL" for v in verdicts)
        )
    print("  cells: violation minutes / replica-hours; (c): the hindsight fleet's size, then its figures")


def _autocorrelation(values: list[int], lag: int) -> float:
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values)
    cov = sum((values[i] - mean) * (values[i + lag] - mean) for i in range(len(values) - lag))
    return cov / var if var else 0.0


def _seasonal_day(
    seed: int, base_rps: float, lengths: list[tuple[int, int]], days: float, bursts_today: list[Burst]
) -> tuple[list[int], list[Request], float, Callable[[float], float]]:
    """Three weeks of history (5-min counts) and then ``days`` of requests, times from the day's start."""
    rng = random.Random(seed)
    season = Seasonality(base_rps=base_rps, daily_amplitude=0.8, trend_per_day=0.005)
    start = HISTORY_DAYS * DAY_S
    history_bursts = random_bursts(start, per_day=2.0, rng=rng)
    rate = rate_with_bursts(
        season, history_bursts + [Burst(start + b.start_s, b.duration_s, b.factor) for b in bursts_today]
    )
    history = bucket_counts(rate, start_s=0.0, end_s=start, step_s=STEP_S, rng=rng)
    end_s = days * DAY_S
    peak = max(rate(start + i * 60.0) for i in range(int(end_s // 60)))
    arrivals = poisson_arrivals(rate, start_s=start, end_s=start + end_s, max_rate=peak, rng=rng, lengths=lengths)
    requests = [Request(r.arrival_s - start, r.input_tokens, r.output_tokens) for r in arrivals]
    return history, requests, end_s, lambda t: rate(start + t)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=1.0, help="simulated days of synthetic traffic (default 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--base-rps", type=float, default=6.0, help="synthetic mean request rate (default 6)")
    parser.add_argument("--backlog-drain-s", type=float, default=300.0)
    parser.add_argument(
        "--sensitivity", action="store_true", help="also the burst day's verdicts at cold starts of 120, 300, 600 s"
    )
    args = parser.parse_args(argv)

    print(f"Real trace: {AZURE_ATTRIBUTION}")
    trace = azure_code_trace()
    lengths = [(r.input_tokens, r.output_tokens) for r in trace]
    model = ReplicaModel()
    t0 = time.perf_counter()
    table = simulated_capacity_table(model, lengths=lengths, duration_s=900.0, seed=args.seed)
    caps = {n: c.capacity_rps for n, c in table.items()}
    running = {n: c.running for n, c in table.items()}
    print(
        f"Replica: batch {model.max_batch}, cold start {model.cold_start_s:.0f} s. SLO per minute: p95 TTFT <= 2 s, "
        "p95 TPOT <= 100 ms. Measured per-replica capacity by fleet size (80% of the TTFT SLO, <= 1% bad "
        f"minutes; {time.perf_counter() - t0:.0f} s):"
    )
    for n, c in table.items():
        print(f"  {n} replica(s): {c.capacity_rps:.2f} req/s per replica at {c.running:.1f} running")

    ok = True
    mean_rate: list[float] = []  # the burst-free day's mean rate per minute
    scenarios = [
        ("Seasonal weekday, no burst", []),
        (
            "Seasonal weekday with 4 bursts (x1.5-x2, 10-30 min)",
            [
                Burst(3 * 3600.0, 900.0, 2.0),
                Burst(10.5 * 3600, 1200.0, 1.8),
                Burst(15 * 3600.0, 600.0, 2.0),
                Burst(20 * 3600.0, 1800.0, 1.5),
            ],
        ),
    ]
    for title, bursts in scenarios:
        history, requests, end_s, rate = _seasonal_day(args.seed, args.base_rps, lengths, args.days, bursts)
        if not bursts:
            print(
                "\nForecast of requests per 5 min (robust double-seasonal Holt-Winters, 90% intervals), "
                "rolling origin over the last week of history:"
            )
            print(f"{'horizon':>10} {'MASE':>6} {'MAE/seasonal-naive':>19} {'coverage':>9}")
            for steps, label in ((2, "10 min"), (12, "1 h"), (288, "1 day")):
                bt = backtest(history, step_s=STEP_S, horizon_steps=steps, train=14 * 288, every=3)
                print(f"{label:>10} {bt.mase:>6.2f} {bt.relative_mae:>19.2f} {bt.coverage:>9.2f}")

        def predictive(coverage: float = 0.9, history: list[int] = history) -> PredictiveAutoscaler:
            return PredictiveAutoscaler(
                capacity_rps=caps,
                target_running=running,
                forecaster=HoltWinters(step_s=STEP_S).fit(history, horizon_steps=3),
                cold_start_s=model.cold_start_s,
                backlog_drain_s=args.backlog_drain_s,
                coverage=coverage,
            )

        ours = predictive()
        first = max(1, math.ceil(rate(0.0) / caps[1]))
        frontier = []
        floors = []
        if bursts:
            floors = [onset_floors(requests, model, b) for b in bursts]
            # offline reference: infertel plus, one cold start before each burst, the fleet its floor says it needs
            warm = [(b, f[-1][0]) for b, f in zip(bursts, floors, strict=True) if f[0][1] > 0]
            prewarm = Prewarmed(predictive(), warm, cold_start_s=model.cold_start_s)
            frontier.append(("ref: pre-warmed (knows the bursts)", _run(requests, model, prewarm, first, end_s)))
            # standing headroom bought with replica-hours: the HPA at lower targets, infertel at a wider interval
            for target in (0.6, 0.5):
                hpa = _run(requests, model, HpaUtilizationPolicy(target=target), first, end_s)
                frontier.append((f"ref: HPA at {target:.0%} target", hpa))
            frontier.append(("ref: infertel, 98% interval", _run(requests, model, predictive(0.98), first, end_s)))
        passed, rows = compare(
            title,
            requests,
            model=model,
            end_s=end_s,
            ours=ours,
            start_replicas=first,
            bursts=bursts,
            frontier=frontier,
        )
        ok &= passed
        if bursts:
            hpa = rows[2].result
            print_burst_bounds(
                bursts,
                floors,
                [(row.policy, row.result.timeline) for row in rows[:3]],
                mean_rate=mean_rate,
                replicas_for=ours.replicas_for,
                budget=(rows[2].policy, hpa.replica_hours, hpa.violation_minutes // 2),
            )
            if args.sensitivity:
                _sensitivity(requests, caps, running, history, first, end_s, args.backlog_drain_s)
        else:
            mean_rate = [rate(60.0 * m) for m in range(int(end_s // 60))]

    replay = azure_code_trace(speedup=REPLAY_SPEEDUP)
    replay_end = replay[-1].arrival_s
    fast = ReplicaModel(cold_start_s=REPLAY_COLD_START_S)
    reactive = PredictiveAutoscaler(
        capacity_rps=caps, target_running=running, cold_start_s=fast.cold_start_s, backlog_drain_s=args.backlog_drain_s
    )
    first = max(1, math.ceil(len(replay) / replay_end / caps[1]))
    frontier = [(f"ref: fixed fleet of {n}", _run(replay, fast, None, n, replay_end)) for n in (1, 2, 4, 5)]
    for factor in (0.75, 1.0, 1.5, 2.0):
        oracle = Clairvoyant(replay, sizing=reactive, cold_start_s=fast.cold_start_s, factor=factor)
        frontier.append((f"ref: clairvoyant x{factor:g}", _run(replay, fast, oracle, first, replay_end)))
    reactive = PredictiveAutoscaler(
        capacity_rps=caps, target_running=running, cold_start_s=fast.cold_start_s, backlog_drain_s=args.backlog_drain_s
    )
    passed, rows = compare(
        f"Azure code trace x{REPLAY_SPEEDUP:g} rate, cold start {REPLAY_COLD_START_S:.0f} s (no history: "
        "LLM signals only)",
        replay,
        model=fast,
        end_s=replay_end,
        ours=reactive,
        start_replicas=first,
        frontier=frontier,
    )
    ok &= passed
    # (a), (b): half their violation minutes at their cost; (c) for each fixed fleet n: its violation minutes
    # at 1.15 x its cost (a policy reaching that passes against whichever fleet is then the hindsight one)
    budgets = [(row.policy, row.result.replica_hours, row.result.violation_minutes // 2) for row in rows[1:3]]
    fixed_rows = [(label[5:], result) for label, result in frontier if label.startswith("ref: fixed")]
    fixed_rows.append((rows[3].policy[4:], rows[3].result))
    seen = set()
    for label, result in sorted(fixed_rows, key=lambda x: x[1].replica_hours):
        if result.replica_hours in seen:
            continue
        seen.add(result.replica_hours)
        budgets.append((f"(c) {label}", 1.15 * result.replica_hours, result.violation_minutes))
    print_trace_bounds(replay, fast, start=first, end_s=replay_end, budgets=budgets)
    counts = [0] * (int(replay_end // 60) + 1)
    for r in replay:
        counts[int(r.arrival_s // 60)] += 1
    lag = max(1, round(fast.cold_start_s / 60))
    print(
        f"  requests per minute: mean {sum(counts) / len(counts):.0f}, range {min(counts)}-{max(counts)}; "
        f"autocorrelation at the cold-start lag ({lag} min): {_autocorrelation(counts, lag):+.2f} "
        "(what arrives one cold start ahead is not predictable from what arrives now)"
    )
    print("\nOVERALL:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
