"""How the pages print times, durations, numbers and values (Jinja2 filters; plain text, escaped by the template)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

SEVERITIES: dict[str, int] = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}
"""Level name -> lowest OpenTelemetry severity number of that level."""


def severity_name(number: int | None) -> str:
    """The level of an OpenTelemetry severity number.

    Example:
        >>> severity_name(9), severity_name(18), severity_name(None)
        ('info', 'error', '')
    """
    if number is None:
        return ""
    name = ""
    for level, low in SEVERITIES.items():
        if number >= low:
            name = level
    return name


def clock(ns: int | None) -> str:
    """``HH:MM:SS`` (UTC) of a Unix time in ns.

    Example:
        >>> clock(0)
        '00:00:00'
    """
    if ns is None:
        return "—"
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%H:%M:%S")


def timestamp(ns: int | None) -> str:
    """``YYYY-MM-DD HH:MM:SS.mmm`` (UTC) of a Unix time in ns.

    Example:
        >>> timestamp(1_500_000_000)
        '1970-01-01 00:00:01.500'
    """
    if ns is None:
        return "—"
    moment = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def iso(ns: int | None) -> str:
    """ISO 8601 (UTC) of a Unix time in ns, for ``<time datetime=...>``.

    Example:
        >>> iso(0)
        '1970-01-01T00:00:00+00:00'
    """
    if ns is None:
        return ""
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="seconds")


def duration(seconds: float | None) -> str:
    """A duration with a fitting unit.

    Example:
        >>> duration(0.42), duration(2.5), duration(0.0000123), duration(None)
        ('420 ms', '2.50 s', '12.3 µs', '—')
    """
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds >= 100:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 0.001:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def number(value: float | None) -> str:
    """A number in at most 4 significant digits, with k/M/G above 10 000.

    Example:
        >>> number(12.3456), number(123456), number(None)
        ('12.35', '123k', '—')
    """
    if value is None or not math.isfinite(value):
        return "—"
    magnitude = abs(value)
    for limit, scale, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if magnitude >= limit:
            return f"{value / scale:.3g}{suffix}"
    if value == int(value):
        return str(int(value))
    return f"{value:.4g}"


def percent(ratio: float | None) -> str:
    """A ratio as a percentage.

    Example:
        >>> percent(0.031), percent(None)
        ('3.1%', '—')
    """
    if ratio is None or not math.isfinite(ratio):
        return "—"
    return f"{ratio * 100:.3g}%"


def value(v: Any) -> str:
    """An attribute or log body value as text (strings as they are, the rest as JSON).

    Example:
        >>> value("a"), value((1, 2)), value({"k": True})
        ('a', '[1, 2]', '{"k": true}')
    """
    if isinstance(v, str):
        return v
    try:
        return json.dumps(v, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(v)


FILTERS: dict[str, Callable[..., str]] = {
    "clock": clock,
    "timestamp": timestamp,
    "iso": iso,
    "duration": duration,
    "number": number,
    "percent": percent,
    "value": value,
    "severity": severity_name,
}
"""The Jinja2 filters every dashboard template may use."""
