"""The Kubernetes HPA's arithmetic: the replica formula with its tolerance, and the stabilisation window."""

from __future__ import annotations

import math
from collections import deque


def hpa_desired(current: int, metric: float, target: float, *, tolerance: float = 0.1) -> int:
    """The HPA formula: ``ceil(current * metric / target)``, unchanged within ``tolerance`` of the target.

    Args:
        current: replicas now (>= 0).
        metric: the metric's current value per replica (e.g. running requests per replica).
        target: the value per replica to hold.
        tolerance: a ratio within ``1 +- tolerance`` keeps ``current`` (Kubernetes' default 0.1).

    Example:
        >>> hpa_desired(4, 0.75, 0.7), hpa_desired(4, 1.4, 0.7)
        (4, 8)
    """
    if not target > 0:
        raise ValueError(f"target must be > 0, got {target!r}")
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance!r}")
    ratio = metric / target
    if current > 0 and abs(ratio - 1.0) <= tolerance:
        return current
    return max(0, math.ceil(current * ratio - 1e-9))


class StabilizationWindow:
    """Scale-down stabilisation: the highest recommendation of the last ``window_s`` seconds wins.

    Scale-up takes effect at once; scale-down only when every recommendation in the window agrees,
    which is the HPA's ``behavior.scaleDown.stabilizationWindowSeconds`` (default 300 s).

    Example:
        >>> w = StabilizationWindow(300.0)
        >>> w.apply(0.0, 5), w.apply(60.0, 2), w.apply(301.0, 2)
        (5, 5, 2)
    """

    def __init__(self, window_s: float = 300.0) -> None:
        if window_s < 0:
            raise ValueError(f"window_s must be >= 0, got {window_s!r}")
        self.window_s = window_s
        self._history: deque[tuple[float, int]] = deque()

    def apply(self, now_s: float, recommendation: int) -> int:
        """Record ``recommendation`` at ``now_s`` and return the stabilised value."""
        self._history.append((now_s, recommendation))
        while self._history and self._history[0][0] < now_s - self.window_s:
            self._history.popleft()
        return max(value for _, value in self._history)
