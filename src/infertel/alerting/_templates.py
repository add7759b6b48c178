"""Annotation templates: the subset of Prometheus' Go templates that alert annotations use.

``{{ $labels.NAME }}``, ``{{ $value }}`` and ``{{ $value | humanize }}``,
``| humanizePercentage``, ``| humanizeDuration``. The same text is valid in a Prometheus rule file and
renders the same there (``$value`` printed as Go prints a float64).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

_ACTION = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_LABEL = re.compile(r"^\$labels\.([A-Za-z_][A-Za-z0-9_]*)$")
_VALUE = re.compile(r"^\$value(?:\s*\|\s*(humanize|humanizePercentage|humanizeDuration))?$")


def validate(text: str) -> None:
    """Raise ``ValueError`` naming the first action outside the supported subset.

    Example:
        >>> validate("p99 of {{ $labels.model }} is {{ $value | humanizeDuration }}")
    """
    for action in _ACTION.findall(text):
        if not (_LABEL.match(action) or _VALUE.match(action)):
            raise ValueError(
                f"unsupported template action {{{{ {action} }}}}; accepted: $labels.NAME, $value, "
                "$value | humanize, $value | humanizePercentage, $value | humanizeDuration"
            )


def expand(text: str, labels: Mapping[str, str], value: float) -> str:
    """``text`` with every action replaced.

    Example:
        >>> expand("{{ $labels.model }}: {{ $value | humanizePercentage }}", {"model": "m"}, 0.0512)
        'm: 5.12%'
    """

    def replace(match: re.Match[str]) -> str:
        action = match.group(1)
        label = _LABEL.match(action)
        if label:
            return labels.get(label.group(1), "")
        value_match = _VALUE.match(action)
        if value_match is None:
            return match.group(0)
        function = value_match.group(1)
        if function == "humanize":
            return humanize(value)
        if function == "humanizePercentage":
            return _g4(value * 100) + "%"
        if function == "humanizeDuration":
            return humanize_duration(value)
        return go_float(value)

    return _ACTION.sub(replace, text)


def go_float(value: float) -> str:
    """A float64 as Go's ``%v`` prints it.

    Example:
        >>> go_float(2.0), go_float(0.25), go_float(1e-05), go_float(float("inf"))
        ('2', '0.25', '1e-05', '+Inf')
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = exponent[0] if exponent[0] in "+-" else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return text


def _g4(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.4g}"


def humanize(value: float) -> str:
    """Prometheus' ``humanize``: SI prefixes, four significant digits.

    Example:
        >>> humanize(1234567.0), humanize(0.0012)
        ('1.235M', '1.2m')
    """
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _g4(value)
    prefix = ""
    if abs(value) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix = p
            value /= 1000
    else:
        for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
            if abs(value) >= 1:
                break
            prefix = p
            value *= 1000
    return _g4(value) + prefix


def humanize_duration(value: float) -> str:
    """Prometheus' ``humanizeDuration``.

    Example:
        >>> humanize_duration(93784.0), humanize_duration(1.5), humanize_duration(0.25)
        ('1d 2h 3m 4s', '1.5s', '250ms')
    """
    if math.isnan(value) or math.isinf(value):
        return _g4(value)
    if value == 0:
        return "0s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        whole = int(abs(value))
        seconds, minutes, hours, days = whole % 60, whole // 60 % 60, whole // 3600 % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(abs(value))}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = p
        value *= 1000
    return f"{_g4(value)}{prefix}s"
