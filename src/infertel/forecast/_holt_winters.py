"""Holt-Winters exponential smoothing with a damped trend and up to two seasonalities (Taylor, 2003).

Additive form, for a series ``y`` sampled every ``step_s`` seconds, with a daily season of ``m1`` steps
and a weekly season of ``m2``::

    level  l_t = a (y_t - d_{t-m1} - w_{t-m2}) + (1 - a)(l_{t-1} + phi b_{t-1})
    trend  b_t = b (l_t - l_{t-1}) + (1 - b) phi b_{t-1}
    daily  d_t = g (y_t - l_t - w_{t-m2}) + (1 - g) d_{t-m1}
    weekly w_t = e (y_t - l_t - d_{t-m1}) + (1 - e) w_{t-m2}
    forecast y_{t+h} = l_t + (phi + ... + phi^h) b_t + d_{t+h-m1 k1} + w_{t+h-m2 k2}

A season is used only when the history holds two of it. Parameters are fitted by coordinate descent on
a grid, minimising one-step squared errors. Prediction intervals are empirical: the quantiles of the
model's own h-step errors over the second half of the history (at a ladder of horizons, interpolated
between them), so they widen with the horizon as the errors do, without a normality assumption.
Pure Python: fitting three weeks of 5-minute buckets takes about a second.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

_GRID = {
    "alpha": (0.02, 0.05, 0.1, 0.2, 0.4),
    "beta": (0.0, 0.01),
    "gamma": (0.0, 0.02, 0.1),
    "delta": (0.0, 0.02, 0.1),
    "phi": (0.9, 0.98, 1.0),
}
_LADDER = (1, 2, 3, 4, 6, 8, 12, 18, 24, 36, 48, 72, 96, 144, 192, 288, 576, 1008, 2016, 4032)


@dataclass(frozen=True)
class Forecast:
    """A forecast: the mean path and its prediction interval, one value per step ahead.

    Attributes:
        step_s: seconds per step.
        mean: the point forecast for steps 1..h.
        lower: the interval's lower bound per step (clamped at 0 for counts and rates).
        upper: the interval's upper bound per step.
        coverage: the interval's nominal coverage (e.g. 0.9).

    Example:
        >>> Forecast(300.0, [1.0], [0.5], [1.5], 0.9).upper[0]
        1.5
    """

    step_s: float
    mean: list[float]
    lower: list[float]
    upper: list[float]
    coverage: float


class HoltWinters:
    """Double-seasonal Holt-Winters with a damped trend; fit once, then update step by step.

    Args:
        step_s: seconds between values.
        seasons_s: season lengths in seconds (at most two; default a day and a week); a season is
            dropped when the history is shorter than two of it.
        params: fixed smoothing parameters (``alpha``, ``beta``, ``gamma``, ``delta``, ``phi``);
            those not given are fitted.

    Thread safety: not thread-safe; one owner updates and reads it.

    Example:
        >>> import math
        >>> ys = [10 + 5 * math.sin(2 * math.pi * t / 24) for t in range(24 * 7)]
        >>> hw = HoltWinters(step_s=3600.0).fit(ys)
        >>> f = hw.forecast(24)
        >>> abs(f.mean[5] - (10 + 5 * math.sin(2 * math.pi * 6 / 24))) < 0.5
        True
    """

    def __init__(
        self,
        *,
        step_s: float,
        seasons_s: Sequence[float] = (86_400.0, 604_800.0),
        params: dict[str, float] | None = None,
    ) -> None:
        if not step_s > 0:
            raise ValueError(f"step_s must be > 0, got {step_s!r}")
        if len(seasons_s) > 2:
            raise ValueError(f"seasons_s takes at most two seasons, got {len(seasons_s)}")
        for key in params or {}:
            if key not in _GRID:
                raise ValueError(f"unknown Holt-Winters parameter {key!r}; accepted: {', '.join(_GRID)}")
        self.step_s = float(step_s)
        self._season_steps = [max(1, round(s / step_s)) for s in sorted(seasons_s)]
        self._fixed = dict(params or {})
        self.params: dict[str, float] = {}
        self.m1 = self.m2 = 0
        self._errors: dict[int, list[float]] = {}
        self._horizon = 1
        self._cycles = 1
        self._start: tuple[float, float, list[float], list[float]] = (0.0, 0.0, [], [])
        self._scale = 1.0

    # -- fitting -----------------------------------------------------------------------------------

    def fit(self, values: Sequence[float], *, horizon_steps: int = 1) -> HoltWinters:
        """Fit parameters and state to ``values`` (oldest first); returns ``self``.

        Args:
            values: the history, oldest first.
            horizon_steps: the parameters minimise the squared errors one step and this many steps
                ahead (fit for the horizon the forecast is used at).

        Raises:
            ValueError: with fewer than 4 values.
        """
        y = [float(v) for v in values]
        if len(y) < 4:
            raise ValueError(f"need at least 4 values to fit, got {len(y)}")
        if horizon_steps < 1:
            raise ValueError(f"horizon_steps must be >= 1, got {horizon_steps!r}")
        self._horizon = min(horizon_steps, len(y) // 2)
        usable = [m for m in self._season_steps if 2 * m <= len(y) and m > 1]
        self.m1 = usable[0] if usable else 0
        self.m2 = usable[1] if len(usable) > 1 else 0
        params = {k: self._fixed.get(k, grid[len(grid) // 2]) for k, grid in _GRID.items()}
        if not self.m1:
            params["gamma"] = 0.0
        if not self.m2:
            params["delta"] = 0.0
        self._start = self._init_state(y)
        best = self._sse(y, params)
        for _ in range(2):
            before = params
            for key, grid in _GRID.items():
                if key in self._fixed or (key == "gamma" and not self.m1) or (key == "delta" and not self.m2):
                    continue
                for value in grid:
                    trial = {**params, key: value}
                    sse = self._sse(y, trial)
                    if sse < best:
                        best, params = sse, trial
            if params == before:
                break
        self.params = params
        self._run(y, params, keep=True)
        self._collect_errors(y)
        return self

    def _init_state(self, y: list[float]) -> tuple[float, float, list[float], list[float]]:
        # Seasonal templates averaged over up to four whole cycles of the longest season (the
        # history's own data, as statsmodels' "estimated" start does), so noise in one week does
        # not persist in the weekly component.
        span = self.m2 or self.m1 or min(len(y), 4)
        cycles = max(1, min(4, len(y) // span))
        self._cycles = cycles
        # the trend from the cycles' means, removed before averaging so it does not skew the template
        means = [sum(y[k * span : (k + 1) * span]) / span for k in range(cycles)]
        trend = (means[-1] - means[0]) / ((cycles - 1) * span) if cycles >= 2 else 0.0
        template = [
            _robust_mean([y[i + k * span] - trend * (i + k * span) for k in range(cycles)]) for i in range(span)
        ]
        mean = sum(template) / span
        level = mean - trend  # the level "before" the first value
        daily = [0.0] * max(self.m1, 1)
        if self.m1:
            for i in range(self.m1):
                phase = template[i :: self.m1]
                daily[i] = sum(phase) / len(phase) - mean
        weekly = [0.0] * max(self.m2, 1)
        if self.m2:
            for j in range(self.m2):
                weekly[j] = template[j] - mean - daily[j % self.m1]
        return level, trend, daily, weekly

    def _run(self, y: list[float], p: dict[str, float], *, keep: bool = False) -> float:
        a, b, g, e, phi = p["alpha"], p["beta"], p["gamma"], p["delta"], p["phi"]
        level, trend, daily, weekly = self._start
        m1, m2 = self.m1, self.m2
        d = list(daily) if m1 else []
        w = list(weekly) if m2 else []
        levels: list[float] = []
        trends: list[float] = []
        sse = 0.0
        h = self._horizon
        damp = h if phi == 1.0 else phi * (1 - phi**h) / (1 - phi)
        ahead: list[float] = [math.nan] * (len(y) + h)
        scale = self._initial_scale(y)
        for t, value in enumerate(y):
            ds = d[t] if m1 else 0.0
            ws = w[t] if m2 else 0.0
            err = value - (level + phi * trend + ds + ws)
            sse += err * err
            if h > 1 and t >= h:
                miss = value - ahead[t]
                sse += miss * miss
            value, scale = _clean(value, err, scale)
            new_level = a * (value - ds - ws) + (1 - a) * (level + phi * trend)
            trend = b * (new_level - level) + (1 - b) * phi * trend
            level = new_level
            if m1:
                d.append(g * (value - level - ws) + (1 - g) * ds)
            if m2:
                w.append(e * (value - level - ds) + (1 - e) * ws)
            if h > 1:
                target = t + h
                ahead[target] = level + damp * trend
                if m1:
                    ahead[target] += d[target - m1 * math.ceil(h / m1) + m1]
                if m2:
                    ahead[target] += w[target - m2 * math.ceil(h / m2) + m2]
            if keep:
                levels.append(level)
                trends.append(trend)
        if keep:
            self._y, self._levels, self._trends, self._d, self._w = list(y), levels, trends, d, w
            self._scale = scale
        return sse

    def _initial_scale(self, y: list[float]) -> float:
        lag = self.m1 or 1
        span = (self.m2 or self.m1 or 1) * self._cycles
        diffs = sorted(abs(y[t] - y[t - lag]) for t in range(lag, min(len(y), max(span, 2 * lag))))
        return max(diffs[len(diffs) // 2] if diffs else 1.0, 1e-9)

    def _sse(self, y: list[float], p: dict[str, float]) -> float:
        return self._run(y, p)

    # -- state and forecasts -----------------------------------------------------------------------

    def update(self, value: float) -> None:
        """Add the next observation (after :meth:`fit`), moving the forecast origin one step."""
        if not self.params:
            raise RuntimeError("fit() the model before update()")
        p = self.params
        a, b, g, e, phi = p["alpha"], p["beta"], p["gamma"], p["delta"], p["phi"]
        t = len(self._y)
        level, trend = self._levels[-1], self._trends[-1]
        ds = self._d[t] if self.m1 else 0.0
        ws = self._w[t] if self.m2 else 0.0
        self._y.append(float(value))
        value, self._scale = _clean(value, value - (level + phi * trend + ds + ws), self._scale)
        new_level = a * (value - ds - ws) + (1 - a) * (level + phi * trend)
        self._trends.append(b * (new_level - level) + (1 - b) * phi * trend)
        self._levels.append(new_level)
        if self.m1:
            self._d.append(g * (value - new_level - ws) + (1 - g) * ds)
        if self.m2:
            self._w.append(e * (value - new_level - ds) + (1 - e) * ws)

    def _point(self, origin: int, h: int) -> float:
        phi = self.params["phi"]
        damp = h if phi == 1.0 else phi * (1 - phi**h) / (1 - phi)
        value = self._levels[origin] + damp * self._trends[origin]
        target = origin + h
        if self.m1:
            value += self._d[target - self.m1 * math.ceil(h / self.m1) + self.m1]
        if self.m2:
            value += self._w[target - self.m2 * math.ceil(h / self.m2) + self.m2]
        return value

    def _collect_errors(self, y: list[float]) -> None:
        n = len(y)
        start = n // 2
        self._errors = {}
        # The seasonal templates were averaged over k cycles that include the values scored here,
        # which shrinks their noise to sd*sqrt(1 - 1/k) in sample against sd*sqrt(1 + 1/k) out of
        # sample: widen the in-sample errors by the ratio (conservative for the non-seasonal part).
        k = self._cycles if (self.m1 or self.m2) else 0
        inflate = math.sqrt((k + 1) / (k - 1)) if k >= 2 else 1.0
        for h in _LADDER:
            if start + h >= n:
                break
            errs = sorted(inflate * (y[t + h] - self._point(t, h)) for t in range(start, n - h))
            if len(errs) >= 10:
                self._errors[h] = errs

    def _error_quantile(self, h: int, q: float) -> float:
        if not self._errors:
            return 0.0
        ladder = sorted(self._errors)
        if h >= ladder[-1]:
            # beyond the measured horizons the spread grows like a random walk's
            return _quantile(self._errors[ladder[-1]], q) * math.sqrt(h / ladder[-1])
        i = bisect.bisect_left(ladder, h)
        if ladder[i] == h or i == 0:
            return _quantile(self._errors[ladder[i]], q)
        h0, h1 = ladder[i - 1], ladder[i]
        q0, q1 = _quantile(self._errors[h0], q), _quantile(self._errors[h1], q)
        return q0 + (q1 - q0) * (h - h0) / (h1 - h0)

    def forecast_step(self, steps: int, *, coverage: float = 0.9) -> tuple[float, float, float]:
        """Only the ``steps``-th value ahead: ``(mean, lower, upper)``, not clamped (for backtests).

        Example:
            >>> hw = HoltWinters(step_s=60.0, seasons_s=()).fit([1.0, 2.0, 3.0, 4.0, 5.0])
            >>> mean, lower, upper = hw.forecast_step(1)
            >>> lower <= mean <= upper
            True
        """
        if not self.params:
            raise RuntimeError("fit() the model before forecast_step()")
        origin = len(self._y) - 1
        tail = (1 - coverage) / 2
        point = self._point(origin, steps)
        return point, point + self._error_quantile(steps, tail), point + self._error_quantile(steps, 1 - tail)

    def forecast(self, steps: int, *, coverage: float = 0.9, floor: float | None = 0.0) -> Forecast:
        """Forecast ``steps`` values ahead of the last observation, with a ``coverage`` interval.

        Args:
            steps: how many steps ahead (>= 1).
            coverage: the interval's nominal coverage, in (0, 1).
            floor: clamp mean and bounds at this value (0 for counts and rates; ``None``: no clamp).
        """
        if not self.params:
            raise RuntimeError("fit() the model before forecast()")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps!r}")
        if not 0 < coverage < 1:
            raise ValueError(f"coverage must be in (0, 1), got {coverage!r}")
        origin = len(self._y) - 1
        tail = (1 - coverage) / 2
        mean, lower, upper = [], [], []
        for h in range(1, steps + 1):
            point = self._point(origin, h)
            lo = point + self._error_quantile(h, tail)
            hi = point + self._error_quantile(h, 1 - tail)
            if floor is not None:
                point, lo, hi = max(floor, point), max(floor, lo), max(floor, hi)
            mean.append(point)
            lower.append(lo)
            upper.append(hi)
        return Forecast(self.step_s, mean, lower, upper, coverage)


def _quantile(sorted_values: list[float], q: float) -> float:
    pos = q * (len(sorted_values) - 1)
    i = int(pos)
    j = min(i + 1, len(sorted_values) - 1)
    return sorted_values[i] + (sorted_values[j] - sorted_values[i]) * (pos - i)


_HUBER_K = 2.0
_SCALE_SMOOTHING = 0.05


def _clean(value: float, error: float, scale: float) -> tuple[float, float]:
    # Robust Holt-Winters (Gelper, Fried and Croux, 2010): the state learns from the observation
    # with its one-step error clipped at +-k scales (Huber), so a burst moves the level only a
    # little and leaves no long echo; the scale is an exponentially smoothed clipped |error|.
    limit = _HUBER_K * scale
    clipped = max(-limit, min(limit, error))
    scale = _SCALE_SMOOTHING * abs(clipped) * 1.25 + (1 - _SCALE_SMOOTHING) * scale
    return value - error + clipped, max(scale, 1e-9)


def _robust_mean(values: list[float]) -> float:
    # the mean without the largest value when there are three or more: a burst in one cycle
    # does not leak into the seasonal template
    if len(values) >= 3:
        values = sorted(values)[:-1]
    return sum(values) / len(values)
