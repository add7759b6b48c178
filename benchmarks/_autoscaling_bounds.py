"""Bounds for benchmarks/autoscaling.py: what no policy can beat, and what knowing the future buys.

Two kinds of reference:

- **Relaxed offline bound** (a lower bound on violation minutes for *any* fleet schedule, clairvoyant
  ones included, at a replica-hour budget): each minute's requests are served alone on an idle fleet to
  find the fewest replicas that meet the SLO in that minute (``minute_needs``); a dynamic programme then
  chooses one fleet size per minute that minimises violation minutes within the budget, paying every
  added replica its cold start and starting from the benchmark's initial fleet. It relaxes the
  simulator in the schedule's favour: no backlog is carried between minutes, a removed replica costs
  nothing after the minute, and the fleet is whole minutes. Its assumption: a backlog or busy replicas
  at a minute's start never make that minute's p95 better (FIFO queue).
- **Offline schedules** (an upper bound on the offline optimum): the programme's schedules, run on the
  real simulator with one replica of margin and trimmed where a replica less costs no violation.
- **Onset floor** (for any causal policy): a replica asked at a burst's onset serves only after the
  cold start, so until then the burst meets the fleet ordered before it. ``onset_floor`` gives the
  violation minutes of a burst window for a fleet held at the onset and an unbounded fleet ordered at
  the first decision after it.
- **Clairvoyant references**: ``Prewarmed`` (a policy plus, one cold start before each burst, the fleet
  its onset floor says it needs) and ``Clairvoyant`` (sizes the fleet from the arrivals one cold start
  ahead). Both know the future.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

from infertel.autoscaling import PredictiveAutoscaler
from infertel.simulate import Burst, Observation, ReplicaModel, Request, SimulationResult, simulate


def minute_needs(requests: Sequence[Request], model: ReplicaModel, *, minutes: int, max_fleet: int = 40) -> list[int]:
    """Per minute: the fewest replicas serving that minute's requests alone (idle at its start) within the SLO.

    0 for a minute without arrivals; ``max_fleet + 1`` when even ``max_fleet`` replicas miss it.
    """
    by_minute: dict[int, list[Request]] = {}
    for r in requests:
        by_minute.setdefault(int(r.arrival_s // 60), []).append(r)
    idle = ReplicaModel(
        max_batch=model.max_batch,
        base_ttft_s=model.base_ttft_s,
        prefill_s_per_token=model.prefill_s_per_token,
        ttft_growth=model.ttft_growth,
        tpot_s=model.tpot_s,
        tpot_growth=model.tpot_growth,
        cold_start_s=0.0,
        kv_tokens=model.kv_tokens,
    )
    needs = [0] * minutes
    guess = 1
    for m in range(minutes):
        reqs = by_minute.get(m)
        if not reqs:
            continue
        shifted = [Request(r.arrival_s - 60.0 * m, r.input_tokens, r.output_tokens) for r in reqs]

        def ok(n: int, shifted: list[Request] = shifted) -> bool:
            return simulate(shifted, model=idle, replicas=n, end_s=60.0).violation_minutes == 0

        # neighbouring minutes need about as much: search from the last answer, both ways
        n = max(1, min(guess, max_fleet))
        if ok(n):
            while n > 1 and ok(n - 1):
                n -= 1
        else:
            while n <= max_fleet and not ok(n):
                n += 1
        needs[m] = guess = n
    return needs


class _Node(NamedTuple):
    cost: float  # replica-minutes
    violations: int
    back: tuple[int, _Node] | None


def _prune(nodes: list[_Node]) -> list[_Node]:
    nodes.sort(key=lambda x: (x.cost, x.violations))
    out: list[_Node] = []
    best = math.inf
    for node in nodes:
        if node.violations < best:
            out.append(node)
            best = node.violations
    return out


def pareto_schedules(
    needs: Sequence[int],
    lengths: Sequence[float],
    *,
    start: int,
    cold_min: float,
    fixed_minutes: int,
    max_fleet: int,
) -> list[_Node]:
    """Every Pareto-optimal (replica-minutes, violation minutes) fleet schedule of the relaxed problem.

    Minute ``m`` is violated when its fleet is below ``needs[m]``; the first ``fixed_minutes`` keep the
    start fleet (nothing asked at the first decision is ready sooner); each added replica pays ``cold_min``.
    """
    states: dict[int, list[_Node]] = {start: [_Node(0.0, 0, None)]}
    for m, need in enumerate(needs):
        grown: dict[int, list[_Node]] = {}
        for fleet, front in states.items():
            for size in [fleet] if m < fixed_minutes else range(1, max_fleet + 1):
                add = max(0, size - fleet) * cold_min + size * lengths[m]
                bad = 1 if need and size < need else 0
                for node in front:
                    grown.setdefault(size, []).append(_Node(node.cost + add, node.violations + bad, (size, node)))
        states = {size: _prune(nodes) for size, nodes in grown.items()}
    return _prune([node for front in states.values() for node in front])


def floor_at(front: Sequence[_Node], budget_min: float) -> int | None:
    """The fewest violation minutes of the relaxed problem within ``budget_min`` replica-minutes."""
    return min((n.violations for n in front if n.cost <= budget_min + 1e-9), default=None)


def schedule_of(node: _Node) -> list[int]:
    """The fleet size per minute behind a node."""
    out = []
    current: _Node | None = node
    while current is not None and current.back is not None:
        size, current = current.back
        out.append(size)
    return out[::-1]


class ScheduledFleet:
    """A fleet schedule (one size per minute) played as a policy: replicas are asked one cold start early."""

    def __init__(self, sizes: Sequence[int], *, cold_start_s: float, interval_s: float = 15.0) -> None:
        self.sizes, self.cold_start_s, self.interval_s = list(sizes), cold_start_s, interval_s

    def _at(self, t: float) -> int:
        return self.sizes[min(int(t // 60), len(self.sizes) - 1)]

    def decide(self, obs: Observation) -> int:
        return max(self._at(obs.time_s), self._at(obs.time_s + self.cold_start_s + self.interval_s))


def offline_search(
    requests: Sequence[Request],
    model: ReplicaModel,
    needs: Sequence[int],
    lengths: Sequence[float],
    *,
    start: int,
    end_s: float,
    budgets_h: Sequence[float],
    max_fleet: int,
) -> dict[float, tuple[int, float]]:
    """Per budget: the fewest violation minutes (and their replica-hours) an offline schedule reaches on the simulator.

    Schedules: a constant fleet asked at the first decision, and the relaxed programme's Pareto schedules
    with 0, 1 or 2 replicas of margin on every busy minute, simulated; per budget the best of them up to 10%
    over it is then trimmed (a replica less in a minute wherever that costs no violation minute).
    """
    cold_min = model.cold_start_s / 60.0
    fixed = math.ceil((model.cold_start_s + 15.0) / 60.0)
    tried: list[tuple[float, int]] = []
    for size in range(1, max_fleet + 1):
        constant = _play(requests, model, [size] * len(needs), start, end_s)
        tried.append((constant.replica_hours, constant.violation_minutes))
    played: list[tuple[SimulationResult, list[int]]] = []
    for margin in (0, 1, 2):
        padded = [n + margin if n else 0 for n in needs]
        front = pareto_schedules(
            padded, lengths, start=start, cold_min=cold_min, fixed_minutes=fixed, max_fleet=max_fleet
        )
        for node in front:
            if node.cost <= max(budgets_h) * 60.0 * 1.1:
                sizes = schedule_of(node)
                played.append((_play(requests, model, sizes, start, end_s), sizes))
    tried += [(result.replica_hours, result.violation_minutes) for result, _ in played]
    for budget in budgets_h:
        # trim the best schedule up to 10% over the budget: a replica less wherever that costs no violation
        within = [(r.violation_minutes, r.replica_hours, i) for i, (r, _) in enumerate(played)]
        within = [x for x in within if x[1] <= budget * 1.1]
        if not within:
            continue
        result, sizes = played[min(within)[2]]
        for m in range(fixed, len(sizes)):
            if sizes[m] > 1:
                trimmed = [*sizes[:m], sizes[m] - 1, *sizes[m + 1 :]]
                cheaper = _play(requests, model, trimmed, start, end_s)
                if cheaper.violation_minutes <= result.violation_minutes:
                    sizes, result = trimmed, cheaper
        tried.append((result.replica_hours, result.violation_minutes))
    out = {}
    for budget in budgets_h:
        within = [(v, rh) for rh, v in tried if rh <= budget + 1e-9]
        if within:
            out[budget] = min(within)
    return out


def _play(
    requests: Sequence[Request], model: ReplicaModel, sizes: list[int], start: int, end_s: float
) -> SimulationResult:
    policy = ScheduledFleet(sizes, cold_start_s=model.cold_start_s)
    return simulate(requests, model=model, policy=policy, replicas=start, end_s=end_s)


class _Onset:
    """Holds ``before`` replicas until the onset, then asks ``after`` at once (an unbounded answer)."""

    interval_s = 15.0

    def __init__(self, onset_s: float, before: int, after: int) -> None:
        self.onset_s, self.before, self.after = onset_s, before, after

    def decide(self, obs: Observation) -> int:
        return self.before if obs.time_s < self.onset_s else self.after


def onset_floor(
    requests: Sequence[Request], model: ReplicaModel, burst: Burst, fleet: int, *, after: int, lead_s: float = 1200.0
) -> int:
    """Violation minutes from a burst's onset to 10 minutes past its cold start, for ``fleet`` held at the onset.

    The fleet is ready from ``lead_s`` before the onset (no backlog at the onset) and ``after`` replicas are
    asked at the first decision after it, so the count is what the cold start alone costs.
    """
    t0 = burst.start_s - lead_s
    window = [
        Request(r.arrival_s - t0, r.input_tokens, r.output_tokens)
        for r in requests
        if t0 <= r.arrival_s < burst.start_s + model.cold_start_s + 1200.0
    ]
    result = simulate(
        window, model=model, policy=_Onset(lead_s, fleet, after), replicas=fleet, end_s=window[-1].arrival_s
    )
    first = int(lead_s // 60)
    last = first + int((model.cold_start_s + 600.0) // 60)
    by_minute = {int(r.arrival_s // 60) for r in window}
    minutes = sorted(by_minute)
    return sum(1 for m, row in zip(minutes, result.minutes, strict=True) if row[3] and first <= m < last)


class Prewarmed:
    """A clairvoyant reference: ``inner`` plus, from one cold start before each burst, the fleet it needs."""

    def __init__(self, inner: object, bursts: Sequence[tuple[Burst, int]], *, cold_start_s: float) -> None:
        self.inner, self.bursts, self.cold_start_s = inner, list(bursts), cold_start_s
        self.interval_s = inner.interval_s  # type: ignore[attr-defined]

    def decide(self, obs: Observation) -> int:
        wanted = self.inner.decide(obs)  # type: ignore[attr-defined]
        for burst, size in self.bursts:
            if burst.start_s - self.cold_start_s - 2 * self.interval_s <= obs.time_s < burst.start_s + burst.duration_s:
                wanted = max(wanted, size)
        return wanted


def onset_floors(
    requests: Sequence[Request], model: ReplicaModel, burst: Burst, *, largest: int = 16
) -> list[tuple[int, int]]:
    """``(fleet at the onset, onset floor)`` from 1 replica up to the first fleet whose floor is 0."""
    out = []
    for fleet in range(1, largest + 1):
        out.append((fleet, onset_floor(requests, model, burst, fleet, after=max(4 * fleet, 12))))
        if out[-1][1] == 0:
            break
    return out


def ready_at(timeline: Sequence[tuple[float, int, int]], t: float) -> int:
    """Replicas ready at the first decision at or after ``t``."""
    return next((ready for when, _, ready in timeline if when >= t), 0)


def _clock(t: float) -> str:
    return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}"


def print_burst_bounds(
    bursts: Sequence[Burst],
    floors: Sequence[list[tuple[int, int]]],
    rows: Sequence[tuple[str, list[tuple[float, int, int]]]],
    *,
    mean_rate: Sequence[float],
    replicas_for: Callable[[float, int], int],
    budget: tuple[str, float, int],
) -> None:
    """The onset floors, the fleets the policies held at each onset, and what standing headroom costs."""
    print(
        "  onset floor (any causal policy): violation minutes from a burst's onset to 10 min past its cold start,\n"
        "  by the fleet ready at the onset (asked before it, so without knowing it) when an unbounded fleet is\n"
        "  asked at the first decision after it; and the fleet each policy had ready at the onset:"
    )
    held_sum = 0
    for burst, floor in zip(bursts, floors, strict=True):
        held = {label.split()[0]: ready_at(timeline, burst.start_s) for label, timeline in rows}
        held_sum += _floor(floor, held["infertel"])
        steps = " ".join(f"{n}:{v}" for n, v in floor)
        print(
            f"    {_clock(burst.start_s)} x{burst.factor:g} {burst.duration_s / 60:.0f} min   fleet:floor {steps}"
            f"   held: {', '.join(f'{label} {n}' for label, n in held.items())}"
        )
    label, hours, target = budget
    print(f"  floors at infertel's onset fleets: {held_sum} minutes in all (target vs {label}: <= {target} in all)")
    print(
        "  a policy that cannot know the onsets holds its headroom wherever a burst may start; with h x the capacity\n"
        "  the exact mean rate needs at every minute (no forecast error, no noise: a lower bound on the cost):"
    )
    print(f"    {'h':>5} {'fleets at the onsets':>22} {'sum of floors':>14} {'replica-h, whole day':>21}")
    for h in (1.0, 1.25, 1.5, 1.75, 2.0):
        fleets = [replicas_for(h * mean_rate[int(b.start_s // 60)], 0) for b in bursts]
        total = sum(_floor(f, n) for f, n in zip(floors, fleets, strict=True))
        cost = sum(replicas_for(h * x, 0) for x in mean_rate) / 60.0
        print(f"    {h:>5.2f} {' '.join(str(n) for n in fleets):>22} {total:>14} {cost:>21.1f}")
    for step in range(100, 301, 5):
        h = step / 100
        fleets = [replicas_for(h * mean_rate[int(b.start_s // 60)], 0) for b in bursts]
        total = sum(_floor(f, n) for f, n in zip(floors, fleets, strict=True))
        if total <= target:
            cost = sum(replicas_for(h * x, 0) for x in mean_rate) / 60.0
            print(
                f"  the least such headroom whose floors stay within {target} minutes: h = {h:.2f} (floors {total}), "
                f">= {cost:.1f} replica-h against a budget of {hours:.1f}: "
                + ("within it" if cost <= hours else "INFEASIBLE for such a policy")
            )
            break


def _floor(floor: list[tuple[int, int]], fleet: int) -> int:
    return dict(floor).get(fleet, 0 if fleet > floor[-1][0] else floor[0][1])


def print_trace_bounds(
    requests: Sequence[Request],
    model: ReplicaModel,
    *,
    start: int,
    end_s: float,
    budgets: Sequence[tuple[str, float, int]],
) -> None:
    """The relaxed offline lower bound and the offline schedules' reach at each baseline's budget."""
    minutes = int(end_s // 60) + 1
    needs = minute_needs(requests, model, minutes=minutes)
    lengths = [min(1.0, end_s / 60.0 - m) for m in range(minutes)]
    fixed = int((model.cold_start_s + 15.0) // 60)
    big = max(needs) + 2
    front = pareto_schedules(
        needs, lengths, start=start, cold_min=model.cold_start_s / 60.0, fixed_minutes=fixed, max_fleet=big
    )
    reach = offline_search(
        requests, model, needs, lengths, start=start, end_s=end_s, budgets_h=[b for _, b, _ in budgets], max_fleet=big
    )
    print(
        "  offline bounds (any schedule, even one that knows the arrivals; relaxed lower bound <= optimum <= an "
        "offline schedule found on the simulator):"
    )
    for label, hours, target in budgets:
        low = floor_at(front, hours * 60.0)
        got = reach.get(hours)
        found = f"{got[0]} at {got[1]:.2f} replica-h" if got else "none"
        verdict = "not excluded"
        if low is not None and low > target:
            verdict = "INFEASIBLE for any schedule"
        elif got is not None and got[0] <= target:
            verdict = "reached offline (by a schedule that knows the arrivals)"
        print(
            f"    at <= {hours:.2f} replica-h ({label}): lower bound {low}, offline schedule {found}; "
            f"target <= {target}: {verdict}"
        )


class Clairvoyant:
    """A reference that sees the future (no real policy can): the fleet the next arrivals need, asked early.

    At each decision it asks for the replicas that carry ``factor`` x the highest 1-minute arrival rate
    from now to one cold start plus one interval and one minute ahead, at the measured capacity. It
    bounds what knowing the arrivals buys; it is a heuristic, not the optimum.
    """

    def __init__(self, requests: list[Request], *, sizing: PredictiveAutoscaler, cold_start_s: float, factor: float):
        self.interval_s, self.cold_start_s, self.factor, self.sizing = 15.0, cold_start_s, factor, sizing
        self.counts: dict[int, int] = {}
        for r in requests:
            k = int(r.arrival_s // self.interval_s)
            self.counts[k] = self.counts.get(k, 0) + 1

    def decide(self, obs: Observation) -> int:
        now = int(obs.time_s // self.interval_s)
        ahead = math.ceil((self.cold_start_s + self.interval_s + 60.0) / self.interval_s)
        per_min = [sum(self.counts.get(k + j, 0) for j in range(4)) / 60.0 for k in range(now, now + ahead)]
        return self.sizing.replicas_for(self.factor * max(per_min), 0)
