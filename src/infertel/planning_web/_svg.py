"""A server-rendered SVG chart of a forecast: the mean line inside its prediction-interval band."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from markupsafe import Markup, escape

_W, _H = 600, 200
_L, _R, _T, _B = 58, 592, 10, 176


def forecast_chart(points: Sequence[Mapping[str, Any]], *, label: str = "Request rate forecast") -> Markup:
    """The mean forecast (``path.line``) inside its interval (``path.band``), times on x, req/s on y.

    Example:
        >>> svg = forecast_chart([{"time_ns": 0, "mean_rps": 1.0, "lower_rps": 0.5, "upper_rps": 1.5},
        ...                       {"time_ns": 10**9, "mean_rps": 2.0, "lower_rps": 1.0, "upper_rps": 3.0}])
        >>> svg.startswith("<svg") and 'class="band"' in svg
        True
    """
    if not points:
        return Markup("")
    t0, t1 = points[0]["time_ns"], points[-1]["time_ns"]
    top = max(p["upper_rps"] for p in points) or 1.0
    span = (t1 - t0) or 1

    def x(t: int) -> float:
        return _L + (t - t0) / span * (_R - _L)

    def y(v: float) -> float:
        return _B - max(0.0, v) / top * (_B - _T)

    upper = " L".join(f"{x(p['time_ns']):.1f},{y(p['upper_rps']):.1f}" for p in points)
    lower = " L".join(f"{x(p['time_ns']):.1f},{y(p['lower_rps']):.1f}" for p in reversed(points))
    mean = " L".join(f"{x(p['time_ns']):.1f},{y(p['mean_rps']):.1f}" for p in points)
    clock = [datetime.fromtimestamp(t / 1e9, tz=timezone.utc).strftime("%H:%M") for t in (t0, t1)]
    parts = [
        f'<svg class="chart forecast" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(label)}">',
        f'<path class="band" d="M{upper} L{lower} Z"><title>prediction interval</title></path>',
        f'<path class="line s0" d="M{mean}"><title>mean forecast</title></path>',
        f'<path class="axis" d="M{_L},{_T} V{_B} H{_R}"/>',
        f'<text class="tick" x="{_L - 4}" y="{_T + 4}" text-anchor="end">{top:.3g}</text>',
        f'<text class="tick" x="{_L - 4}" y="{_B}" text-anchor="end">0</text>',
        f'<text class="tick" x="{_L}" y="{_H - 8}">{escape(clock[0])}</text>',
        f'<text class="tick" x="{_R}" y="{_H - 8}" text-anchor="end">{escape(clock[1])}</text>',
        "</svg>",
    ]
    return Markup("".join(parts))
