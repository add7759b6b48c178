"""A discrete-event simulator of an LLM serving fleet with continuous batching and cold starts.

Requests wait in one FIFO queue in front of the fleet (the router's queue) and are admitted to the
ready replica with the fewest running sequences that has a free batch slot. A replica runs up to
``max_batch`` sequences at once (continuous batching): a sequence admitted when ``c`` sequences run
(itself included) has its time to first token and its time per output token from the replica model
at concurrency ``c``, fixed at admission (an approximation of iteration-level batching that keeps the
simulator an event queue with two events per request). With ``Request.service_s`` set, service times
ignore the model, which makes the fleet an M/M/c queue when arrivals are Poisson and service times
exponential: the known answer the tests check against Erlang C.

An autoscaling policy, when given, is asked every ``interval_s`` for the desired replica count: a new
replica serves after ``cold_start_s`` (and is paid for from the moment it is asked for); a removed
replica stops taking requests at once and is paid for until its running sequences finish.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from infertel.simulate._traffic import Request

_COMPLETE, _READY, _TICK = 0, 1, 2


@dataclass(frozen=True)
class ReplicaModel:
    """How one replica serves: batch size, prefill and decode speed and how they slow with concurrency.

    ``ttft(c) = base_ttft_s + input_tokens * prefill_s_per_token * (1 + ttft_growth * (c - 1))`` and
    ``tpot(c) = tpot_s * (1 + tpot_growth * (c - 1))`` for ``c`` running sequences.

    Example:
        >>> m = ReplicaModel()
        >>> m.tpot(8) > m.tpot(1)
        True
    """

    max_batch: int = 8
    base_ttft_s: float = 0.05
    prefill_s_per_token: float = 0.00012
    ttft_growth: float = 0.12
    tpot_s: float = 0.04
    tpot_growth: float = 0.06
    cold_start_s: float = 600.0
    kv_tokens: int = 65_536

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {self.max_batch!r}")
        if self.cold_start_s < 0:
            raise ValueError(f"cold_start_s must be >= 0, got {self.cold_start_s!r}")

    def ttft(self, input_tokens: int, concurrency: int) -> float:
        """Time to first token (prefill) of a prompt admitted at ``concurrency``."""
        return self.base_ttft_s + input_tokens * self.prefill_s_per_token * (1 + self.ttft_growth * (concurrency - 1))

    def tpot(self, concurrency: int) -> float:
        """Time per output token at ``concurrency``."""
        return self.tpot_s * (1 + self.tpot_growth * (concurrency - 1))


@dataclass(frozen=True)
class Observation:
    """What an autoscaling policy sees at each decision (the fleet's signals over the last interval).

    Attributes:
        time_s: simulated time.
        interval_s: seconds since the previous decision.
        replicas: replicas asked for and not removed (starting ones included).
        ready: replicas serving.
        waiting: requests queued now.
        running: sequences running now, all replicas.
        arrivals: requests that arrived during the interval.
        utilization: mean batch-slot occupancy of the ready replicas over the interval (0-1).
        cpu_utilization: modelled CPU utilization (the simulator takes it equal to ``utilization``,
            the most favourable reading for CPU-based policies).
        kv_cache_usage: tokens held by running sequences over the fleet's KV capacity (0-1), now.
        ttft_p95_s: p95 time to first token of the requests admitted in the interval (None: none).
        max_batch: the replica's batch size.

    Example:
        >>> Observation(0.0, 15.0, 1, 1, 0, 0, 0, 0.0, 0.0, 0.0, None, 8).ready
        1
    """

    time_s: float
    interval_s: float
    replicas: int
    ready: int
    waiting: int
    running: int
    arrivals: int
    utilization: float
    cpu_utilization: float
    kv_cache_usage: float
    ttft_p95_s: float | None
    max_batch: int


class Policy(Protocol):
    """An autoscaling policy: ``decide`` returns the desired replica count (called from one thread)."""

    interval_s: float

    def decide(self, obs: Observation) -> int:
        """The desired number of replicas after seeing ``obs``."""
        ...


@dataclass
class _Replica:
    ready: bool
    running: int = 0
    tokens: int = 0
    draining: bool = False
    removed: bool = False


@dataclass
class SimulationResult:
    """What a simulation measured.

    Attributes:
        requests: requests served.
        mean_wait_s: mean time in the queue before admission.
        minutes: per minute of arrivals: (requests, p95 TTFT s, p95 TPOT s, violated).
        violation_minutes: minutes whose p95 TTFT or p95 TPOT broke the SLO.
        replica_hours: replica time paid for within the simulated span (starting and draining included).
        timeline: (time s, replicas, ready) at each policy decision.
        ttft_p95_s: p95 time to first token over all requests.
        mean_running: time-average of the sequences running, over the whole fleet.

    Example:
        >>> SimulationResult(0, 0.0, [], 0, 0.0, []).violation_minutes
        0
    """

    requests: int
    mean_wait_s: float
    minutes: list[tuple[int, float, float, bool]]
    violation_minutes: int
    replica_hours: float
    timeline: list[tuple[float, int, int]] = field(default_factory=list)
    ttft_p95_s: float = 0.0
    mean_running: float = 0.0


def _p95(values: list[float]) -> float:
    values.sort()
    return values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]


def simulate(
    requests: Sequence[Request],
    *,
    model: ReplicaModel | None = None,
    replicas: int = 1,
    policy: Policy | None = None,
    slo_ttft_s: float = 2.0,
    slo_tpot_s: float = 0.1,
    end_s: float | None = None,
    max_replicas: int = 1000,
    samples: list[tuple[int, float, float, float]] | None = None,
) -> SimulationResult:
    """Run the fleet over ``requests`` (sorted by arrival) and measure waits, SLO minutes and cost.

    Args:
        requests: the trace, sorted by ``arrival_s``.
        model: the replica model (default ``ReplicaModel()``).
        replicas: replicas ready at time 0.
        policy: an autoscaling policy; ``None`` keeps ``replicas`` fixed.
        slo_ttft_s: the p95 time-to-first-token objective per minute.
        slo_tpot_s: the p95 time-per-output-token objective per minute.
        end_s: the span paid for and decided over (default: the last arrival).
        max_replicas: the policy's answers are clamped to [1, max_replicas].
        samples: when given, one ``(concurrency at admission, TTFT s, TPOT s, latency s)`` per request
            is appended: the per-request measurements a capacity model is fitted on.

    Example:
        >>> from infertel.simulate import Request
        >>> r = simulate([Request(0.0, 100, 10)], replicas=1)
        >>> r.requests, r.violation_minutes
        (1, 0)
    """
    model = model or ReplicaModel()
    if replicas < 1:
        raise ValueError(f"replicas must be >= 1, got {replicas!r}")
    end = end_s if end_s is not None else (requests[-1].arrival_s if requests else 0.0)
    fleet = [_Replica(ready=True) for _ in range(replicas)]
    queue: deque[Request] = deque()
    events: list[tuple[float, int, int, object]] = []
    seq = 0
    if policy is not None:
        events.append((policy.interval_s, 0, _TICK, None))
    per_minute: dict[int, tuple[list[float], list[float]]] = {}
    wait_sum = 0.0
    served = 0
    now = 0.0
    running_total = 0
    tokens_total = 0
    ready_slots = replicas * model.max_batch
    acc_running = acc_slots = replica_seconds = total_running = 0.0
    provisioned = replicas  # not removed, draining included: what is paid for
    interval_arrivals = 0
    interval_ttfts: list[float] = []
    timeline: list[tuple[float, int, int]] = []
    last_tick = 0.0
    index = 0

    def advance(to: float) -> None:
        nonlocal now, acc_running, acc_slots, replica_seconds, total_running
        dt = to - now
        if dt > 0:
            acc_running += running_total * dt
            total_running += running_total * dt
            acc_slots += ready_slots * dt
            if now < end:
                replica_seconds += provisioned * (min(to, end) - now)
            now = to

    def admit() -> None:
        nonlocal seq, wait_sum, served, running_total, tokens_total
        while queue:
            best = None
            for rep in fleet:
                if rep.ready and not rep.draining and rep.running < model.max_batch:
                    if best is None or rep.running < best.running:
                        best = rep
            if best is None:
                return
            req = queue.popleft()
            best.running += 1
            running_total += 1
            size = req.input_tokens + req.output_tokens
            best.tokens += size
            tokens_total += size
            wait = now - req.arrival_s
            wait_sum += wait
            served += 1
            if req.service_s is not None:
                ttft, tpot, service = wait, 0.0, req.service_s
            else:
                prefill = model.ttft(req.input_tokens, best.running)
                tpot = model.tpot(best.running)
                ttft = wait + prefill
                service = prefill + tpot * req.output_tokens
            interval_ttfts.append(ttft)
            if samples is not None:
                samples.append((best.running, ttft, tpot, wait + service))
            bucket = per_minute.setdefault(int(req.arrival_s // 60), ([], []))
            bucket[0].append(ttft)
            bucket[1].append(tpot)
            seq += 1
            heapq.heappush(events, (now + service, seq, _COMPLETE, (best, size)))

    def scale_to(desired: int) -> None:
        nonlocal seq, provisioned, ready_slots
        live = [r for r in fleet if not r.draining and not r.removed]
        if desired > len(live):
            for _ in range(desired - len(live)):
                rep = _Replica(ready=model.cold_start_s == 0)
                fleet.append(rep)
                provisioned += 1
                if rep.ready:
                    ready_slots += model.max_batch
                else:
                    seq += 1
                    heapq.heappush(events, (now + model.cold_start_s, seq, _READY, rep))
        elif desired < len(live):
            # cancel starting replicas first, then drain the least busy ready ones
            for rep in sorted(live, key=lambda r: (r.ready, r.running))[: len(live) - desired]:
                rep.draining = True
                if rep.ready:
                    ready_slots -= model.max_batch
                if rep.running == 0:
                    rep.removed = True
                    provisioned -= 1
            fleet[:] = [r for r in fleet if not r.removed]

    while index < len(requests) or events:
        next_arrival = requests[index].arrival_s if index < len(requests) else math.inf
        if events and events[0][0] <= next_arrival:
            t, _, kind, data = heapq.heappop(events)
            if kind == _TICK and (t > end or policy is None):
                continue
            advance(t)
            if kind == _COMPLETE:
                done, size = cast("tuple[_Replica, int]", data)
                done.running -= 1
                done.tokens -= size
                running_total -= 1
                tokens_total -= size
                if done.draining and done.running == 0:
                    done.removed = True
                    provisioned -= 1
                    fleet.remove(done)
            elif kind == _READY:
                started = cast("_Replica", data)
                if not started.draining:
                    started.ready = True
                    ready_slots += model.max_batch
            else:
                assert policy is not None
                occupancy = acc_running / acc_slots if acc_slots > 0 else 1.0
                live = [r for r in fleet if not r.draining]
                ready_count = sum(1 for r in live if r.ready)
                kv = tokens_total / (ready_count * model.kv_tokens) if ready_count else 1.0
                obs = Observation(
                    now,
                    now - last_tick,
                    len(live),
                    ready_count,
                    len(queue),
                    running_total,
                    interval_arrivals,
                    occupancy,
                    occupancy,
                    min(1.0, kv),
                    _p95(interval_ttfts) if interval_ttfts else None,
                    model.max_batch,
                )
                desired = max(1, min(max_replicas, int(policy.decide(obs))))
                scale_to(desired)
                timeline.append((now, desired, ready_count))
                acc_running = acc_slots = 0.0
                interval_arrivals = 0
                interval_ttfts = []
                last_tick = now
                seq += 1
                heapq.heappush(events, (now + policy.interval_s, seq, _TICK, None))
            admit()
        else:
            advance(next_arrival)
            queue.append(requests[index])
            index += 1
            interval_arrivals += 1
            admit()
    advance(max(now, end))
    minutes = []
    violations = 0
    every_ttft = [v for ttfts, _ in per_minute.values() for v in ttfts]
    for minute in sorted(per_minute):
        ttfts, tpots = per_minute[minute]
        p_ttft, p_tpot = _p95(ttfts), _p95(tpots)
        bad = p_ttft > slo_ttft_s or p_tpot > slo_tpot_s
        violations += bad
        minutes.append((len(ttfts), p_ttft, p_tpot, bad))
    return SimulationResult(
        requests=served,
        mean_wait_s=wait_sum / served if served else 0.0,
        minutes=minutes,
        violation_minutes=violations,
        replica_hours=replica_seconds / 3600.0,
        timeline=timeline,
        ttft_p95_s=_p95(every_ttft) if every_ttft else 0.0,
        mean_running=total_running / now if now > 0 else 0.0,
    )
