"""The policies infertel is compared with: a CPU threshold, the HPA on utilization, a fixed fleet."""

from __future__ import annotations

import math

from infertel.autoscaling._hpa import StabilizationWindow, hpa_desired
from infertel.simulate import Observation


class CpuThresholdPolicy:
    """Step scaling on CPU, as the reference systems do it: +1 replica above 80%, -1 below 40%.

    A step up waits ``up_cooldown_s`` after the previous change, a step down ``down_cooldown_s``.

    Example:
        >>> from infertel.simulate import Observation
        >>> p = CpuThresholdPolicy()
        >>> p.decide(Observation(60.0, 60.0, 2, 2, 5, 16, 100, 0.95, 0.95, 0.5, 3.0, 8))
        3
    """

    def __init__(
        self,
        *,
        high: float = 0.8,
        low: float = 0.4,
        interval_s: float = 60.0,
        up_cooldown_s: float = 180.0,
        down_cooldown_s: float = 300.0,
    ) -> None:
        self.high, self.low, self.interval_s = high, low, interval_s
        self.up_cooldown_s, self.down_cooldown_s = up_cooldown_s, down_cooldown_s
        self._last_change = -math.inf

    def decide(self, obs: Observation) -> int:
        """+1 above ``high``, -1 below ``low``, each after its cooldown."""
        since = obs.time_s - self._last_change
        if obs.cpu_utilization > self.high and since >= self.up_cooldown_s:
            self._last_change = obs.time_s
            return obs.replicas + 1
        if obs.cpu_utilization < self.low and since >= self.down_cooldown_s and obs.replicas > 1:
            self._last_change = obs.time_s
            return obs.replicas - 1
        return obs.replicas


class HpaUtilizationPolicy:
    """The Kubernetes HPA on a utilization metric (target 70%, tolerance 10%, scale-down window 300 s).

    Unready (starting) replicas count as 0% for scale-up and as on target for scale-down, a scale-up
    they would reverse is skipped (as the HPA treats unready pods); scale-up is limited
    to doubling or +4 replicas per decision (the HPA's default policy).

    Example:
        >>> from infertel.simulate import Observation
        >>> p = HpaUtilizationPolicy()
        >>> p.decide(Observation(15.0, 15.0, 2, 2, 0, 16, 100, 1.0, 1.0, 0.5, 3.0, 8))
        3
    """

    def __init__(
        self, *, target: float = 0.7, tolerance: float = 0.1, interval_s: float = 15.0, window_s: float = 300.0
    ) -> None:
        self.target, self.tolerance, self.interval_s = target, tolerance, interval_s
        self._window = StabilizationWindow(window_s)

    def decide(self, obs: Observation) -> int:
        """The HPA formula over ready replicas' utilization, then rate limit and stabilisation."""
        starting = max(0, obs.replicas - obs.ready)
        if obs.utilization > self.target:
            # scale-up: starting replicas count as 0%; if that reverses the direction, hold
            utilization = obs.utilization * obs.ready / obs.replicas if obs.replicas else 0.0
            desired = max(obs.replicas, hpa_desired(obs.replicas, utilization, self.target, tolerance=self.tolerance))
        else:
            # scale-down: starting replicas count as on target
            total = obs.utilization * obs.ready + self.target * starting
            utilization = total / obs.replicas if obs.replicas else 0.0
            desired = hpa_desired(obs.replicas, utilization, self.target, tolerance=self.tolerance)
        desired = min(desired, max(2 * obs.replicas, obs.replicas + 4))
        return self._window.apply(obs.time_s, max(1, desired))


class FixedPolicy:
    """A fixed fleet: always ``replicas``.

    Example:
        >>> FixedPolicy(3).replicas
        3
    """

    def __init__(self, replicas: int, *, interval_s: float = 60.0) -> None:
        self.replicas, self.interval_s = replicas, interval_s

    def decide(self, obs: Observation) -> int:
        """Always the same number."""
        return self.replicas
