"""infertel's PredictiveAutoscaler: each signal's decision on known inputs, and the baselines."""

from __future__ import annotations

import math

import pytest

from infertel.autoscaling import (
    CpuThresholdPolicy,
    FixedPolicy,
    HpaUtilizationPolicy,
    PredictiveAutoscaler,
    Recommendation,
)
from infertel.forecast import HoltWinters
from infertel.simulate import Observation


def _obs(t: float, **fields: float | int | None) -> Observation:
    base: dict[str, float | int | None] = {
        "time_s": t,
        "interval_s": 15.0,
        "replicas": 2,
        "ready": 2,
        "waiting": 0,
        "running": 8,
        "arrivals": 60,
        "utilization": 0.5,
        "cpu_utilization": 0.5,
        "kv_cache_usage": 0.1,
        "ttft_p95_s": 0.5,
        "max_batch": 8,
    }
    base.update(fields)
    return Observation(**base)  # type: ignore[arg-type]


def test_steady_load_within_tolerance_keeps_the_fleet() -> None:
    # 4 req/s on 2 replicas of 2 req/s; 8 running at a target of 4 per replica
    policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0)
    assert policy.decide(_obs(15.0, arrivals=60)) == 2
    assert policy.last == Recommendation(
        time_s=15.0,
        desired_replicas=2,
        current_replicas=2,
        forecast_rps=None,
        forecast_upper_rps=None,
        capacity_rps=2.0,
        target_running=4.0,
        from_forecast=0,
        from_load=2,
        from_rate=2,
        from_ttft=0,
        from_kv_cache=0,
        reason="load",
    )


def test_a_queue_and_a_burst_of_arrivals_scale_up_at_once() -> None:
    policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0, backlog_drain_s=300.0, project_backlog=False)
    # 8 req/s arriving + 300 waiting (1 req/s over 300 s) = 9 req/s -> 5 replicas
    # (4 running per replica on average: on target, so the running requests ask for no more)
    assert policy.decide(_obs(15.0, arrivals=120, waiting=300, utilization=0.5)) == 4  # at most doubling
    assert policy.last is not None and (policy.last.from_rate, policy.last.reason) == (5, "rate")


def test_the_backlog_a_new_replica_will_find_is_projected_once() -> None:
    # 8 req/s on 2 ready replicas of 2 req/s: 4 req/s short. A replica asked at 15 s is ready at 615 s and
    # finds the queue plus 4 req/s x 585 s: (300 + 2340) / 300 s = 8.8 req/s on top of the 8 -> 9 replicas
    policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0, cold_start_s=600.0, backlog_drain_s=300.0)
    assert policy.decide(_obs(15.0, arrivals=120, waiting=300, utilization=0.5)) == 4  # at most doubling
    assert policy.last is not None and (policy.last.from_rate, policy.last.reason) == (9, "rate")
    # 300 s later the queue has grown by 4 req/s x 300 s and 300 s of the cold start are left: the same
    # projected backlog, so the same answer (the growth of the queue is not ordered twice)
    assert policy.decide(_obs(315.0, arrivals=120, waiting=1500, utilization=0.5, replicas=9)) == 9
    assert policy.last is not None and (policy.last.from_rate, policy.last.reason) == (9, "rate")
    # counting the queue alone asks for less at the onset (8 + 300 / 300 -> 5) and more once it has grown
    queue_only = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0, project_backlog=False)
    queue_only.decide(_obs(15.0, arrivals=120, waiting=300, utilization=0.5))
    assert queue_only.last is not None and queue_only.last.from_rate == 5


def test_a_burst_in_the_last_interval_beats_the_minutes_mean() -> None:
    # a flat forecast of 1 req/s; three quiet intervals, then 60 arrivals in 15 s (4 req/s): the minute's
    # mean (1 req/s) is within the forecast, the interval's count is 36 above it (beyond 3 Poisson sd)
    flat = HoltWinters(step_s=300.0, seasons_s=(86_400.0,)).fit([300.0] * (3 * 288))
    quiet = {"arrivals": 0, "utilization": 0.0, "running": 0, "replicas": 1, "ready": 1}
    for burst_z, expected in ((3.0, (2, 4, "rate")), (None, (1, 0, "forecast"))):
        policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0, forecaster=flat, burst_z=burst_z)
        for t in (15.0, 30.0, 45.0):
            policy.decide(_obs(t, **quiet))
        desired = policy.decide(_obs(60.0, **{**quiet, "arrivals": 60}))
        assert policy.last is not None
        # 4 req/s on 1 ready replica of 2 req/s: 2 short until 660 s, drained over 300 s: 4 + 1200/300
        assert (desired, policy.last.from_rate, policy.last.reason) == expected


def test_no_scale_down_while_requests_wait() -> None:
    policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0, scale_down_window_s=0.0)
    idle = {"replicas": 4, "ready": 4, "arrivals": 15, "utilization": 0.125}
    assert policy.decide(_obs(15.0, **idle, waiting=3)) == 4
    assert policy.last is not None and (policy.last.desired_replicas, policy.last.reason) == (4, "queue")
    assert policy.decide(_obs(30.0, **idle)) == 1
    lax = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0, scale_down_window_s=0.0, hold_while_queued=False)
    assert lax.decide(_obs(15.0, **idle, waiting=3)) == 1


def test_running_above_target_must_last_two_decisions_with_a_forecast() -> None:
    # a flat forecast of 1 req/s: the forecast needs 1 replica, the rate (4 req/s) 2 within tolerance
    flat = HoltWinters(step_s=300.0, seasons_s=(86_400.0,)).fit([300.0] * (3 * 288))
    policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0, forecaster=flat)
    busy = {"utilization": 1.0, "arrivals": 60}  # 8 running per replica on average
    assert policy.decide(_obs(15.0, **busy)) == 2
    assert policy.last is not None and (policy.last.from_load, policy.last.reason) == (2, "load")
    assert policy.decide(_obs(30.0, **busy)) == 4
    assert policy.last is not None and (policy.last.from_load, policy.last.reason) == (4, "load")
    # a single reading above target after a reading on target is held back again
    assert policy.decide(_obs(45.0, utilization=0.5, arrivals=60)) == 4  # the window holds 4
    assert policy.decide(_obs(60.0, replicas=4, ready=4, utilization=0.5, arrivals=60)) == 4
    assert policy.last is not None and policy.last.from_load == 4


def test_running_above_target_acts_on_one_reading_without_a_forecast() -> None:
    # reactive path (no history to forecast from): the running requests are the primary signal, as the HPA's
    policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0)
    assert policy.decide(_obs(15.0, utilization=1.0, arrivals=60)) == 4  # ceil(2 * 8 / 4)
    assert policy.last is not None and (policy.last.from_load, policy.last.from_rate, policy.last.reason) == (
        4,
        2,
        "load",
    )


def test_ttft_breach_adds_a_replica_only_when_none_is_starting() -> None:
    policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0, slo_ttft_s=2.0)
    assert policy.decide(_obs(15.0, ttft_p95_s=3.0)) == 2
    assert policy.decide(_obs(30.0, ttft_p95_s=3.0)) == 3
    assert policy.decide(_obs(45.0, ttft_p95_s=3.0, replicas=3, ready=2)) == 3  # the third is starting


def test_kv_cache_usage_scales_to_its_target() -> None:
    policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0, kv_cache_target=0.8)
    assert policy.decide(_obs(15.0, kv_cache_usage=0.95)) == 3  # ceil(2 * 0.95 / 0.8)
    assert policy.last is not None and policy.last.reason == "kv_cache"


def test_scale_down_waits_for_the_stabilization_window() -> None:
    policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0, scale_down_window_s=300.0)
    idle = {"replicas": 4, "ready": 4, "arrivals": 15, "utilization": 0.125}
    busy = {"replicas": 4, "ready": 4, "arrivals": 120, "utilization": 0.5}
    assert policy.decide(_obs(0.0, **busy)) == 4
    assert [policy.decide(_obs(t, **idle)) for t in (15.0, 150.0, 299.0)] == [4, 4, 4]
    # at 301 s the window still holds the 15 s decision, whose last minute had the busy arrivals
    # (135 requests over 30 s -> 4.5 req/s -> 3 replicas); from 316 s on only idle decisions remain
    assert policy.decide(_obs(301.0, **idle)) == 3
    assert policy.last is not None and policy.last.reason == "stabilization"
    assert policy.decide(_obs(316.0, **idle)) == 1
    assert policy.last is not None and policy.last.reason == "load"


def test_forecast_scales_up_ahead_of_a_daily_ramp() -> None:
    step = 300.0
    per_day = 288

    def rate(i: int) -> float:  # requests/s: 2 at night, 10 at 12:00
        return 6.0 - 4.0 * math.cos(2 * math.pi * i / per_day)

    history = [rate(i) * step for i in range(7 * per_day)]  # a week, ends at midnight
    model = HoltWinters(step_s=step, seasons_s=(86_400.0,)).fit(history)
    policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=4.0, forecaster=model, cold_start_s=600.0)
    # replay six hours of the ramp; at 06:00 the look-ahead covers 06:00-06:15 (buckets 72-74)
    desired = 0
    for tick in range(1, 6 * 3600 // 15 + 1):
        t = tick * 15.0
        arrivals = round(rate(int(t // step)) * 15)
        desired = policy.decide(_obs(t, replicas=max(desired, 1), ready=max(desired, 1), arrivals=arrivals))
    last = policy.last
    assert last is not None and last.forecast_upper_rps is not None and last.forecast_rps is not None
    ahead = max(rate(72 + k) for k in range(0, 3))
    assert last.forecast_rps == pytest.approx(ahead, rel=0.05)
    # the replicas the upper bound needs, within the HPA tolerance of the current fleet's capacity
    assert last.forecast_upper_rps >= last.forecast_rps
    assert last.from_forecast == policy.replicas_for(last.forecast_upper_rps, last.current_replicas)
    assert desired == last.from_forecast
    assert desired * 2.0 * 1.1 >= last.forecast_upper_rps


def test_cooldowns_hold_changes_back() -> None:
    policy = PredictiveAutoscaler(
        capacity_rps=2.0, target_running=4.0, scale_up_cooldown_s=60.0, scale_down_cooldown_s=120.0,
        scale_down_window_s=0.0,
    )  # fmt: skip
    burst = {"arrivals": 120, "utilization": 0.5}  # 8 req/s on 2 replicas of 2 req/s -> 4
    assert policy.decide(_obs(15.0, **burst)) == 4  # first change: no cooldown running
    assert policy.decide(_obs(30.0, replicas=4, ready=2, arrivals=240, utilization=1.0)) == 4
    assert policy.last is not None and policy.last.reason == "cooldown" and policy.last.from_rate > 4
    assert policy.decide(_obs(90.0, replicas=4, ready=4, arrivals=15, utilization=0.1)) == 4  # down: 120 s
    assert policy.last is not None and policy.last.reason == "cooldown"
    assert policy.decide(_obs(150.0, replicas=4, ready=4, arrivals=15, utilization=0.1)) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity_rps": 2.0, "target_running": 4.0, "scale_up_cooldown_s": -1.0}, "cooldown_s must be >= 0"),
        ({"capacity_rps": 0.0, "target_running": 4.0}, "capacity_rps must be a positive number"),
        ({"capacity_rps": {0: 2.0}, "target_running": 4.0}, "capacity_rps needs fleet sizes >= 1"),
        ({"capacity_rps": 2.0, "target_running": math.nan}, "target_running must be a positive number"),
        ({"capacity_rps": 2.0, "target_running": 4.0, "min_replicas": 3, "max_replicas": 2}, "min_replicas"),
        ({"capacity_rps": 2.0, "target_running": 4.0, "coverage": 1.5}, "coverage must be in"),
    ],
)
def test_bad_settings_raise_value_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PredictiveAutoscaler(**kwargs)  # type: ignore[arg-type]


def test_capacity_table_pools_larger_fleets() -> None:
    policy = PredictiveAutoscaler(capacity_rps={1: 2.0, 4: 3.0}, target_running={1: 4.0, 4: 6.0})
    assert [policy.capacity(n) for n in (1, 2, 3, 4, 9)] == [2.0, 2.0, 2.0, 3.0, 3.0]
    assert policy.replicas_for(11.5, 1) == 4  # 3 x 2.0 = 6 < 11.5 <= 4 x 3.0
    assert policy.replicas_for(6.2, 3) == 3  # 6.2 / 6.0 within the 10% tolerance


def test_cpu_threshold_steps_with_cooldowns() -> None:
    policy = CpuThresholdPolicy()
    hot, cold = {"cpu_utilization": 0.9}, {"cpu_utilization": 0.2}
    assert policy.decide(_obs(60.0, **hot)) == 3
    assert policy.decide(_obs(120.0, replicas=3, **hot)) == 3  # 180 s up-cooldown
    assert policy.decide(_obs(240.0, replicas=3, **hot)) == 4
    assert policy.decide(_obs(300.0, replicas=4, **cold)) == 4  # 300 s down-cooldown
    assert policy.decide(_obs(540.0, replicas=4, **cold)) == 3


def test_hpa_on_utilization_counts_starting_replicas_as_idle() -> None:
    policy = HpaUtilizationPolicy(target=0.7)
    assert policy.decide(_obs(15.0, replicas=4, ready=2, utilization=1.0)) == 4  # 2 x 1.0 / 4 = 0.5 -> hold
    assert policy.decide(_obs(20.0, replicas=4, ready=3, utilization=0.1)) == 4  # window holds 4 for 300 s
    assert HpaUtilizationPolicy(target=0.7).decide(_obs(30.0, replicas=2, ready=2, utilization=1.0)) == 3
    assert FixedPolicy(3).decide(_obs(45.0)) == 3
