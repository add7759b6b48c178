"""infertel.analysis on real stores whose right answers are known by construction."""

from __future__ import annotations

import random

import pytest
from analysis_fill import Req, S, durations, hour_start, spaced, write

from infertel.analysis import analyze, render_text
from infertel.analysis._stats import quantile
from infertel_exporters.sqlite import SQLiteStore


def _decode_heavy(start: int, count: int, seed: int) -> list[Req]:
    rng = random.Random(seed)
    # Short prompts (TTFT 50-150 ms), long answers (20-800 tokens at 20 ms): decode makes the tail.
    return [Req(t, ttft=rng.uniform(0.05, 0.15), tpot=0.02, output=rng.randint(20, 800), rest=0.005)
            for t in spaced(start, 3000, count)]  # fmt: skip


def test_series_percentiles_errors_and_breakdown(store_path) -> None:
    start = hour_start(1)
    reqs = _decode_heavy(start, 300, seed=1)
    errors = [Req(start + i * 97 * S, 0, 0, 0, error="timeout") for i in range(6)]
    errors += [Req(start + i * 131 * S + S // 2, 0, 0, 0, error="OverloadedError") for i in range(3)]
    write(store_path, reqs + errors)
    with SQLiteStore(store_path, read_only=True) as store:
        report = analyze(store, start_ns=start, end_ns=start + 3600 * S, baseline="none")
    assert report.requests_read == report.requests_total == 309
    [series] = report.series
    lat = durations(reqs)
    assert (series.service, series.model, series.requests) == ("chat-api", "llama", 309)
    assert series.requests_per_s == pytest.approx(309 / 3600)
    assert series.error_rate == pytest.approx(9 / 309)
    assert series.error_rates == {"OverloadedError": pytest.approx(3 / 309), "timeout": pytest.approx(6 / 309)}
    assert series.latency_s == {
        name: pytest.approx(quantile(lat, q), rel=1e-6)
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
    }
    assert series.tpot_s["p50"] == pytest.approx(0.02)
    assert series.tail_dominant == "decode"
    assert series.token_cost_usd is None and series.cost_per_request_usd is None
    b = report.breakdown
    assert (b.attributed, b.unattributed, b.queue_reported) == (300, 0, False)
    assert [t.group for t in b.tails] == ["p50", "p95", "p99"]
    p95 = b.tail("p95")
    assert p95.dominant == "decode" and p95.shares["decode"] > 0.9
    assert p95.requests == sum(1 for d in lat if d >= quantile(lat, 0.95))
    # Each part by construction: the tail's mean decode is its mean of tpot * (out - 1).
    tail = [r for r in reqs if r.duration >= quantile(lat, 0.95)]
    assert p95.seconds == pytest.approx({
        "queue": 0.0, "prefill": sum(r.ttft for r in tail) / len(tail),
        "decode": sum(0.02 * (r.output - 1) for r in tail) / len(tail), "rest": 0.005,
    }, rel=1e-3)  # fmt: skip
    text = render_text(report)
    assert "chat-api" in text and "error timeout: 1.9%" in text and "decode" in text


def test_queue_dominates_the_tail_and_the_change_is_named(store_path) -> None:
    start = hour_start(1)
    rng = random.Random(2)
    before = [Req(t - 3600 * S, ttft=0.2, tpot=0.02, output=100, queue=rng.uniform(0.0, 0.05))
              for t in spaced(start, 3000, 200)]  # fmt: skip
    # This hour the queue wait grows with load: the tail is queueing, not decoding.
    now = [Req(t, ttft=0.2 + q, tpot=0.02, output=100, queue=q)
           for t in spaced(start, 3000, 200) for q in [rng.expovariate(1 / 1.5)]]  # fmt: skip
    write(store_path, before + now)
    with SQLiteStore(store_path, read_only=True) as store:
        report = analyze(store, start_ns=start, end_ns=start + 3600 * S)
    assert report.baseline_start_ns == start - 3600 * S
    assert report.breakdown.queue_reported
    assert report.breakdown.tail("p99").dominant == "queue"
    assert report.baseline_breakdown.tail("p95").dominant == "decode"
    assert max(report.tail_change_s, key=lambda p: report.tail_change_s[p]) == "queue"
    assert report.tail_change_s["decode"] == pytest.approx(0.0, abs=1e-6)
    assert report.regression.regressed
    assert {m.metric: m.verdict for m in report.regression.metrics} == {
        "latency": "regression", "ttft": "regression", "tpot": "no significant change",
    }  # fmt: skip


def test_latency_rising_with_in_flight_names_concurrency(store_path) -> None:
    start = hour_start(1)
    rng = random.Random(3)
    reqs = []
    for group in range(40):  # bursts of 1..8 overlapping requests; each waits for those before it
        t0 = start + group * 60 * S
        for j in range(group % 8 + 1):
            reqs.append(Req(t0 + j * 10**6, ttft=0.1 + 0.3 * j + rng.uniform(0, 0.05), tpot=0.02, output=50))
    write(store_path, reqs)
    report = analyze(store_path, start_ns=start, end_ns=start + 3600 * S, baseline="none")
    sat = report.saturation
    assert sat.resource == "concurrency"
    [c] = sat.correlations
    assert (c.resource, c.points, c.low, c.high, c.saturated) == ("in_flight", len(reqs), 1.0, 8.0, True)
    assert c.spearman > 0.95
    assert c.slope == pytest.approx(0.3, rel=0.05)  # 300 ms more per request already in flight
    assert "in_flight: Spearman rho" in sat.reason


def test_flat_latency_names_no_resource(store_path) -> None:
    start = hour_start(1)
    rng = random.Random(4)
    reqs = []
    for group in range(40):
        t0 = start + group * 60 * S
        reqs += [Req(t0 + j * 10**6, ttft=rng.uniform(0.1, 0.2), tpot=0.02, output=50) for j in range(group % 8 + 1)]
    write(store_path, reqs)
    sat = analyze(store_path, start_ns=start, end_ns=start + 3600 * S, baseline="none").saturation
    assert sat.resource is None
    assert sat.reason.startswith("latency does not grow with load")
    assert abs(sat.correlations[0].spearman) < 0.3


@pytest.mark.parametrize("seed", range(10))
def test_identical_windows_are_not_a_regression(store_path, seed) -> None:
    start = hour_start(1)
    rng = random.Random(seed)
    reqs = [Req(t + off, ttft=rng.lognormvariate(-1.5, 0.5), tpot=rng.lognormvariate(-4, 0.3),
                output=rng.randint(10, 400)) for off in (-3600 * S, 0) for t in spaced(start, 3000, 150)]  # fmt: skip
    write(store_path, reqs)
    report = analyze(store_path, start_ns=start, end_ns=start + 3600 * S, baseline="previous-hour")
    assert not report.regression.regressed
    assert [m.verdict for m in report.regression.metrics] == ["no significant change"] * 3
    assert report.regression.errors.verdict == "no significant change"


def test_a_small_real_regression_is_found_and_noise_is_not(store_path) -> None:
    start = hour_start(1)
    rng = random.Random(7)
    base = [Req(t - 3600 * S, ttft=rng.lognormvariate(-1.5, 0.5), tpot=0.02 * rng.lognormvariate(0, 0.2),
                output=rng.randint(50, 300)) for t in spaced(start, 3000, 400)]  # fmt: skip
    # 15% slower decode per token, with the same spread: a real, modest regression.
    now = [Req(t, ttft=rng.lognormvariate(-1.5, 0.5), tpot=0.023 * rng.lognormvariate(0, 0.2),
               output=rng.randint(50, 300)) for t in spaced(start, 3000, 400)]  # fmt: skip
    write(store_path, base + now)
    r = analyze(store_path, start_ns=start, end_ns=start + 3600 * S).regression
    verdicts = {m.metric: m.verdict for m in r.metrics}
    assert verdicts["tpot"] == "regression" and verdicts["ttft"] == "no significant change"
    tpot = next(m for m in r.metrics if m.metric == "tpot")
    assert tpot.change == pytest.approx(0.15, abs=0.05) and tpot.p_value < 1e-6
    assert r.regressed


def test_errors_rising_is_a_regression(store_path) -> None:
    start = hour_start(1)
    ok = [Req(t + off, 0.1, 0.02, 20) for off in (-3600 * S, 0) for t in spaced(start, 3000, 300)]
    failed = [Req(t, 0, 0, 0, error="timeout") for t in spaced(start + S // 3, 3000, 40)]
    write(store_path, ok + failed)
    r = analyze(store_path, start_ns=start, end_ns=start + 3600 * S).regression
    assert (r.errors.baseline_rate, r.errors.current_rate) == (0.0, pytest.approx(40 / 340))
    assert r.errors.verdict == "regression" and r.regressed


def test_yesterday_baseline_and_filters(store_path) -> None:
    start = hour_start(1)
    write(store_path, [Req(t - 24 * 3600 * S, 0.1, 0.02, 20) for t in spaced(start, 3000, 30)])
    write(store_path, [Req(t, 0.1, 0.02, 20, model="mistral") for t in spaced(start, 3000, 30)]
          + [Req(t, 0.1, 0.02, 20) for t in spaced(start, 3000, 25)], service="other")  # fmt: skip
    report = analyze(store_path, start_ns=start, end_ns=start + 3600 * S, baseline="yesterday", model="llama")
    assert report.baseline_end_ns == start + 3600 * S - 24 * 3600 * S
    assert [(s.service, s.model, s.requests) for s in report.series] == [("other", "llama", 25)]
    assert report.regression.metrics[0].baseline_n == 30
    by_service = analyze(store_path, start_ns=start, end_ns=start + 3600 * S, baseline="none", service="other")
    assert sorted((s.model, s.requests) for s in by_service.series) == [("llama", 25), ("mistral", 30)]
    with pytest.raises(ValueError, match=r"baseline: 'last-week' is not accepted \(accepted: previous-hour"):
        analyze(store_path, baseline="last-week")


def test_large_windows_are_sampled_within_the_bound(store_path) -> None:
    start = hour_start(1)
    rng = random.Random(5)
    reqs = [Req(t, ttft=rng.uniform(0.05, 0.5), tpot=0.02, output=rng.randint(10, 100))
            for t in spaced(start, 3600, 3000)]  # fmt: skip
    write(store_path, reqs)
    report = analyze(store_path, start_ns=start, end_ns=start + 3600 * S, baseline="none", max_samples=400)
    assert report.requests_total == 3000 and 300 <= report.requests_read <= 400
    [series] = report.series
    assert series.requests == 3000  # counts from the store's rollups, not the sample
    assert series.latency_s["p50"] == pytest.approx(quantile(durations(reqs), 0.5), rel=0.1)
    assert "Sampled: " in render_text(report)


def test_cost_per_series_from_spans_and_instance_hours(store_path) -> None:
    start = hour_start(1)
    write(store_path, [Req(t, 0.1, 0.02, 20, cost=0.002) for t in spaced(start, 3600, 100)], instance="a")
    write(store_path, [Req(t + S // 2, 0.1, 0.02, 20, cost=0.002) for t in spaced(start, 3600, 100)], instance="b")
    write(store_path, [Req(t, 0.1, 0.02, 1001, input=2000, model="mistral") for t in spaced(start, 3600, 10)])
    prices = {"llama": {"instance_hour": 1.5}, "mistral": {"input_per_1k": 0.01, "output_per_1k": 0.1}}
    report = analyze(store_path, start_ns=start, end_ns=start + 3600 * S, baseline="none", prices=prices)
    costs = {s.model: (s.token_cost_usd, s.instance_cost_usd, s.cost_per_request_usd) for s in report.series}
    assert costs == {
        "llama": (pytest.approx(0.4), pytest.approx(3.0), pytest.approx(3.4 / 200)),  # 2 instances x 1 h
        "mistral": (pytest.approx(10 * (0.02 + 0.1001)), None, pytest.approx(0.1201)),
    }
    assert "$0.0170" in render_text(report)


def test_empty_store_and_bad_arguments(store_path) -> None:
    with SQLiteStore(store_path) as writer:
        writer.counts()  # a writer creates the file
    report = analyze(store_path, since_s=600)
    assert report.series == [] and report.breakdown.tails == [] and report.saturation.resource is None
    assert report.regression.metrics[0].verdict == "insufficient data"
    assert report.as_dict()["saturation"] == {
        "resource": None,
        "reason": "not enough data to correlate latency with load",
        "correlations": [],
    }
    assert "no requests in the window" in render_text(report)
    with pytest.raises(ValueError, match="must be before the end"):
        analyze(store_path, start_ns=10 * S, end_ns=5 * S)
