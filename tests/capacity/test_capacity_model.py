"""The capacity model against known answers from the simulator, and planning on a known series."""

from __future__ import annotations

import math
import random

import pytest

from infertel.capacity import estimate_capacity, plan_capacity, simulated_capacity
from infertel.simulate import ReplicaModel, poisson_arrivals, simulate

MODEL = ReplicaModel(max_batch=64)  # no queue in these runs: TTFT and TPOT are the model's curves


def _samples(rates: tuple[float, ...]) -> list[tuple[int, float, float, float]]:
    samples: list[tuple[int, float, float, float]] = []
    for rate in rates:
        reqs = poisson_arrivals(
            lambda t, r=rate: r, start_s=0.0, end_s=600.0, max_rate=rate, rng=random.Random(int(rate * 10)),
            lengths=[(2000, 30)],
        )  # fmt: skip
        simulate(reqs, model=MODEL, samples=samples)
    return samples


def test_slo_concurrency_matches_the_replica_model() -> None:
    samples = _samples((1, 2, 3, 4, 5, 6, 7))
    est = estimate_capacity(samples, slo_ttft_s=1.0, slo_tpot_s=0.1)
    # ttft(c) = 0.05 + 2000 * 0.00012 * (1 + 0.12 (c - 1)) = 1.0 s  =>  c = 25.65
    expected = ((0.95 / (2000 * MODEL.prefill_s_per_token)) - 1) / MODEL.ttft_growth + 1
    assert est.slo_concurrency == pytest.approx(expected, rel=0.02)
    assert est.limited_by == "ttft" and est.confidence == "high"
    # Little's law at c: latency = ttft + 30 tokens x tpot(c)
    latency = 1.0 + 30 * MODEL.tpot(expected)
    assert est.throughput_rps == pytest.approx(expected / latency, rel=0.03)
    assert est.samples == len(samples) and est.levels >= 20


def test_tpot_limits_when_it_is_the_tighter_slo() -> None:
    est = estimate_capacity(_samples((1, 2, 3, 4, 5, 6, 7)), slo_ttft_s=5.0, slo_tpot_s=0.06)
    # tpot(c) = 0.04 (1 + 0.06 (c - 1)) = 0.06  =>  c = 9.33
    assert est.limited_by == "tpot"
    assert est.slo_concurrency == pytest.approx(1 + (0.06 / 0.04 - 1) / 0.06, rel=0.02)


def test_refuses_to_extrapolate_beyond_the_observed_range() -> None:
    est = estimate_capacity(_samples((0.5, 1.0, 1.5)), slo_ttft_s=1.0)
    assert est.limited_by == "observed range" and est.confidence == "low"
    assert est.slo_concurrency == pytest.approx(1.25 * est.observed_max_concurrency)
    assert "capped at 1.25x" in est.reason


def test_too_little_data_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="need at least two concurrency levels with 20"):
        estimate_capacity([(1, 0.1, 0.01, 1.0)] * 50)


def test_simulated_capacity_meets_the_slo_with_headroom() -> None:
    cap = simulated_capacity(ReplicaModel(), lengths=[(1500, 20)], duration_s=600.0, seed=3)
    reqs = poisson_arrivals(lambda t: cap.capacity_rps, start_s=0.0, end_s=600.0, max_rate=cap.capacity_rps,
                            rng=random.Random(3), lengths=[(1500, 20)])  # fmt: skip
    assert simulate(reqs, model=ReplicaModel()).ttft_p95_s <= 0.8 * 2.0
    faster = [
        *reqs,
        *poisson_arrivals(
            lambda t: cap.capacity_rps,
            start_s=0.0,
            end_s=600.0,
            max_rate=cap.capacity_rps,
            rng=random.Random(4),
            lengths=[(1500, 20)],
        ),
    ]
    assert simulate(sorted(faster, key=lambda r: r.arrival_s), model=ReplicaModel()).ttft_p95_s > 2.0


def test_plan_scales_with_growth_and_prices() -> None:
    hist = [600 + 300 * math.sin(2 * math.pi * i / 288) for i in range(288 * 4)]  # 1-3 req/s daily
    plan = plan_capacity(hist, step_s=300.0, capacity_rps=1.0, horizon_days=7, growth=(1.0, 2.0),
                         gpus_per_replica=2, price_per_gpu_hour=3.0)  # fmt: skip
    one, two = plan.scenarios
    assert one.peak_rps == pytest.approx(3.0, rel=0.05) and two.peak_rps == pytest.approx(3.0 * (1 + 1 * 1), rel=0.1)
    assert (one.replicas, one.gpus) == (math.ceil(one.peak_upper_rps), 2 * math.ceil(one.peak_upper_rps))
    assert one.cost == pytest.approx(3.0 * one.gpu_hours)
    assert one.risk == "low" and two.gpu_hours > 1.3 * one.gpu_hours  # growth ramps 1 -> 2: about 1.5x on average
    assert plan.to_json()["scenarios"][0]["growth"] == 1.0
    with pytest.raises(ValueError, match="growth must be positive"):
        plan_capacity(hist, step_s=300.0, capacity_rps=1.0, growth=(0.0,))
