"""SLO rules: multi-window, multi-burn-rate alerts with Sloth's recording names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from infertel.alerting._expr import Aggregate, Binary, Expr, RangeFunction, Scalar, Selector, duration
from infertel.alerting._rules import DAY, Compiled, RecordingSpec, Rule, _eq, _fail, _matchers, _positive
from infertel.alerting._signals import LIVE_REQUESTS, LIVE_SLOW, PROM_DURATION, either, error_ratio, label_name

# The SRE workbook's multiwindow, multi-burn-rate table for a 30-day SLO (table 5-8 / section 14.4):
# (long window, short window, burn rate factor, severity key). Windows scale with the SLO period.
BURN_RATE_TABLE: tuple[tuple[float, float, float, str], ...] = (
    (3600.0, 300.0, 14.4, "page"),
    (6 * 3600.0, 1800.0, 6.0, "page"),
    (DAY, 7200.0, 3.0, "ticket"),
    (3 * DAY, 6 * 3600.0, 1.0, "ticket"),
)


@dataclass(frozen=True)
class SLORule(Rule):
    """Multi-window, multi-burn-rate alerts on an error-rate or latency SLO (Sloth's rule names).

    ``objective`` is the target fraction of good events (``0.999``); ``period_s`` the SLO period
    (30 days by default; the workbook's windows scale with it). Page alerts (14.4x 1h/5m,
    6x 6h/30m) carry ``severity=page_severity``, ticket alerts (3x 1d/2h, 1x 3d/6h)
    ``ticket_severity``. ``min_events``: no alert unless the long window saw this many requests.
    The alert's value is the time left until the budget is exhausted at the current burn rate.

    Example:
        >>> r = SLORule("ChatAvailability", objective=0.999)
        >>> [a.labels["severity"] for a in r.compile("prometheus").alerts]
        ['page', 'ticket']
    """

    sli: str = "error"
    objective: float = 0.999
    period_s: float = 30 * DAY
    latency_threshold_s: float | None = None
    by: tuple[str, ...] = ("model",)
    where: Mapping[str, str] = field(default_factory=dict)
    min_events: int = 100
    page_severity: str = "page"
    ticket_severity: str = "ticket"
    service: str = "infertel"

    def validate(self) -> None:
        super().validate()
        if self.sli not in ("error", "latency"):
            raise _fail(self.name, "sli", f"must be 'error' or 'latency'; got {self.sli!r}")
        if not isinstance(self.objective, (int, float)) or not 0 < self.objective < 1:
            raise _fail(self.name, "objective", f"must be a fraction between 0 and 1 (0.999); got {self.objective!r}")
        _positive(self.name, "period_s", self.period_s)
        if self.sli == "latency":
            _positive(self.name, "latency_threshold_s", self.latency_threshold_s)
        if not isinstance(self.min_events, int) or self.min_events < 0:
            raise _fail(self.name, "min_events", f"must be a non-negative integer; got {self.min_events!r}")
        _matchers(self.name, self.where)

    def windows(self) -> list[tuple[float, float, float, str]]:
        """The burn-rate table scaled to ``period_s``: ``(long_s, short_s, factor, kind)``."""
        scale = self.period_s / (30 * DAY)
        return [
            (round(long * scale), round(short * scale), factor, kind) for long, short, factor, kind in BURN_RATE_TABLE
        ]

    def _sloth_labels(self) -> dict[str, str]:
        return {"sloth_id": f"{self.service}-{self.name}", "sloth_service": self.service, "sloth_slo": self.name}

    def _ratio(self, dialect: str, window_s: float) -> Expr:
        by = tuple(label_name(b) for b in self.by)
        matchers = _matchers(self.name, self.where)

        def rate(name: str, extra: tuple[tuple[str, str, str], ...] = ()) -> Expr:
            return Aggregate("sum", RangeFunction("rate", Selector(name, (*matchers, *extra)), window_s), by=by)

        le = (("le", "=", _le(self.latency_threshold_s)),) if self.sli == "latency" else ()
        if dialect == "live":
            total = rate(LIVE_REQUESTS)
            bad = rate("infertel_live_errors_total") if self.sli == "error" else rate(LIVE_SLOW, le)
            return error_ratio(bad, total)

        def ratio(histogram: str) -> Expr:
            total = rate(histogram + "_count")
            if self.sli == "error":
                return error_ratio(rate(histogram + "_count", (("error_type", "!=", ""),)), total)
            return Binary("/", Binary("-", total, rate(histogram + "_bucket", le)), total)

        return either(ratio, PROM_DURATION)

    def compile(self, dialect: str) -> Compiled:
        sloth = self._sloth_labels()
        budget = round(1.0 - float(self.objective), 12)
        windows = self.windows()
        spans = sorted({w for long, short, _, _ in windows for w in (long, short)})
        recordings = [
            RecordingSpec(
                f"slo:sli_error:ratio_rate{duration(w)}",
                self._ratio(dialect, w),
                {**sloth, "sloth_window": duration(w)},
            )  # fmt: skip
            for w in spans
        ]
        by = tuple(label_name(b) for b in self.by)
        matchers = _matchers(self.name, self.where)
        for long in sorted({long for long, _, _, _ in windows}):

            def increase(series: str, long: float = long) -> Expr:
                return Aggregate("sum", RangeFunction("increase", Selector(series, matchers), long), by=by)

            events = (
                increase(LIVE_REQUESTS)
                if dialect == "live"
                else either(lambda h: increase(h + "_count"), PROM_DURATION)
            )
            recordings.append(RecordingSpec(f"infertel:slo_events:increase{duration(long)}", events, sloth))
        period = duration(self.period_s)
        recordings += [
            RecordingSpec("slo:objective:ratio", Scalar(float(self.objective)), sloth, in_process=False),
            RecordingSpec("slo:error_budget:ratio", Scalar(budget), sloth, in_process=False),
            RecordingSpec("slo:time_period:days", Scalar(self.period_s / DAY), sloth, in_process=False),
            RecordingSpec("slo:current_burn_rate:ratio",
                          Binary("/", _sel(f"slo:sli_error:ratio_rate{duration(spans[0])}", sloth), Scalar(budget)),
                          sloth, in_process=False),
            RecordingSpec(f"slo:sli_error:ratio_rate{period}",
                          Aggregate("max", RangeFunction("avg_over_time",
                                    Selector(f"slo:sli_error:ratio_rate{duration(spans[0])}", _eq(sloth)),
                                    self.period_s), without=("sloth_window",)),
                          {**sloth, "sloth_window": period}, in_process=False),
            RecordingSpec("slo:period_burn_rate:ratio",
                          Binary("/", _sel(f"slo:sli_error:ratio_rate{period}", sloth), Scalar(budget)),
                          sloth, in_process=False),
            RecordingSpec("slo:period_error_budget_remaining:ratio",
                          Binary("-", Scalar(1.0), _sel("slo:period_burn_rate:ratio", sloth)), sloth, in_process=False),
        ]  # fmt: skip
        alerts = []
        for kind, severity in (("page", self.page_severity), ("ticket", self.ticket_severity)):
            condition: Expr | None = None
            for long, short, factor, row_kind in windows:
                if row_kind != kind:
                    continue
                # Seconds until the whole budget is spent at the long window's rate, below period/factor
                # exactly when the burn rate is above factor; the value is what the annotation shows.
                left = _time_left(long, sloth, budget, self.period_s, factor)
                right = _time_left(short, sloth, budget, self.period_s, factor)
                # The minimum-events gate: one error at low traffic does not page.
                gate = _sel(f"infertel:slo_events:increase{duration(long)}", sloth)
                row = Binary("and", Binary("and", left, right), Binary(">=", gate, Scalar(float(self.min_events))))
                condition = row if condition is None else Binary("or", condition, row)
            assert condition is not None
            annotations = {
                "summary": f"{self.name}: error budget burning fast ({self.sli} SLO {self.objective * 100:g}% "
                f"over {period})",
                "budget_exhausted_in": "{{ $value | humanizeDuration }}",
            }
            alerts.append(self._alert(condition, severity=severity, annotations=annotations,
                                      extra_labels={**sloth, "sloth_severity": kind}))  # fmt: skip
        return Compiled(tuple(recordings), tuple(alerts))


def _le(seconds: float | None) -> str:
    return f"{seconds:g}"


def _sel(name: str, labels: Mapping[str, str]) -> Selector:
    return Selector(name, _eq(labels))


def _time_left(window_s: float, sloth: Mapping[str, str], budget: float, period_s: float, factor: float) -> Expr:
    ratio = Selector(f"slo:sli_error:ratio_rate{duration(window_s)}", _eq(sloth))
    left = Binary("/", Scalar(round(budget * period_s, 6)), ratio)
    return Aggregate("max", Binary("<", left, Scalar(period_s / factor)), without=("sloth_window",))
