"""infertel's autoscaling policy: forecast load at measured capacity, corrected by LLM serving signals."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from infertel.autoscaling._hpa import StabilizationWindow, hpa_desired
from infertel.forecast import HoltWinters
from infertel.simulate import Observation


@dataclass(frozen=True)
class Recommendation:
    """One decision and the inputs behind it (what the gauges and the JSON expose).

    Attributes:
        time_s: when it was made (the caller's clock).
        desired_replicas: the replica count to run.
        current_replicas: replicas running or starting when it was made.
        forecast_rps: the mean forecast request rate over the look-ahead (None without a forecaster).
        forecast_upper_rps: the upper prediction bound used for scale-up (None without a forecaster).
        capacity_rps: the measured sustainable requests/s per replica at the SLO, at the current fleet size.
        target_running: the running requests per replica the policy holds.
        from_forecast: replicas the forecast needs (0 without a forecaster).
        from_load: replicas the running requests (time-averaged over the interval) need at
            ``target_running`` per replica.
        from_rate: replicas the last minute's arrival rate plus the queue (drained over
            ``backlog_drain_s``) need at ``capacity_rps``.
        from_ttft: replicas asked for because p95 TTFT broke the SLO at two decisions in a row (0 otherwise).
        from_kv_cache: replicas the KV-cache usage needs (0 when not reported or below target).
        reason: the input that set ``desired_replicas`` ("forecast", "load", "rate", "ttft", "kv_cache"),
            or "stabilization" (the window held a higher value), "cooldown" (a change was held back) or
            "queue" (a scale-down was held back while requests wait).

    Example:
        >>> r = Recommendation(0.0, 3, 2, 5.0, 6.0, 2.5, 6.0, 3, 2, 2, 0, 0, "forecast")
        >>> r.desired_replicas, r.reason
        (3, 'forecast')
    """

    time_s: float
    desired_replicas: int
    current_replicas: int
    forecast_rps: float | None
    forecast_upper_rps: float | None
    capacity_rps: float
    target_running: float
    from_forecast: int
    from_load: int
    from_rate: int
    from_ttft: int
    from_kv_cache: int
    reason: str


class PredictiveAutoscaler:
    """Desired replicas from the load forecast at the measured per-replica capacity, plus LLM signals.

    Each decision takes the largest of: the replicas the forecast's upper bound needs over the next
    ``cold_start_s + interval_s`` (a replica asked for now serves only after its cold start); the
    replicas the running requests need at ``target_running`` per replica (the HPA formula with its
    tolerance; above target at two decisions in a row with a forecaster, at one without, as the HPA
    acts on its metric); the replicas the arrival rate plus the backlog need, when that exceeds the
    forecast's upper bound (a burst); one more replica while the p95 time to first token breaks the
    SLO at two decisions in a row and no replica is starting; and the replicas the KV-cache usage
    needs. Scale-up is immediate (the rate signal at most doubles per decision); scale-down goes
    through the HPA's stabilisation window (the highest recommendation of the last
    ``scale_down_window_s``) and waits while requests are queued.

    The rate is the last minute's, or the last interval's when its count exceeds the forecast's upper
    bound by more than ``burst_z`` Poisson standard deviations (a burst shows first there). The backlog
    is the queue plus what the ready replicas cannot carry from when they fell short until a replica
    asked now is ready (the backlog that replica will find), drained over ``backlog_drain_s``.

    Args:
        capacity_rps: sustainable requests/s per replica at the SLO (see :mod:`infertel.capacity`),
            or a table {fleet size: per-replica capacity}: a fleet pools one queue, so a replica of a
            larger fleet carries more within the same SLO.
        target_running: running requests per replica to hold (the SLO concurrency, measured), or a
            table {fleet size: running per replica} like ``capacity_rps``.
        forecaster: a fitted :class:`~infertel.forecast.HoltWinters` of requests per ``step_s`` bucket
            whose last value ends at ``origin_s``; ``None`` runs on the reactive signals alone.
        origin_s: the end of the forecaster's last bucket, on the caller's clock.
        cold_start_s: replica start-up time (default 10 min).
        interval_s: seconds between decisions.
        tolerance: the HPA tolerance (0.1).
        scale_down_window_s: the stabilisation window (300 s).
        scale_up_cooldown_s: after a change, no scale-up for this long (default 0, as the HPA).
        scale_down_cooldown_s: after a change, no scale-down for this long (default 0: the window rules).
        coverage: the prediction interval used for scale-up.
        slo_ttft_s: the p95 time-to-first-token objective.
        kv_cache_target: KV-cache usage to hold when the server reports it.
        min_replicas: lower bound.
        max_replicas: upper bound.
        backlog_drain_s: the backlog counts as extra arrivals spread over this time (> 0).
        burst_z: Poisson standard deviations above the forecast's upper bound that make the last
            interval's arrivals a burst; ``None`` keeps the last minute's rate.
        project_backlog: count the backlog that builds until a replica asked now is ready (``False``:
            the queue now only).
        hold_while_queued: no scale-down (nor cancelling a starting replica) while requests wait.

    Thread safety: one caller at a time (a control loop); ``last`` may be read from any thread.

    Example:
        >>> from infertel.simulate import Observation
        >>> policy = PredictiveAutoscaler(capacity_rps=2.0, target_running=6.0)
        >>> policy.decide(Observation(15.0, 15.0, 1, 1, 10, 4, 60, 0.5, 0.5, 0.2, 3.0, 8))
        2
        >>> policy.last.reason
        'rate'
    """

    def __init__(
        self,
        *,
        capacity_rps: float | Mapping[int, float],
        target_running: float | Mapping[int, float],
        forecaster: HoltWinters | None = None,
        origin_s: float = 0.0,
        cold_start_s: float = 600.0,
        interval_s: float = 15.0,
        tolerance: float = 0.1,
        scale_down_window_s: float = 300.0,
        scale_up_cooldown_s: float = 0.0,
        scale_down_cooldown_s: float = 0.0,
        coverage: float = 0.9,
        slo_ttft_s: float = 2.0,
        kv_cache_target: float = 0.8,
        min_replicas: int = 1,
        max_replicas: int = 1000,
        backlog_drain_s: float = 300.0,
        burst_z: float | None = 3.0,
        project_backlog: bool = True,
        hold_while_queued: bool = True,
    ) -> None:
        self._table = _table("capacity_rps", capacity_rps)
        self._running = _table("target_running", target_running)
        if not 1 <= min_replicas <= max_replicas:
            raise ValueError(f"need 1 <= min_replicas <= max_replicas, got {min_replicas!r} and {max_replicas!r}")
        if not 0 < coverage < 1:
            raise ValueError(f"coverage must be in (0, 1), got {coverage!r}")
        self.capacity_rps, self.target_running = self._table[0][1], self._running[0][1]
        self.forecaster, self.cold_start_s, self.interval_s = forecaster, cold_start_s, interval_s
        self.tolerance, self.coverage, self.slo_ttft_s = tolerance, coverage, slo_ttft_s
        self.kv_cache_target, self.min_replicas, self.max_replicas = kv_cache_target, min_replicas, max_replicas
        if not backlog_drain_s > 0:
            raise ValueError(f"backlog_drain_s must be > 0, got {backlog_drain_s!r}")
        if burst_z is not None and not burst_z >= 0:
            raise ValueError(f"burst_z must be >= 0 or None, got {burst_z!r}")
        self.backlog_drain_s = backlog_drain_s
        self.burst_z, self.project_backlog = burst_z, project_backlog
        self._short_since: float | None = None
        self.hold_while_queued = hold_while_queued
        self._window = StabilizationWindow(scale_down_window_s)
        if scale_up_cooldown_s < 0 or scale_down_cooldown_s < 0:
            raise ValueError("scale_up_cooldown_s and scale_down_cooldown_s must be >= 0")
        self.scale_up_cooldown_s, self.scale_down_cooldown_s = scale_up_cooldown_s, scale_down_cooldown_s
        self._last_change_s = -math.inf
        self._origin_s = origin_s
        self._bucket = 0
        self._recent: deque[tuple[float, int]] = deque()
        self._breached = False
        self._over = False
        self.last: Recommendation | None = None

    def capacity(self, replicas: int) -> float:
        """Per-replica capacity (requests/s) of a fleet of ``replicas``, from the measured table.

        Between measured sizes the lower size's value holds (conservative); beyond, the largest's.
        """
        return _lookup(self._table, replicas)

    def replicas_for(self, rps: float, current: int) -> int:
        """Replicas that carry ``rps``: ``current`` within the tolerance, else the fewest that suffice.

        Example:
            >>> p = PredictiveAutoscaler(capacity_rps={1: 2.0, 4: 3.0}, target_running=5.0)
            >>> p.replicas_for(11.5, 1), p.replicas_for(6.2, 3)
            (4, 3)
        """
        if current > 0 and abs(rps / (current * self.capacity(current)) - 1.0) <= self.tolerance:
            return current
        n = 1
        while n * self.capacity(n) < rps and n < self.max_replicas:
            n += 1
        return n

    def _feed(self, obs: Observation) -> None:
        if self.forecaster is None:
            return
        step = self.forecaster.step_s
        self._bucket += obs.arrivals
        while obs.time_s >= self._origin_s + step - 1e-9:
            self.forecaster.update(self._bucket)
            self._bucket = 0
            self._origin_s += step

    def _forecast(self, now_s: float) -> tuple[float | None, float | None]:
        if self.forecaster is None:
            return None, None
        step = self.forecaster.step_s
        steps = max(1, math.ceil((now_s + self.cold_start_s + self.interval_s - self._origin_s) / step))
        fc = self.forecaster.forecast(steps, coverage=self.coverage)
        return max(fc.mean) / step, max(fc.upper) / step

    def decide(self, obs: Observation) -> int:
        """The desired replica count after seeing ``obs``; the details are in :attr:`last`."""
        self._feed(obs)
        mean_rps, upper_rps = self._forecast(obs.time_s)
        current = max(obs.replicas, 1)
        from_forecast = 0
        if upper_rps is not None:
            from_forecast = self.replicas_for(upper_rps, current)
        # time-averaged over the interval (utilization x batch size x ready replicas), not the
        # instantaneous count, which swings by its square root around the mean
        running = obs.utilization * obs.max_batch * obs.ready
        target = _lookup(self._running, current)
        from_load = hpa_desired(current, running / current, target, tolerance=self.tolerance)
        self._recent.append((obs.time_s, obs.arrivals))
        while self._recent and self._recent[0][0] <= obs.time_s - 60.0:
            self._recent.popleft()
        span = min(60.0, max(obs.time_s - self._recent[0][0] + obs.interval_s, obs.interval_s))
        rate = sum(n for _, n in self._recent) / span if span > 0 else 0.0
        if upper_rps is not None and obs.interval_s > 0 and self.burst_z is not None:
            # a burst shows first in the latest interval: when its count is beyond the forecast's upper
            # bound by more than Poisson noise, it is the rate, not the minute's mean that dilutes it
            expected = upper_rps * obs.interval_s
            if obs.arrivals > expected + self.burst_z * math.sqrt(max(expected, 1.0)):
                rate = max(rate, obs.arrivals / obs.interval_s)
        # what the ready fleet cannot carry piles up until a replica asked now is ready: that backlog, with
        # the queue, is drained over `backlog_drain_s` on top of the arrivals
        short = max(0.0, rate - obs.ready * self.capacity(max(obs.ready, 1)))
        if short > 0 and self._short_since is None:
            self._short_since = obs.time_s - obs.interval_s
        elif short == 0 and obs.waiting == 0:
            self._short_since = None
        remaining = 0.0
        if self.project_backlog and self._short_since is not None:
            remaining = max(0.0, self.cold_start_s - (obs.time_s - self._short_since))
        demand = rate + (obs.waiting + short * remaining) / self.backlog_drain_s
        from_rate = self.replicas_for(demand, current)
        if upper_rps is not None and demand <= upper_rps:
            from_rate = 0  # within the forecast's interval: noise the forecast already covers
        # with a forecast, the running requests must exceed the target at two decisions in a row (the
        # forecast covers the expected load; one high reading is mostly a swing); without one they are
        # the primary signal and act on one reading, as the HPA's metric does
        over = from_load > current
        if over and not self._over and self.forecaster is not None:
            from_load = min(from_load, current)
        self._over = over
        # a breach in one short interval is noise (a few long prompts); two in a row is a trend
        breach = obs.ttft_p95_s is not None and obs.ttft_p95_s > self.slo_ttft_s
        # (one more than the ready replicas, and only when none is still starting: those are the answer)
        from_ttft = obs.ready + 1 if breach and self._breached and obs.ready >= obs.replicas else 0
        self._breached = breach
        from_kv = 0
        if obs.kv_cache_usage > self.kv_cache_target and obs.ready:
            from_kv = math.ceil(obs.ready * obs.kv_cache_usage / self.kv_cache_target)
        candidates = {
            "forecast": from_forecast,
            "load": from_load,
            "rate": min(from_rate, 2 * current),
            "ttft": from_ttft,
            "kv_cache": from_kv,
        }
        reason = max(candidates, key=lambda k: candidates[k])
        wanted = max(self.min_replicas, min(self.max_replicas, candidates[reason]))
        desired = self._window.apply(obs.time_s, wanted)
        if obs.waiting > 0 and desired < obs.replicas and self.hold_while_queued:
            # a queue means the fleet is short now: removing (or cancelling a starting replica) deepens it
            desired, reason = obs.replicas, "queue"
        since = obs.time_s - self._last_change_s
        if (desired > obs.replicas and since < self.scale_up_cooldown_s) or (
            desired < obs.replicas and since < self.scale_down_cooldown_s
        ):
            desired, reason = obs.replicas, "cooldown"
        elif desired != obs.replicas:
            self._last_change_s = obs.time_s
        self.last = Recommendation(
            time_s=obs.time_s,
            desired_replicas=desired,
            current_replicas=obs.replicas,
            forecast_rps=mean_rps,
            forecast_upper_rps=upper_rps,
            capacity_rps=self.capacity(current),
            target_running=target,
            from_forecast=from_forecast,
            from_load=from_load,
            from_rate=from_rate,
            from_ttft=from_ttft,
            from_kv_cache=from_kv,
            reason=reason if desired == wanted or reason in ("cooldown", "queue") else "stabilization",
        )
        return desired


def _table(name: str, value: float | Mapping[int, float]) -> list[tuple[int, float]]:
    table = dict(value) if isinstance(value, Mapping) else {1: value}
    if not table or min(table) < 1:
        raise ValueError(f"{name} needs fleet sizes >= 1, got {sorted(table)!r}")
    for number in table.values():
        if not (isinstance(number, int | float) and number > 0 and math.isfinite(number)):
            raise ValueError(f"{name} must be a positive number, got {number!r}")
    return sorted((int(n), float(v)) for n, v in table.items())


def _lookup(table: list[tuple[int, float]], replicas: int) -> float:
    # the largest measured size not above `replicas` (conservative between sizes)
    value = table[0][1]
    for n, per_replica in table:
        if n <= replicas:
            value = per_replica
    return value
