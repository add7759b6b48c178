"""Holt-Winters forecasts and rolling-origin backtests on synthetic seasonal traces (seeded)."""

from __future__ import annotations

import math
import random

import pytest

from infertel.forecast import Backtest, HoltWinters, backtest, seasonal_naive
from infertel.simulate import DAY_S, Seasonality, bucket_counts, random_bursts, rate_with_bursts

STEP_S = 300.0
PER_DAY = 288


def _trace(seed: int, *, trend_per_day: float, weeks: int = 4) -> list[int]:
    """Requests per 5 minutes: daily and weekly seasons, a trend, about one burst a day."""
    rng = random.Random(seed)
    season = Seasonality(base_rps=5.0, trend_per_day=trend_per_day)
    bursts = random_bursts(weeks * 7 * DAY_S, per_day=1.0, rng=rng)
    return bucket_counts(rate_with_bursts(season, bursts), start_s=0.0, end_s=weeks * 7 * DAY_S, step_s=STEP_S, rng=rng)


SEEDS = [(1, 0.0), (5, 0.01)]
MORE_SEEDS = [(2, 0.0), (3, 0.0), (4, 0.0), (1, 0.0), (5, 0.01), (6, 0.01)]


@pytest.mark.parametrize("horizon_steps", [2, PER_DAY], ids=["10 min (cold start)", "1 day"])
def test_beats_seasonal_naive_with_calibrated_intervals(horizon_steps: int) -> None:
    _check_backtests(SEEDS, horizon_steps)


@pytest.mark.slow
@pytest.mark.parametrize("horizon_steps", [2, PER_DAY], ids=["10 min (cold start)", "1 day"])
def test_beats_seasonal_naive_on_more_traces(horizon_steps: int) -> None:
    _check_backtests(MORE_SEEDS, horizon_steps)


def _check_backtests(seeds: list[tuple[int, float]], horizon_steps: int) -> None:
    results = []
    for seed, trend in seeds:
        ys = _trace(seed, trend_per_day=trend)
        result = backtest(ys, step_s=STEP_S, horizon_steps=horizon_steps, train=21 * PER_DAY, every=6)
        assert isinstance(result, Backtest)
        assert result.origins == len(range(21 * PER_DAY - 1, len(ys) - horizon_steps, 6))
        assert result.nominal_coverage == 0.9
        # out of sample, on every trace: smaller errors than the seasonal-naive forecast
        assert result.relative_mae < 1.0, (seed, result)
        assert 0.8 <= result.coverage <= 0.99, (seed, result)
        results.append(result)
    # Hyndman's MASE (scaled by the in-sample seasonal-naive error) on a trace without trend
    # scatters around 0.6-1.0 with the week's bursts; below 1 on average and with trend always
    assert sum(r.mase for r in results) / len(results) < 1.0
    assert all(r.mase < 1.0 for r, (_, trend) in zip(results, seeds, strict=True) if trend)


def test_recovers_a_noiseless_double_season_and_trend() -> None:
    def truth(t: int) -> float:
        day = 10 * math.sin(2 * math.pi * t / 24)
        week = 5.0 if (t // 24) % 7 < 5 else -5.0
        return 100 + 0.05 * t + day + week

    ys = [truth(t) for t in range(24 * 7 * 3)]
    model = HoltWinters(step_s=3600.0, params={"phi": 1.0}).fit(ys)
    assert (model.m1, model.m2) == (24, 168)
    forecast = model.forecast(48)
    expected = [truth(len(ys) + h) for h in range(48)]
    assert max(abs(f - e) for f, e in zip(forecast.mean, expected, strict=True)) < 1.5
    assert all(lo <= m <= hi for lo, m, hi in zip(forecast.lower, forecast.mean, forecast.upper, strict=True))


def test_update_moves_the_origin_like_a_fit_with_the_same_parameters() -> None:
    ys = [float(v) for v in _trace(5, trend_per_day=0.0, weeks=4)][: 3 * 7 * PER_DAY + 20]
    fitted = HoltWinters(step_s=STEP_S).fit(ys[:-10])
    for value in ys[-10:]:
        fitted.update(value)
    # same parameters and the same start (the templates come from the first weeks either way)
    refit = HoltWinters(step_s=STEP_S, params=fitted.params).fit(ys)
    assert fitted.forecast(6).mean == pytest.approx(refit.forecast(6).mean, rel=1e-9)


def test_intervals_widen_with_the_horizon_and_clamp_at_zero() -> None:
    ys = _trace(7, trend_per_day=0.0, weeks=3)
    forecast = HoltWinters(step_s=STEP_S).fit(ys).forecast(2 * PER_DAY, coverage=0.8)
    width = [hi - lo for lo, hi in zip(forecast.lower, forecast.upper, strict=True)]
    assert forecast.coverage == 0.8 and len(forecast.mean) == 2 * PER_DAY
    assert sum(width[-12:]) > sum(width[:12])
    assert min(forecast.lower) >= 0.0


def test_short_history_drops_the_seasons_it_cannot_hold() -> None:
    model = HoltWinters(step_s=STEP_S).fit([float(v) for v in _trace(1, trend_per_day=0.0, weeks=1)])
    assert (model.m1, model.m2) == (PER_DAY, 0)
    assert model.params["delta"] == 0.0


def test_seasonal_naive_repeats_the_last_season() -> None:
    assert seasonal_naive([1, 2, 3, 4, 5], 4, 2) == [4.0, 5.0, 4.0, 5.0]
    with pytest.raises(ValueError, match="seasonal-naive needs a season"):
        seasonal_naive([1.0], 1, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"step_s": 0.0}, "step_s must be > 0"),
        ({"step_s": 60.0, "seasons_s": (1.0, 2.0, 3.0)}, "at most two seasons"),
        ({"step_s": 60.0, "params": {"gama": 0.1}}, "unknown Holt-Winters parameter 'gama'; accepted: alpha"),
    ],
)
def test_bad_settings_raise_value_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HoltWinters(**kwargs)  # type: ignore[arg-type]


def test_bad_calls_raise() -> None:
    model = HoltWinters(step_s=60.0)
    with pytest.raises(RuntimeError, match="fit"):
        model.forecast(1)
    with pytest.raises(ValueError, match="at least 4 values"):
        model.fit([1.0])
    model.fit([1.0, 2.0, 3.0, 4.0, 5.0])
    with pytest.raises(ValueError, match="steps must be >= 1"):
        model.forecast(0)
    with pytest.raises(ValueError, match="coverage must be in"):
        model.forecast(1, coverage=1.0)
    with pytest.raises(ValueError, match="train must leave room"):
        backtest([1.0] * 10, step_s=60.0, horizon_steps=2, train=9)
