"""Load forecasting: double-seasonal Holt-Winters with prediction intervals, and backtests.

Pure Python (no extra needed): measured against statsmodels-free baselines with the rolling-origin
:func:`backtest` (MASE against seasonal-naive, interval coverage).

Example:
    >>> import math
    >>> from infertel.forecast import HoltWinters
    >>> ys = [10 + 5 * math.sin(2 * math.pi * t / 24) for t in range(24 * 7)]
    >>> forecast = HoltWinters(step_s=3600.0).fit(ys).forecast(6)
    >>> len(forecast.mean), forecast.coverage
    (6, 0.9)
"""

from __future__ import annotations

from infertel.forecast._backtest import Backtest, backtest, seasonal_naive
from infertel.forecast._holt_winters import Forecast, HoltWinters

__all__ = ["Backtest", "Forecast", "HoltWinters", "backtest", "seasonal_naive"]
