"""PredictiveAutoscaler against a burst on the fleet simulator: the answer a backlog needs, sized at once."""

from __future__ import annotations

import random

from infertel.autoscaling import PredictiveAutoscaler
from infertel.forecast import HoltWinters
from infertel.simulate import ReplicaModel, poisson_arrivals, poisson_count, simulate

# 10 req/s, then x2.2 from 30 to 45 min; replicas take 5 min to start
_RATE, _ONSET, _END = 10.0, 1800.0, 4200.0


def _run(**settings: object) -> tuple[list[int], float]:
    rng = random.Random(5)
    history = [poisson_count(_RATE * 300, rng) for _ in range(3 * 288)]
    requests = poisson_arrivals(
        lambda t: _RATE * (2.2 if _ONSET <= t < _ONSET + 900.0 else 1.0),
        start_s=0.0,
        end_s=_END,
        max_rate=2.2 * _RATE,
        rng=rng,
        lengths=[(1000, 20)],
    )
    policy = PredictiveAutoscaler(
        capacity_rps=4.5,
        target_running=5.0,
        cold_start_s=300.0,
        forecaster=HoltWinters(step_s=300.0, seasons_s=(86_400.0,)).fit(history),
        **settings,  # type: ignore[arg-type]
    )
    result = simulate(requests, model=ReplicaModel(cold_start_s=300.0), policy=policy, replicas=3, end_s=_END)
    return [minute for minute, row in enumerate(result.minutes) if row[3]], result.replica_hours


def test_a_burst_loses_its_cold_start_and_little_more() -> None:
    bad, hours = _run()
    # the 5 minutes before a replica asked at the onset can serve, then 2 minutes to drain the backlog
    assert bad == [30, 31, 32, 33, 34, 35, 36]
    # sizing from the minute's mean and the queue alone (the previous policy) drains 2 minutes later
    old_bad, old_hours = _run(burst_z=None, project_backlog=False, hold_while_queued=False)
    assert old_bad == [30, 31, 32, 33, 34, 35, 36, 37, 38]
    # the larger answer costs replica-hours, not many
    assert old_hours < hours < old_hours * 1.1
