"""The data of health checks: a check's definition and one result of running it.

A check is any callable, sync or async, taking no argument and returning a :class:`CheckResult`
(or ``True``/``False``/``None`` as shorthands for pass/fail/pass). The registry runs it in the
background at its period, under its timeout; probes only read the cached results.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

PASS = "pass"
"""Healthy."""
WARN = "warn"
"""Healthy, with a concern (a probe still answers 200)."""
FAIL = "fail"
"""Unhealthy (a critical failing check makes the probe answer 503)."""
STATUSES = (PASS, WARN, FAIL)
"""The three statuses of the ``application/health+json`` draft, best first."""

LIVEZ = "livez"
"""The liveness probe: the process works; never depends on downstreams."""
READYZ = "readyz"
"""The readiness probe: critical checks pass and every gate is open."""
STARTUPZ = "startupz"
"""The startup probe: every startup check passed once and every gate was opened once."""
PROBES = (LIVEZ, READYZ, STARTUPZ)

_RANK = {PASS: 0, WARN: 1, FAIL: 2}

ObservedValue = int | float | str | bool | None
CheckFunction = Callable[[], Any]
"""A check: no argument; returns (or, async, resolves to) a :class:`CheckResult`, a bool or ``None``."""


def worst(statuses: Iterable[str]) -> str:
    """The worst of ``statuses`` (``pass`` for none).

    Example:
        >>> worst(["pass", "warn", "pass"])
        'warn'
    """
    found = PASS
    for status in statuses:
        if _RANK[status] > _RANK[found]:
            found = status
    return found


@dataclass(frozen=True)
class CheckResult:
    """One outcome of a check, as the ``application/health+json`` draft describes a check entry.

    Attributes:
        status: ``pass``, ``warn`` or ``fail``.
        output: A short human-readable message (empty when all is well). Never put secrets here.
        observed_value: What was measured (a ratio, a count, seconds ...), if anything.
        observed_unit: Its UCUM unit (``1``, ``s``, ``By``, ``{item}``).
        component_type: ``system``, ``component``, ``datastore`` or anything meaningful.

    Raises:
        ValueError: ``status`` is not one of :data:`STATUSES`.

    Example:
        >>> CheckResult("warn", "memory at 91%", observed_value=0.91, observed_unit="1").status
        'warn'
    """

    status: str
    output: str = ""
    observed_value: ObservedValue = None
    observed_unit: str | None = None
    component_type: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"CheckResult.status: {self.status!r} is not accepted; expected one of {STATUSES}")
        if isinstance(self.observed_value, float) and not math.isfinite(self.observed_value):
            object.__setattr__(self, "observed_value", None)  # JSON has no NaN/inf: dropped


def coerce_result(value: Any) -> CheckResult:
    """A check function's return value as a :class:`CheckResult` (``True``/``None`` pass, ``False`` fail).

    Raises:
        TypeError: Anything else.

    Example:
        >>> coerce_result(False).status
        'fail'
    """
    if isinstance(value, CheckResult):
        return value
    if value is None or value is True:
        return CheckResult(PASS)
    if value is False:
        return CheckResult(FAIL, "the check returned False")
    raise TypeError(f"a health check returned {type(value).__name__}; expected CheckResult, bool or None")


@dataclass(frozen=True)
class Check:
    """A health check: what to run, how often, for how long, and what its failure means.

    Attributes:
        name: Its key in the ``checks`` map, ``component:measurement`` by the health+json draft
            (``memory:utilization``, ``exporter.traces:state``).
        fn: The check: a sync or async callable with no argument.
        timeout_millis: A run that takes longer counts as ``fail`` ("timed out").
        period_s: Seconds between the starts of two runs.
        critical: A failing critical check fails the probes it belongs to; a failing non-critical
            one only makes them ``warn``.
        probes: Which probes consider it (``readyz`` and ``startupz`` by default; ``livez`` only for
            checks of the process itself, never of a downstream).

    Raises:
        ValueError: An empty name, a non-positive timeout or period, an unknown probe.

    Example:
        >>> Check("cache:size", lambda: True, period_s=5).critical
        True
    """

    name: str
    fn: CheckFunction
    timeout_millis: float = 1_000
    period_s: float = 10.0
    critical: bool = True
    probes: frozenset[str] = field(default_factory=lambda: frozenset({READYZ, STARTUPZ}))

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Check.name: {self.name!r} is not accepted; expected a non-empty string")
        if not callable(self.fn):
            raise ValueError(f"Check {self.name!r}: fn must be callable (got {type(self.fn).__name__})")
        if not (isinstance(self.timeout_millis, (int, float)) and self.timeout_millis > 0):
            raise ValueError(f"Check {self.name!r}: timeout_millis={self.timeout_millis!r}; expected a number > 0")
        if not (isinstance(self.period_s, (int, float)) and self.period_s > 0):
            raise ValueError(f"Check {self.name!r}: period_s={self.period_s!r}; expected a number > 0")
        probes = frozenset(self.probes)
        unknown = sorted(probes - set(PROBES))
        if unknown or not probes:
            raise ValueError(f"Check {self.name!r}: probes={sorted(probes)!r}; expected a non-empty subset of {PROBES}")
        object.__setattr__(self, "probes", probes)


@dataclass(frozen=True)
class Observation:
    """The latest result of a check, with when it was taken (what the probes read).

    Attributes:
        check: The check.
        result: Its latest result (``None`` until the first run ends).
        time_unix_nano: When that result was taken, Unix nanoseconds.
        duration_s: How long the run took.
        passed_once: Whether it ever passed (the startup probe latches on it).
    """

    check: Check
    result: CheckResult | None
    time_unix_nano: int = 0
    duration_s: float = 0.0
    passed_once: bool = False
