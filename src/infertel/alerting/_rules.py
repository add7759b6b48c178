"""Rule kinds: threshold, SLO burn rate, trend, deviation; each compiles to recording and alert specs.

A rule is plain data. :meth:`Rule.compile` turns it into the Prometheus rule shape for one dialect
(``"live"`` in process, ``"prometheus"`` for ``infertel prometheus-rules``): recording rules first,
then alerts, evaluated in that order at each round, as Prometheus evaluates a rule group.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infertel.alerting import _templates
from infertel.alerting._expr import COMPARISONS, Abs, Aggregate, Binary, Expr, RangeFunction, Scalar, Selector, duration
from infertel.alerting._signals import (
    SIGNALS,
    label_name,
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DAY = 86_400.0


@dataclass(frozen=True)
class RecordingSpec:
    """A recording rule: ``record`` = ``expr`` with ``labels`` added."""

    record: str
    expr: Expr
    labels: Mapping[str, str] = field(default_factory=dict)
    in_process: bool = True
    """False for Prometheus-only bookkeeping (30-day windows the in-process history does not keep)."""


@dataclass(frozen=True)
class AlertSpec:
    """An alerting rule in the Prometheus shape."""

    name: str
    expr: Expr
    for_s: float
    keep_firing_for_s: float
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    rule: Rule


@dataclass(frozen=True)
class Compiled:
    """What one rule becomes: recordings (evaluated first) and alerts."""

    recordings: tuple[RecordingSpec, ...]
    alerts: tuple[AlertSpec, ...]


def _fail(rule: str, field_name: str, why: str) -> ValueError:
    return ValueError(f"alert rule {rule!r}: field {field_name!r}: {why}")


@dataclass(frozen=True)
class Rule:
    """Fields every kind shares (Prometheus' alerting rule fields).

    Attributes:
        name: The alert name (``alertname`` label), ``[A-Za-z_][A-Za-z0-9_]*``.
        severity: ``severity`` label (default ``"warning"``).
        for_s: Seconds the condition must hold before the alert fires.
        keep_firing_for_s: Seconds an alert keeps firing after the condition stops.
        labels: Extra labels.
        annotations: Templates (``{{ $labels.x }}``, ``{{ $value }}``) rendered per alert.
        actions: Remediation actions (``on_fire(alert)`` / ``on_resolve(alert)``).
        enabled: ``False`` switches the rule off.
    """

    name: str
    severity: str = "warning"
    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    actions: Sequence[Any] = ()
    enabled: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the rule and the field at fault."""
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise _fail(str(self.name), "name", "must match [A-Za-z_][A-Za-z0-9_]*")
        for field_name in ("for_s", "keep_firing_for_s"):
            value = getattr(self, field_name)
            if not isinstance(value, (int, float)) or value < 0:
                raise _fail(self.name, field_name, f"must be a non-negative number of seconds; got {value!r}")
        if not isinstance(self.severity, str) or not self.severity:
            raise _fail(self.name, "severity", "must be a non-empty string")
        for key, text in {**self.labels, **self.annotations}.items():
            if not isinstance(key, str) or not _NAME.match(key) or not isinstance(text, str):
                raise _fail(self.name, "labels/annotations", f"{key!r}: names match [A-Za-z_]\\w*, values are text")
        for key, text in self.annotations.items():
            try:
                _templates.validate(text)
            except ValueError as error:
                raise _fail(self.name, f"annotations.{key}", str(error)) from None

    def compile(self, dialect: str) -> Compiled:
        """The recording and alert specs of this rule in ``dialect``."""
        raise NotImplementedError

    def _alert(self, expr: Expr, *, severity: str | None = None, annotations: Mapping[str, str] | None = None,
               extra_labels: Mapping[str, str] | None = None) -> AlertSpec:  # fmt: skip
        labels = {**dict(extra_labels or {}), **self.labels, "severity": severity or self.severity}
        return AlertSpec(self.name, expr, float(self.for_s), float(self.keep_firing_for_s), labels,
                         {**dict(annotations or {}), **self.annotations}, self)  # fmt: skip


def _matchers(rule: str, where: Mapping[str, str]) -> tuple[tuple[str, str, str], ...]:
    out = []
    for key, value in where.items():
        if not isinstance(value, str):
            raise _fail(rule, f"where.{key}", "must be a string (a leading ~ makes it a regular expression)")
        if value.startswith("~"):
            try:
                re.compile(value[1:])
            except re.error as error:
                raise _fail(rule, f"where.{key}", f"bad regular expression: {error}") from None
            out.append((label_name(key), "=~", value[1:]))
        else:
            out.append((label_name(key), "=", value))
    return tuple(out)


def _signal(rule: str, name: str) -> Any:
    if name not in SIGNALS:
        raise _fail(rule, "signal", f"unknown signal {name!r}; accepted: {', '.join(sorted(SIGNALS))}")
    return SIGNALS[name]


def _positive(rule: str, field_name: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise _fail(rule, field_name, f"must be a positive number; got {value!r}")


@dataclass(frozen=True)
class ThresholdRule(Rule):
    """Fires while ``signal`` (or a custom ``expr``) compares true against ``threshold``.

    Example:
        >>> r = ThresholdRule("HighP99", signal="latency_p99", op=">", threshold=2.0, for_s=300)
        >>> r.compile("prometheus").alerts[0].expr.promql()[:30]
        '((histogram_quantile(0.99, sum'
    """

    signal: str = ""
    op: str = ">"
    threshold: float = 0.0
    window_s: float = 300.0
    by: tuple[str, ...] | None = None
    where: Mapping[str, str] = field(default_factory=dict)
    expr: Expr | None = None
    series: str = ""
    """A series of the engine's input by name (e.g. ``infertel_store_latency_p99``) instead of a signal."""

    def validate(self) -> None:
        super().validate()
        if self.series:
            if not re.match(r"^[A-Za-z_:][A-Za-z0-9_:]*$", self.series):
                raise _fail(self.name, "series", f"not a series name: {self.series!r}")
        elif self.expr is None:
            _signal(self.name, self.signal)
        if self.op not in COMPARISONS:
            raise _fail(self.name, "op", f"must be one of {', '.join(COMPARISONS)}; got {self.op!r}")
        if not isinstance(self.threshold, (int, float)) or isinstance(self.threshold, bool):
            raise _fail(self.name, "threshold", f"must be a number; got {self.threshold!r}")
        _positive(self.name, "window_s", self.window_s)
        _matchers(self.name, self.where)

    def compile(self, dialect: str) -> Compiled:
        base = self.expr
        if base is None and self.series:
            by = tuple(label_name(b) for b in (("model",) if self.by is None else self.by))
            base = Aggregate("max", Selector(self.series, _matchers(self.name, self.where)), by=by)
        if base is None:
            by = _by(self.signal, self.by)
            base = SIGNALS[self.signal].expr(dialect, self.window_s, by, _matchers(self.name, self.where))
        return Compiled((), (self._alert(Binary(self.op, base, Scalar(float(self.threshold)))),))


def _eq(labels: Mapping[str, str]) -> tuple[tuple[str, str, str], ...]:
    return tuple((k, "=", v) for k, v in labels.items())


def _by(signal: str, by: tuple[str, ...] | None) -> tuple[str, ...]:
    return tuple(label_name(b) for b in (SIGNALS[signal].by if by is None else by))


def _recorded(rule: Rule, signal: str, window_s: float, by: tuple[str, ...] | None, where: Mapping[str, str],
              dialect: str) -> tuple[RecordingSpec, Selector]:  # fmt: skip
    labels = {"infertel_rule": rule.name}
    record = f"infertel:{signal}:{duration(window_s)}"
    expr = SIGNALS[signal].expr(dialect, window_s, _by(signal, by), _matchers(rule.name, where))
    return RecordingSpec(record, expr, labels), Selector(record, _eq(labels))


@dataclass(frozen=True)
class TrendRule(Rule):
    """Fires while ``signal`` changes faster than ``threshold_pct_per_hour`` (least-squares slope).

    The signal is recorded each round (``infertel:<signal>:<window>``); the value is the slope over
    ``trend_window_s`` in percent of its mean per hour (``deriv`` / ``avg_over_time``).

    Example:
        >>> r = TrendRule("LatencyRising", signal="latency_p95", threshold_pct_per_hour=50)
        >>> r.compile("prometheus").alerts[0].expr.promql().startswith("(((deriv(")
        True
    """

    signal: str = ""
    threshold_pct_per_hour: float = 50.0
    trend_window_s: float = 3600.0
    window_s: float = 300.0
    by: tuple[str, ...] | None = None
    where: Mapping[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        super().validate()
        _signal(self.name, self.signal)
        if not isinstance(self.threshold_pct_per_hour, (int, float)) or self.threshold_pct_per_hour == 0:
            raise _fail(self.name, "threshold_pct_per_hour", "must be a non-zero number (negative: falling)")
        _positive(self.name, "trend_window_s", self.trend_window_s)
        _positive(self.name, "window_s", self.window_s)
        _matchers(self.name, self.where)

    def compile(self, dialect: str) -> Compiled:
        recording, series = _recorded(self, self.signal, self.window_s, self.by, self.where, dialect)
        slope = RangeFunction("deriv", series, self.trend_window_s)
        mean = RangeFunction("avg_over_time", series, self.trend_window_s)
        pct = Binary("*", Binary("/", slope, mean), Scalar(360000.0))
        op = ">" if self.threshold_pct_per_hour > 0 else "<"
        return Compiled((recording,), (self._alert(Binary(op, pct, Scalar(float(self.threshold_pct_per_hour)))),))


@dataclass(frozen=True)
class DeviationRule(Rule):
    """Fires while ``signal`` leaves its baseline.

    ``method="bands"``: ``|x - mean| / stddev`` over the trailing ``baseline_window_s`` above ``k``
    (value: the z-score). ``method="ewma"``: the same z-score against an exponentially weighted
    mean and variance (weight ``alpha`` per round), kept as self-referencing recording rules so
    Prometheus computes the very same series; no alert before ``min_samples`` rounds within
    ``baseline_window_s``. ``method="seasonal"``: ``x`` against the mean of the same time on the
    previous ``days`` days, above ``1 + tolerance`` (``direction="up"``), below ``1 - tolerance``
    (``"down"``) or either (``"both"``); the value is the ratio.

    Example:
        >>> r = DeviationRule("TrafficOdd", signal="requests_per_s", method="seasonal", days=2)
        >>> "offset 2d" in r.compile("prometheus").alerts[0].expr.promql()
        True
    """

    signal: str = ""
    method: str = "bands"
    alpha: float = 0.1
    min_samples: int = 20
    k: float = 3.0
    baseline_window_s: float = 3600.0
    days: int = 3
    tolerance: float = 0.5
    direction: str = "both"
    window_s: float = 300.0
    by: tuple[str, ...] | None = None
    where: Mapping[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        super().validate()
        _signal(self.name, self.signal)
        if self.method not in ("bands", "seasonal", "ewma"):
            raise _fail(self.name, "method", f"must be 'bands', 'seasonal' or 'ewma'; got {self.method!r}")
        if not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise _fail(self.name, "alpha", f"must be between 0 and 1 (exclusive); got {self.alpha!r}")
        if not isinstance(self.min_samples, int) or self.min_samples < 2:
            raise _fail(self.name, "min_samples", f"must be an integer of at least 2; got {self.min_samples!r}")
        if self.direction not in ("up", "down", "both"):
            raise _fail(self.name, "direction", f"must be 'up', 'down' or 'both'; got {self.direction!r}")
        _positive(self.name, "k", self.k)
        _positive(self.name, "baseline_window_s", self.baseline_window_s)
        _positive(self.name, "tolerance", self.tolerance)
        _positive(self.name, "window_s", self.window_s)
        if not isinstance(self.days, int) or not 1 <= self.days <= 14:
            raise _fail(self.name, "days", f"must be an integer from 1 to 14; got {self.days!r}")
        _matchers(self.name, self.where)

    def compile(self, dialect: str) -> Compiled:
        recording, series = _recorded(self, self.signal, self.window_s, self.by, self.where, dialect)
        if self.method == "ewma":
            return self._ewma(recording, series)
        if self.method == "bands":
            mean = RangeFunction("avg_over_time", series, self.baseline_window_s)
            spread = RangeFunction("stddev_over_time", series, self.baseline_window_s)
            z = Binary("/", Abs(Binary("-", series, mean)), spread)
            return Compiled((recording,), (self._alert(Binary(">", z, Scalar(float(self.k)))),))
        baseline: Expr = Selector(series.name, series.matchers, DAY)
        for day in range(2, self.days + 1):
            baseline = Binary("+", baseline, Selector(series.name, series.matchers, day * DAY))
        ratio = Binary("/", series, Binary("/", baseline, Scalar(float(self.days))))
        up = Binary(">", ratio, Scalar(1.0 + self.tolerance))
        down = Binary("<", ratio, Scalar(max(0.0, 1.0 - self.tolerance)))
        condition = up if self.direction == "up" else down if self.direction == "down" else Binary("or", up, down)
        return Compiled((recording,), (self._alert(condition),))

    def _ewma(self, recording: RecordingSpec, x: Selector) -> Compiled:
        # m_t = a x_t + (1 - a) m_{t-1};  v_t = (1 - a) (v_{t-1} + a (x_t - m_{t-1})^2), read back one round
        # late with "offset 1s" (the newest sample before this round's), seeded with x and 0.
        a = float(self.alpha)
        labels = dict(recording.labels)
        mean_name, var_name = f"{recording.record}:ewma", f"{recording.record}:ewvar"
        previous_mean = Binary("or", Selector(mean_name, x.matchers, 1.0), x)
        previous_var = Binary("or", Selector(var_name, x.matchers, 1.0), Binary("*", x, Scalar(0.0)))
        deviation = Binary("-", x, previous_mean)
        mean = Binary("+", Binary("*", Scalar(a), x), Binary("*", Scalar(1 - a), previous_mean))
        var = Binary("*", Scalar(1 - a),
                     Binary("+", previous_var, Binary("*", Scalar(a), Binary("*", deviation, deviation))))  # fmt: skip
        z = Binary("/", Abs(Binary("-", x, Selector(mean_name, x.matchers, 1.0))),
                   Abs(Selector(var_name, x.matchers, 1.0), "sqrt"))  # fmt: skip
        seen = RangeFunction("count_over_time", x, float(self.baseline_window_s))
        warm = Binary(">=", seen, Scalar(float(self.min_samples)))
        alert = self._alert(Binary("and", Binary(">", z, Scalar(float(self.k))), warm))
        return Compiled((recording, RecordingSpec(mean_name, mean, labels), RecordingSpec(var_name, var, labels)),
                        (alert,))  # fmt: skip
