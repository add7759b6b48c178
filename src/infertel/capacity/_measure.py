"""Per-replica capacity measured on the simulator: the highest load one replica carries within the SLO."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from infertel.simulate import ReplicaModel, poisson_arrivals, simulate


@dataclass(frozen=True)
class ReplicaCapacity:
    """What one replica sustains at the SLO.

    Attributes:
        capacity_rps: the highest Poisson arrival rate whose p95 TTFT and TPOT stay within the SLO.
        running: the mean running requests at that rate (the concurrency to hold per replica).
        ttft_p95_s: p95 time to first token at that rate.

    Example:
        >>> ReplicaCapacity(3.0, 6.0, 1.2).capacity_rps
        3.0
    """

    capacity_rps: float
    running: float
    ttft_p95_s: float


def _constant(rate: float) -> Callable[[float], float]:
    return lambda _t: rate


def simulated_capacity(
    model: ReplicaModel,
    *,
    lengths: Sequence[tuple[int, int]],
    slo_ttft_s: float = 2.0,
    slo_tpot_s: float = 0.1,
    duration_s: float = 1800.0,
    headroom: float = 0.8,
    replicas: int = 1,
    seed: int = 0,
) -> ReplicaCapacity:
    """Bisect the highest arrival rate at which the replicas meet the SLO with headroom.

    Met means: p95 TTFT over the run at most ``headroom * slo_ttft_s``, at most 1% of minutes
    breaking the per-minute SLO (p95 TTFT and TPOT), and p95 of the minutes' TPOT within its SLO.

    Args:
        model: the replica.
        lengths: (input, output) token pairs the requests draw from (e.g. the real trace's).
        slo_ttft_s: the time-to-first-token objective (p95).
        slo_tpot_s: the time-per-output-token objective (p95).
        duration_s: simulated time per trial load.
        headroom: aim below the SLO by this factor, so a fleet at the capacity still meets it.
        replicas: measure a fleet of this many behind one queue and divide (a fleet pools its
            queue, so per-replica capacity grows with the fleet; measure at the typical size).
        seed: random seed of the arrivals.

    Example:
        >>> cap = simulated_capacity(ReplicaModel(), lengths=[(1000, 20)], duration_s=300.0)
        >>> cap.capacity_rps > 0
        True
    """
    if replicas < 1:
        raise ValueError(f"replicas must be >= 1, got {replicas!r}")
    low, high = 0.0, replicas * model.max_batch / model.base_ttft_s
    best = ReplicaCapacity(0.0, 0.0, 0.0)
    for _ in range(18):
        rate = (low + high) / 2
        reqs = poisson_arrivals(
            _constant(rate), start_s=0.0, end_s=duration_s, max_rate=rate, rng=random.Random(seed), lengths=lengths
        )
        result = None
        if reqs:
            result = simulate(
                reqs, model=model, replicas=replicas, end_s=duration_s, slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s
            )
        ok = result is not None and result.ttft_p95_s <= headroom * slo_ttft_s
        # and the SLO as it is judged, per minute: at most 1% of minutes may break it
        ok = ok and result is not None and result.violation_minutes <= 0.01 * len(result.minutes)
        if ok and result is not None:
            tpots = sorted(p for _, _, p, _ in result.minutes)
            ok = not tpots or tpots[int(0.95 * (len(tpots) - 1))] <= slo_tpot_s
        if ok and result is not None:
            low = rate
            best = ReplicaCapacity(rate / replicas, result.mean_running / replicas, result.ttft_p95_s)
        else:
            high = rate
    return best


def simulated_capacity_table(
    model: ReplicaModel,
    *,
    lengths: Sequence[tuple[int, int]],
    sizes: Sequence[int] = (1, 2, 4, 8),
    slo_ttft_s: float = 2.0,
    slo_tpot_s: float = 0.1,
    duration_s: float = 1200.0,
    headroom: float = 0.8,
    seed: int = 0,
) -> dict[int, ReplicaCapacity]:
    """Per-replica capacity at several fleet sizes (pooling raises it with the size).

    Example:
        >>> table = simulated_capacity_table(ReplicaModel(), lengths=[(800, 20)], sizes=(1, 2), duration_s=300.0)
        >>> table[2].capacity_rps >= table[1].capacity_rps * 0.95
        True
    """
    return {
        n: simulated_capacity(
            model,
            lengths=lengths,
            slo_ttft_s=slo_ttft_s,
            slo_tpot_s=slo_tpot_s,
            duration_s=duration_s,
            headroom=headroom,
            replicas=n,
            seed=seed,
        )
        for n in sizes
    }
