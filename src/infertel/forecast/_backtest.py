"""Rolling-origin backtests: MASE against the seasonal-naive forecast, and interval coverage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infertel.forecast._holt_winters import HoltWinters


@dataclass(frozen=True)
class Backtest:
    """The outcome of a rolling-origin backtest at one horizon.

    Attributes:
        horizon_steps: steps ahead scored (``horizon_s = horizon_steps * step_s``).
        origins: forecast origins scored.
        mae: mean absolute error of the model.
        naive_mae: mean absolute error of the seasonal-naive forecast at the same origins.
        mase: the model's MAE scaled by the in-sample MAE of the one-season-back forecast
            (Hyndman and Koehler's MASE with the seasonal period).
        relative_mae: ``mae / naive_mae`` (below 1: better than seasonal-naive out of sample).
        coverage: share of actual values inside the prediction interval.
        nominal_coverage: the interval's nominal coverage.

    Example:
        >>> Backtest(2, 10, 1.0, 2.0, 0.5, 0.5, 0.9, 0.9).relative_mae
        0.5
    """

    horizon_steps: int
    origins: int
    mae: float
    naive_mae: float
    mase: float
    relative_mae: float
    coverage: float
    nominal_coverage: float


def seasonal_naive(history: Sequence[float], steps: int, season: int) -> list[float]:
    """The seasonal-naive forecast: each value repeats the one a season earlier.

    Example:
        >>> seasonal_naive([1, 2, 3, 4], 3, 2)
        [3.0, 4.0, 3.0]
    """
    if season < 1 or len(history) < season:
        raise ValueError(f"seasonal-naive needs a season (>= 1) within the history, got {season}")
    base = [float(v) for v in history[-season:]]
    return [base[i % season] for i in range(steps)]


def backtest(
    values: Sequence[float],
    *,
    step_s: float,
    horizon_steps: int,
    train: int,
    every: int = 1,
    coverage: float = 0.9,
    seasons_s: Sequence[float] = (86_400.0, 604_800.0),
) -> Backtest:
    """Fit on ``values[:train]``, then walk the origin forward and score the forecast ``horizon_steps`` ahead.

    Parameters stay as fitted on the training part; the state is updated with each actual value
    (rolling origin with fixed parameters, as a deployed forecaster runs). The seasonal-naive
    baseline uses the longest season the training part holds twice.

    Args:
        values: the series (e.g. requests per 5-minute bucket), oldest first.
        step_s: seconds per value.
        horizon_steps: how many steps ahead each origin is scored at.
        train: values used to fit before the first origin.
        every: score every ``every``-th origin.
        coverage: the prediction interval's nominal coverage.
        seasons_s: the model's seasons in seconds.

    Example:
        >>> import math
        >>> ys = [10 + 5 * math.sin(2 * math.pi * t / 24) + (t % 5) * 0.1 for t in range(24 * 9)]
        >>> bt = backtest(ys, step_s=3600.0, horizon_steps=2, train=24 * 7, seasons_s=(86_400.0,))
        >>> bt.relative_mae < 1
        True
    """
    if not 0 < train < len(values) - horizon_steps:
        raise ValueError(f"train must leave room for at least one origin, got train={train} of {len(values)}")
    if horizon_steps < 1 or every < 1:
        raise ValueError("horizon_steps and every must be >= 1")
    model = HoltWinters(step_s=step_s, seasons_s=seasons_s).fit(values[:train], horizon_steps=horizon_steps)
    season = model.m2 or model.m1 or 1
    in_sample = [abs(values[t] - values[t - season]) for t in range(season, train)]
    scale = sum(in_sample) / len(in_sample) if in_sample else float("nan")
    abs_err = naive_err = 0.0
    inside = origins = 0
    for origin in range(train - 1, len(values) - horizon_steps):
        if origin > train - 1:
            model.update(values[origin])
        if (origin - train + 1) % every:
            continue
        mean, lower, upper = model.forecast_step(horizon_steps, coverage=coverage)
        actual = float(values[origin + horizon_steps])
        naive = float(values[origin + horizon_steps - season * -(-horizon_steps // season)])
        abs_err += abs(actual - mean)
        naive_err += abs(actual - naive)
        inside += lower <= actual <= upper
        origins += 1
    mae = abs_err / origins
    naive_mae = naive_err / origins
    return Backtest(
        horizon_steps=horizon_steps,
        origins=origins,
        mae=mae,
        naive_mae=naive_mae,
        mase=mae / scale if scale > 0 else float("inf"),
        relative_mae=mae / naive_mae if naive_mae > 0 else float("inf"),
        coverage=inside / origins,
        nominal_coverage=coverage,
    )
