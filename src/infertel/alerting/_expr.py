"""A small expression tree: evaluated in process over a :class:`SeriesHistory`, rendered as PromQL.

Only the PromQL subset the rule kinds need: selectors with matchers and offsets, range functions
(``rate``, ``increase``, ``deriv``, ``*_over_time``), aggregations (``sum``/``max``/``min``/``avg``
``by`` or ``without``), ``histogram_quantile``, ``abs``, arithmetic and comparisons between a
vector and a scalar or two vectors matched on all labels, ``and``/``or``, ``vector(s)``.
Labels of results drop ``__name__`` after any function or operator, as in Prometheus.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from infertel.alerting._history import (
    LOOKBACK_S,
    Labels,
    SeriesHistory,
    deriv,
    extrapolated_rate,
    histogram_quantile,
    over_time,
)

Vector = dict[Labels, float]
"""An instant vector: labels -> value."""

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
COMPARISONS = tuple(_COMPARE)


def _div(a: float, b: float) -> float:
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
    return a / b


_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _div,
}


_REDUCE: dict[str, Callable[[list[float]], float]] = {
    "sum": math.fsum,
    "max": max,
    "min": min,
    "avg": lambda values: math.fsum(values) / len(values),
    "count": lambda values: float(len(values)),
}


def duration(seconds: float) -> str:
    """A PromQL duration for ``seconds``: ``90`` -> ``"1m30s"``, ``86400`` -> ``"1d"``.

    Example:
        >>> duration(3600), duration(280), duration(0.5)
        ('1h', '4m40s', '500ms')
    """
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts)


def _drop_name(labels: Labels) -> Labels:
    return tuple(item for item in labels if item[0] != "__name__")


class Expr:
    """Base of every node: ``eval(history, t) -> Vector`` and ``promql() -> str``."""

    def eval(self, history: SeriesHistory, t: float) -> Vector:
        """The instant vector at time ``t`` (memoized per round: rules share subexpressions).

        The result is shared: callers must not change it.
        """
        memo = history.memo
        key = (self, t)
        result = memo.get(key)
        if result is None:
            result = memo[key] = self._eval(history, t)
        return result

    def _eval(self, history: SeriesHistory, t: float) -> Vector:
        raise NotImplementedError

    def promql(self) -> str:
        """The PromQL text."""
        raise NotImplementedError

    def max_range_s(self) -> float:
        """The longest look back (range plus offset) this expression needs."""
        return LOOKBACK_S

    def lookbacks(self) -> dict[str, float]:
        """How far back this expression reads each series name (the history keeps no more)."""
        out: dict[str, float] = {}
        for value in vars(self).values():
            if isinstance(value, Expr):
                for name, seconds in value.lookbacks().items():
                    out[name] = max(out.get(name, 0.0), seconds)
        return out

    def __str__(self) -> str:
        return self.promql()


def _matchers_text(matchers: tuple[tuple[str, str, str], ...]) -> str:
    if not matchers:
        return ""
    body = ",".join(f'{name}{op}"{_escape(value)}"' for name, op, value in matchers)
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True)
class Selector(Expr):
    """``name{matchers} offset o``: the newest sample of each series at most 5 min old.

    Example:
        >>> Selector("up", (("job", "=", "api"),)).promql()
        'up{job="api"}'
    """

    name: str
    matchers: tuple[tuple[str, str, str], ...] = ()
    offset_s: float = 0.0

    def _eval(self, history: SeriesHistory, t: float) -> Vector:
        at = t - self.offset_s
        return {labels: points[-1][1] for labels, points in history.select(self.name, self.matchers, at, LOOKBACK_S)}

    def promql(self) -> str:
        text = self.name + _matchers_text(self.matchers)
        return f"{text} offset {duration(self.offset_s)}" if self.offset_s else text

    def max_range_s(self) -> float:
        return LOOKBACK_S + self.offset_s

    def lookbacks(self) -> dict[str, float]:
        return {self.name: LOOKBACK_S + self.offset_s}


_RANGE_FUNCTIONS = ("rate", "increase", "deriv", "avg_over_time", "min_over_time", "max_over_time",
                    "sum_over_time", "count_over_time", "stddev_over_time", "last_over_time")  # fmt: skip


@dataclass(frozen=True)
class RangeFunction(Expr):
    """``function(name{matchers}[range] offset o)``.

    Example:
        >>> RangeFunction("rate", Selector("requests_total"), 300).promql()
        'rate(requests_total[5m])'
    """

    function: str
    selector: Selector
    range_s: float

    def __post_init__(self) -> None:
        if self.function not in _RANGE_FUNCTIONS:
            raise ValueError(f"range function must be one of {', '.join(_RANGE_FUNCTIONS)}; got {self.function!r}")

    def _eval(self, history: SeriesHistory, t: float) -> Vector:
        end = t - self.selector.offset_s
        start = end - self.range_s
        out: Vector = {}
        for labels, points in history.select(self.selector.name, self.selector.matchers, end, self.range_s):
            if self.function in ("rate", "increase"):
                value = extrapolated_rate(points, start, end, counter=True, is_rate=self.function == "rate")
            elif self.function == "deriv":
                value = deriv(points)
            else:
                value = over_time(self.function[: -len("_over_time")], points)
            if value is not None:
                out[_drop_name(labels)] = value
        return out

    def promql(self) -> str:
        inner = self.selector.name + _matchers_text(self.selector.matchers) + f"[{duration(self.range_s)}]"
        if self.selector.offset_s:
            inner += f" offset {duration(self.selector.offset_s)}"
        return f"{self.function}({inner})"

    def max_range_s(self) -> float:
        return self.range_s + self.selector.offset_s

    def lookbacks(self) -> dict[str, float]:
        return {self.selector.name: self.range_s + self.selector.offset_s}


@dataclass(frozen=True)
class Aggregate(Expr):
    """``op by (labels) (expr)`` or ``op without (labels) (expr)``; op in sum, max, min, avg, count.

    Example:
        >>> Aggregate("sum", RangeFunction("rate", Selector("r_total"), 60), by=("model",)).promql()
        'sum by (model) (rate(r_total[1m]))'
    """

    op: str
    expr: Expr
    by: tuple[str, ...] | None = None
    without: tuple[str, ...] | None = None

    def _eval(self, history: SeriesHistory, t: float) -> Vector:
        groups: dict[Labels, list[float]] = {}
        for labels, value in self.expr.eval(history, t).items():
            if self.by is not None:
                key = tuple(item for item in labels if item[0] in self.by)
            else:
                drop = set(self.without or ()) | {"__name__"}
                key = tuple(item for item in labels if item[0] not in drop)
            groups.setdefault(key, []).append(value)
        reduce = _REDUCE[self.op]
        return {key: reduce(values) for key, values in groups.items()}

    def promql(self) -> str:
        if self.by == ():
            return f"{self.op}({self.expr.promql()})"
        if self.by is not None:
            return f"{self.op} by ({', '.join(self.by)}) ({self.expr.promql()})"
        return f"{self.op} without ({', '.join(self.without or ())}) ({self.expr.promql()})"

    def max_range_s(self) -> float:
        return self.expr.max_range_s()


@dataclass(frozen=True)
class Quantile(Expr):
    """``histogram_quantile(q, expr)`` over a vector that keeps the ``le`` label."""

    q: float
    expr: Expr

    def _eval(self, history: SeriesHistory, t: float) -> Vector:
        groups: dict[Labels, list[tuple[float, float]]] = {}
        for labels, value in self.expr.eval(history, t).items():
            le = dict(labels).get("le")
            if le is None:
                continue
            key = tuple(item for item in labels if item[0] not in ("le", "__name__"))
            groups.setdefault(key, []).append((float(le), value))
        return {key: histogram_quantile(self.q, buckets) for key, buckets in groups.items()}

    def promql(self) -> str:
        return f"histogram_quantile({self.q:g}, {self.expr.promql()})"

    def max_range_s(self) -> float:
        return self.expr.max_range_s()


def _sqrt(value: float) -> float:
    return math.sqrt(value) if value >= 0 else math.nan


_FUNCTIONS: dict[str, Callable[[float], float]] = {"abs": abs, "sqrt": _sqrt}


@dataclass(frozen=True)
class Abs(Expr):
    """``abs(expr)`` (or another element-wise function: ``function="sqrt"``)."""

    expr: Expr
    function: str = "abs"

    def _eval(self, history: SeriesHistory, t: float) -> Vector:
        apply = _FUNCTIONS[self.function]
        return {_drop_name(k): apply(v) for k, v in self.expr.eval(history, t).items()}

    def promql(self) -> str:
        return f"{self.function}({self.expr.promql()})"

    def max_range_s(self) -> float:
        return self.expr.max_range_s()


@dataclass(frozen=True)
class Scalar(Expr):
    """A number; as a rule's whole expression it is ``vector(n)`` (one series, no labels)."""

    value: float

    def _eval(self, history: SeriesHistory, t: float) -> Vector:
        return {(): self.value}

    def promql(self) -> str:
        return f"vector({self.value!r})"

    def literal(self) -> str:
        """The number as PromQL writes it in an operation."""
        return repr(self.value) if math.isfinite(self.value) else ("+Inf" if self.value > 0 else "-Inf")


@dataclass(frozen=True)
class Binary(Expr):
    """``left op right``: arithmetic, comparison (a filter keeping the left value) or ``and``/``or``.

    Vectors are matched on all labels but ``__name__`` (or on ``on`` when given, for ``and``).

    Example:
        >>> Binary(">", Selector("x"), Scalar(3)).promql()
        '(x > 3)'
    """

    op: str
    left: Expr
    right: Expr
    on: tuple[str, ...] | None = field(default=None)

    def _eval(self, history: SeriesHistory, t: float) -> Vector:
        left = self.left.eval(history, t)
        if self.op == "or":
            out = {_drop_name(k): v for k, v in left.items()}
            for k, v in self.right.eval(history, t).items():
                out.setdefault(_drop_name(k), v)
            return out
        right_scalar = isinstance(self.right, Scalar)
        left_scalar = isinstance(self.left, Scalar)
        right = self.right.eval(history, t)
        if self.op == "and":
            keys = {self._key(k) for k in right}
            return {_drop_name(k): v for k, v in left.items() if self._key(k) in keys}
        compare = _COMPARE.get(self.op)
        if right_scalar or left_scalar:
            # Vector and scalar: a comparison keeps the vector's samples for which it holds, with their
            # values; arithmetic applies to each sample.
            vector, scalar = (right, self.left.value) if left_scalar else (left, self.right.value)  # type: ignore[attr-defined]
            out = {}
            for k, v in vector.items():
                a, b = (scalar, v) if left_scalar else (v, scalar)
                if compare is None:
                    out[_drop_name(k)] = _ARITH[self.op](a, b)
                elif compare(a, b):
                    out[_drop_name(k)] = v
            return out
        by_key = {_drop_name(k): v for k, v in right.items()}
        out = {}
        for k, v in left.items():
            other = by_key.get(_drop_name(k))
            if other is None:
                continue
            if compare is not None:
                if compare(v, other):
                    out[_drop_name(k)] = v
            else:
                out[_drop_name(k)] = _ARITH[self.op](v, other)
        return out

    def _key(self, labels: Labels) -> Labels:
        if self.on is not None:
            return tuple(item for item in labels if item[0] in self.on)
        return _drop_name(labels)

    def promql(self) -> str:
        left = self.left.literal() if isinstance(self.left, Scalar) else self.left.promql()
        right = self.right.literal() if isinstance(self.right, Scalar) else self.right.promql()
        op = self.op if self.on is None else f"{self.op} on ({', '.join(self.on)})"
        return f"({left} {op} {right})"

    def max_range_s(self) -> float:
        return max(self.left.max_range_s(), self.right.max_range_s())
