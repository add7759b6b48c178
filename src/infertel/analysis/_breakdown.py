"""Where the time goes per request: queue wait, prefill (TTFT), decode (TPOT x tokens) and the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from infertel.analysis._samples import RequestSample
from infertel.analysis._stats import quantile

PARTS = ("queue", "prefill", "decode", "rest")
"""The parts of a request's latency, in order."""

TAILS = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
"""The latency groups compared: requests at or above each quantile of the latency."""


def parts_of(s: RequestSample) -> dict[str, float] | None:
    """A request's latency split into :data:`PARTS` (seconds), or None when it was not streamed.

    ``queue`` is the reported queue wait (0 when not reported), ``prefill`` the time to first token
    less the queue wait, ``decode`` the time per output token times the output tokens after the
    first, ``rest`` what remains of the duration (pre/post-processing, network), each at least 0.

    Example:
        >>> s = RequestSample(0, 0, 2.0, None, "m", None, 0.5, 0.01, 10, 101, 0.1, None, None)
        >>> {k: round(v, 3) for k, v in parts_of(s).items()}
        {'queue': 0.1, 'prefill': 0.4, 'decode': 1.0, 'rest': 0.5}
    """
    if s.ttft_s is None:
        return None
    queue = min(s.queue_s or 0.0, s.ttft_s)
    prefill = s.ttft_s - queue
    decode = 0.0
    if s.tpot_s is not None and s.output_tokens is not None and s.output_tokens > 1:
        decode = s.tpot_s * (s.output_tokens - 1)
    decode = min(decode, max(0.0, s.duration_s - s.ttft_s))
    rest = max(0.0, s.duration_s - s.ttft_s - decode)
    return {"queue": queue, "prefill": prefill, "decode": decode, "rest": rest}


@dataclass(frozen=True)
class TailBreakdown:
    """The mean parts of the requests at or above one latency quantile.

    ``seconds``: mean seconds per part; ``shares``: each part's share of the mean latency;
    ``dominant``: the largest part.
    """

    group: str
    threshold_s: float
    requests: int
    mean_latency_s: float
    seconds: dict[str, float]
    shares: dict[str, float]
    dominant: str


@dataclass(frozen=True)
class Breakdown:
    """Where the time goes in one window, for the median and the tail requests.

    ``attributed``: how many requests could be split (streamed, with a TTFT); ``unattributed``
    those that could not (their whole latency is unexplained).
    """

    attributed: int
    unattributed: int
    queue_reported: bool
    tails: list[TailBreakdown] = field(default_factory=list)

    def tail(self, group: str) -> TailBreakdown | None:
        """The breakdown of one group (``"p50"``, ``"p95"``, ``"p99"``)."""
        return next((t for t in self.tails if t.group == group), None)


def breakdown(samples: Sequence[RequestSample]) -> Breakdown:
    """Split the latency of the successful streamed requests and summarise it per latency group.

    Example:
        >>> breakdown([]).tails
        []
    """
    split = [(s.duration_s, p) for s in samples if s.error_type is None and (p := parts_of(s)) is not None]
    unattributed = sum(1 for s in samples if s.error_type is None) - len(split)
    tails: list[TailBreakdown] = []
    durations = [d for d, _ in split]
    for name, q in TAILS:
        threshold = quantile(durations, q)
        if threshold is None:
            break
        members = [p for d, p in split if d >= threshold] if q > 0.5 else [p for d, p in split if d <= threshold]
        n = len(members)
        seconds = {part: sum(m[part] for m in members) / n for part in PARTS}
        total = sum(seconds.values()) or 1e-12
        shares = {part: seconds[part] / total for part in PARTS}
        dominant = max(PARTS, key=lambda part: seconds[part])
        tails.append(TailBreakdown(name, threshold, n, sum(seconds.values()), seconds, shares, dominant))
    queue = any(s.queue_s is not None for s in samples)
    return Breakdown(attributed=len(split), unattributed=max(0, unattributed), queue_reported=queue, tails=tails)


def changes(current: Breakdown, baseline: Breakdown, group: str = "p95") -> dict[str, float] | None:
    """Seconds gained (positive) or lost per part in ``group`` against the baseline.

    Example:
        >>> changes(breakdown([]), breakdown([])) is None
        True
    """
    a, b = current.tail(group), baseline.tail(group)
    if a is None or b is None:
        return None
    return {part: a.seconds[part] - b.seconds[part] for part in PARTS}
