"""The fleet simulator's LLM behaviour: batching slows with concurrency, cold starts, policies, traces."""

from __future__ import annotations

import random

import pytest

from infertel.simulate import (
    AZURE_ATTRIBUTION,
    Burst,
    Observation,
    ReplicaModel,
    Request,
    Seasonality,
    azure_code_trace,
    poisson_arrivals,
    random_bursts,
    rate_with_bursts,
    simulate,
)


def test_ttft_and_tpot_grow_with_concurrency() -> None:
    model = ReplicaModel(max_batch=8)
    one = simulate([Request(0.0, 2000, 50)], model=model)
    # eight identical requests at once: each admitted at a higher concurrency than the one before
    eight = simulate([Request(0.0, 2000, 50) for _ in range(8)], model=model)
    assert one.minutes == [(1, pytest.approx(model.ttft(2000, 1)), pytest.approx(model.tpot(1)), False)]
    count, p95_ttft, p95_tpot, _ = eight.minutes[0]
    assert count == 8
    assert p95_ttft == pytest.approx(model.ttft(2000, 8))
    assert p95_tpot == pytest.approx(model.tpot(8))
    assert model.ttft(2000, 8) > model.ttft(2000, 1) and model.tpot(8) > model.tpot(1)


def test_requests_beyond_the_batch_wait_in_the_queue() -> None:
    model = ReplicaModel(max_batch=2, base_ttft_s=0.0, prefill_s_per_token=0.0, tpot_s=1.0, tpot_growth=0.0)
    result = simulate([Request(0.0, 1, 10) for _ in range(3)], model=model)
    # two start at once; the third waits for the first to finish (10 tokens x 1 s)
    assert result.mean_wait_s == pytest.approx(10.0 / 3)
    assert result.minutes[0][1] == pytest.approx(10.0)


class _StepPolicy:
    """Asks for ``replicas`` from ``at_s`` on: a scripted decision to observe cold starts."""

    interval_s = 10.0

    def __init__(self, at_s: float, replicas: int) -> None:
        self.at_s, self.replicas = at_s, replicas
        self.seen: list[Observation] = []

    def decide(self, obs: Observation) -> int:
        self.seen.append(obs)
        return self.replicas if obs.time_s >= self.at_s else 1


def test_a_new_replica_serves_after_its_cold_start_and_is_paid_from_the_request() -> None:
    model = ReplicaModel(max_batch=1, base_ttft_s=0.0, prefill_s_per_token=0.0, tpot_s=1.0, cold_start_s=100.0)
    policy = _StepPolicy(at_s=10.0, replicas=2)
    result = simulate([Request(float(t), 1, 5) for t in range(0, 300, 2)], model=model, policy=policy, end_s=300.0)
    ready = {t: r for t, _, r in result.timeline}
    assert ready[10.0] == 1 and ready[100.0] == 1 and ready[110.0] == 2
    # 1 replica for 300 s + the second from t=10 s (cold start included) = 590 s
    assert result.replica_hours == pytest.approx(590.0 / 3600.0)
    first = policy.seen[0]
    assert (first.time_s, first.replicas, first.ready, first.max_batch) == (10.0, 1, 1, 1)
    assert first.arrivals == 5 and first.waiting > 0 and first.utilization == pytest.approx(1.0)


def test_scale_down_drains_before_removing() -> None:
    model = ReplicaModel(max_batch=1, base_ttft_s=0.0, prefill_s_per_token=0.0, tpot_s=1.0, cold_start_s=0.0)

    class Down:
        interval_s = 5.0

        def decide(self, obs: Observation) -> int:
            return 1

    # two replicas each start a 20 s request at t=0; at t=5 one is asked away: it finishes first
    result = simulate([Request(0.0, 1, 20), Request(0.0, 1, 20)], model=model, replicas=2, policy=Down(), end_s=40.0)
    assert result.requests == 2
    assert result.replica_hours == pytest.approx((40.0 + 20.0) / 3600.0)


def test_azure_trace_replays_with_attribution() -> None:
    trace = azure_code_trace()
    assert "CC-BY 4.0" in AZURE_ATTRIBUTION and "Splitwise" in AZURE_ATTRIBUTION
    assert trace[0].arrival_s == 0.0
    assert all(a.arrival_s <= b.arrival_s for a, b in zip(trace, trace[1:], strict=False))
    assert 3300 < trace[-1].arrival_s < 3500
    fast = azure_code_trace(speedup=2.0)
    assert fast[-1].arrival_s == pytest.approx(trace[-1].arrival_s / 2)
    with pytest.raises(ValueError, match="speedup must be > 0"):
        azure_code_trace(speedup=0)


def test_synthetic_traffic_is_seasonal_bursty_and_seeded() -> None:
    season = Seasonality(base_rps=2.0, daily_amplitude=0.6, weekend_factor=0.5)
    assert season.rate(14 * 3600) > 2.5 * season.rate(3 * 3600)
    assert season.rate(5 * 86_400 + 14 * 3600) == pytest.approx(0.5 * season.rate(14 * 3600))
    bursts = [Burst(14 * 3600.0, 1800.0, 2.0)]
    rate = rate_with_bursts(season, bursts)
    kwargs = {"start_s": 13 * 3600.0, "end_s": 15 * 3600.0, "max_rate": 12.0, "lengths": [(100, 10)]}
    one = poisson_arrivals(rate, rng=random.Random(3), **kwargs)  # type: ignore[arg-type]
    two = poisson_arrivals(rate, rng=random.Random(3), **kwargs)  # type: ignore[arg-type]
    assert one == two
    in_burst = sum(1 for r in one if 14 * 3600 <= r.arrival_s < 14.5 * 3600)
    before = sum(1 for r in one if 13.5 * 3600 <= r.arrival_s < 14 * 3600)
    assert in_burst > 1.6 * before
    assert random_bursts(7 * 86_400.0, per_day=3.0, rng=random.Random(5)) != []


def test_replica_model_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="max_batch must be >= 1"):
        ReplicaModel(max_batch=0)
    with pytest.raises(ValueError, match="cold_start_s must be >= 0"):
        ReplicaModel(cold_start_s=-1)
