"""Server-rendered SVG: line charts of time series and the bars of a trace waterfall.

Every text that reaches the SVG goes through ``markupsafe.escape``; numbers are formatted here.
Colours are classes (``s0`` .. ``s7``, ``thr-warn``, ``error``) of the page's style sheet.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from markupsafe import Markup, escape

WIDTH, HEIGHT = 600, 200
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 592, 10, 176
PALETTE = 8
"""Series colours (classes ``s0`` .. ``s7``); further series reuse them in order."""


def _nice(value: float) -> float:
    """The smallest 1/2/2.5/5 x 10^k at or above ``value``."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value * 0.999999:
            return candidate
    return 10 ** (exponent + 1)


def _clock(ns: int, span_s: float) -> str:
    moment = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    return moment.strftime("%m-%d %H:%M" if span_s > 86400 else "%H:%M")


def line_chart(
    series: Sequence[tuple[str, Sequence[tuple[int, float | None]]]],
    *,
    start_ns: int,
    end_ns: int,
    fmt: Callable[[float], str],
    thresholds: Sequence[tuple[float, str]] = (),
    label: str = "",
) -> Markup:
    """A line chart: one path per series, gaps where a point is ``None``, dashed threshold lines.

    Args:
        series: ``(name, [(time_ns, value or None), ...])`` per series.
        start_ns: Left edge (Unix ns).
        end_ns: Right edge (Unix ns).
        fmt: Formats a y-axis value (with its unit).
        thresholds: ``(value, "warn" | "crit")`` lines drawn when within 1.5x the data's maximum.
        label: The chart's accessible name.

    Example:
        >>> svg = line_chart([("m", [(0, 1.0), (10**9, 2.0)])], start_ns=0, end_ns=10**9, fmt=str)
        >>> svg.startswith("<svg")
        True
    """
    values = [v for _, points in series for _, v in points if v is not None and math.isfinite(v)]
    top = max(values, default=0.0)
    shown = [(v, s) for v, s in thresholds if 0 <= v <= max(top, 1e-300) * 1.5]
    top = _nice(max([top] + [v for v, _ in shown]) or 1.0)
    low = min(0.0, min(values, default=0.0))
    span_ns = max(1, end_ns - start_ns)
    width, height = _RIGHT - _LEFT, _BOTTOM - _TOP

    def x(t: int) -> float:
        return _LEFT + width * (t - start_ns) / span_ns

    def y(v: float) -> float:
        return _BOTTOM - height * (v - low) / ((top - low) or 1.0)

    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<path class="axis" d="M{_LEFT} {_TOP}V{_BOTTOM}H{_RIGHT}"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        level = low + (top - low) * fraction
        out.append(f'<text x="{_LEFT - 4}" y="{y(level) + 3:.1f}" text-anchor="end">{escape(fmt(level))}</text>')
        if fraction:
            out.append(f'<path class="axis" d="M{_LEFT} {y(level):.1f}H{_RIGHT}" opacity="0.4"/>')
    span_s = span_ns / 1e9
    for fraction, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        t = start_ns + int(span_ns * fraction)
        out.append(
            f'<text x="{x(t):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">{escape(_clock(t, span_s))} UTC</text>'
            if fraction == 1.0
            else f'<text x="{x(t):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">{escape(_clock(t, span_s))}</text>'
        )
    for value, status in shown:
        out.append(f'<path class="thr-{escape(status)}" d="M{_LEFT} {y(value):.1f}H{_RIGHT}"/>')
    for index, (name, points) in enumerate(series):
        parts: list[str] = []
        dots: list[str] = []
        run: list[str] = []
        for t, v in (*points, (end_ns, None)):
            if v is None or not math.isfinite(v):
                if len(run) == 1:  # a point without neighbours: a dot, or it would not show
                    dots.append(run[0])
                parts.extend(run)
                run = []
                continue
            run.append(f"{'L' if run else 'M'}{x(t):.1f} {y(v):.1f}")
        css = f"s{index % PALETTE}"
        title = f"<title>{escape(name)}</title>"
        if parts:
            out.append(f'<path class="line {css}" d="{"".join(parts)}">{title}</path>')
        for dot in dots:
            cx, cy = dot[1:].split(" ")
            out.append(f'<circle class="dot {css}" cx="{cx}" cy="{cy}" r="2.5">{title}</circle>')
    out.append("</svg>")
    return Markup("".join(out))


def bar(start_ns: int, end_ns: int, *, origin_ns: int, total_ns: int, error: bool) -> Markup:
    """One span's bar on the trace's time axis (1000 units wide, stretched to the cell).

    Example:
        >>> 'width="500.0"' in bar(0, 5, origin_ns=0, total_ns=10, error=False)
        True
    """
    total = max(1, total_ns)
    left = 1000.0 * max(0, start_ns - origin_ns) / total
    width = max(2.0, 1000.0 * max(0, end_ns - start_ns) / total)
    left = min(left, 1000.0 - width)
    css = ' class="error"' if error else ""
    return Markup(
        '<svg class="wf" viewBox="0 0 1000 10" preserveAspectRatio="none" aria-hidden="true" '
        'xmlns="http://www.w3.org/2000/svg"><rect class="track" x="0" y="0" width="1000" height="10"/>'
        f'<rect{css} x="{left:.1f}" y="1" width="{width:.1f}" height="8"/></svg>'
    )
