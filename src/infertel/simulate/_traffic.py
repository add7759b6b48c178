"""Request traces for the simulator: the real Azure LLM trace and synthetic seasonal traffic.

The real trace is one hour of request arrivals to Azure's code-completion LLM service
(``azure-llm-inference-2023-code.csv``, Azure Public Dataset "Azure LLM inference trace 2023",
CC-BY 4.0; Patel, Choukse, Zhang, Shah, Goiri, Maleki, Bianchini, "Splitwise: Efficient generative
LLM inference using phase splitting", ISCA 2024). It is not shipped in the package: it is read from
the ``shared/data`` folder that sits beside the repository (``../shared/data`` from its root).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

AZURE_CODE_TRACE = "azure-llm-inference-2023-code.csv"
"""File name of the real trace in the shared data folder."""

AZURE_ATTRIBUTION = (
    "Azure LLM inference trace 2023 (Azure Public Dataset, CC-BY 4.0); Patel et al., "
    '"Splitwise: Efficient generative LLM inference using phase splitting", ISCA 2024'
)
"""The attribution to print wherever the real trace is used."""

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S


@dataclass(frozen=True)
class Request:
    """One request of a trace.

    Attributes:
        arrival_s: arrival time in seconds from the start of the trace.
        input_tokens: prompt tokens (prefill work).
        output_tokens: generated tokens (decode work).
        service_s: when set, the request's service time regardless of the replica model (used to
            check the simulator against queueing theory); ``None`` for LLM requests.

    Example:
        >>> Request(0.5, 1200, 30).output_tokens
        30
    """

    arrival_s: float
    input_tokens: int
    output_tokens: int
    service_s: float | None = None


def shared_data_dir() -> Path:
    """The shared data folder beside the repository (``<repo>/../shared/data``).

    Looked up from this file's location (a source checkout) and then from the working directory.

    Raises:
        FileNotFoundError: when neither place has it.

    Example:
        >>> shared_data_dir().name
        'data'
    """
    here = Path(__file__).resolve()
    candidates = [parent.parent / "shared" / "data" for parent in here.parents]
    candidates += [Path.cwd().parent / "shared" / "data", Path.cwd() / "shared" / "data"]
    for candidate in candidates:
        if (candidate / AZURE_CODE_TRACE).is_file():
            return candidate
    raise FileNotFoundError(f"no shared/data/{AZURE_CODE_TRACE} beside the repository (looked in ../shared/data)")


def azure_code_trace(path: str | Path | None = None, *, speedup: float = 1.0) -> list[Request]:
    """The real Azure code-completion trace as requests, times relative to its first arrival.

    Args:
        path: the CSV file; default: the shared data folder's copy.
        speedup: divide inter-arrival times by this (2.0 replays the hour in 30 minutes at twice the rate).

    Example:
        >>> trace = azure_code_trace()
        >>> len(trace), trace[0].arrival_s
        (8819, 0.0)
    """
    if not speedup > 0:
        raise ValueError(f"speedup must be > 0, got {speedup!r}")
    file = Path(path) if path is not None else shared_data_dir() / AZURE_CODE_TRACE
    rows: list[tuple[float, int, int]] = []
    with file.open(newline="") as handle:
        for row in csv.DictReader(handle):
            stamp = datetime.fromisoformat(row["TIMESTAMP"][:26])
            rows.append((stamp.timestamp(), int(row["ContextTokens"]), int(row["GeneratedTokens"])))
    rows.sort()
    start = rows[0][0]
    return [Request((t - start) / speedup, max(1, c), max(1, g)) for t, c, g in rows]


@dataclass(frozen=True)
class Seasonality:
    """A daily and weekly seasonal request rate with a trend, in requests per second.

    ``rate(t) = base * (1 + trend_per_day * t/day) * daily(t) * weekly(t)``: the daily factor is a
    smooth curve with its trough at 04:00 and its peak at ``peak_hour``; weekends are scaled by
    ``weekend_factor``.

    Example:
        >>> s = Seasonality(base_rps=10.0)
        >>> s.rate(14 * 3600) > s.rate(4 * 3600)
        True
    """

    base_rps: float
    daily_amplitude: float = 0.6
    peak_hour: float = 14.0
    weekend_factor: float = 0.6
    trend_per_day: float = 0.0

    def rate(self, t_s: float) -> float:
        """The mean arrival rate at ``t_s`` seconds (day 0 is a Monday, 00:00)."""
        hour = (t_s % DAY_S) / 3600.0
        daily = 1.0 + self.daily_amplitude * math.cos(2 * math.pi * (hour - self.peak_hour) / 24.0)
        # a second harmonic sharpens the working-hours plateau against the night
        daily += 0.15 * self.daily_amplitude * math.cos(4 * math.pi * (hour - self.peak_hour) / 24.0)
        weekday = int(t_s // DAY_S) % 7
        weekly = self.weekend_factor if weekday >= 5 else 1.0
        trend = 1.0 + self.trend_per_day * t_s / DAY_S
        return max(0.0, self.base_rps * daily * weekly * trend)


@dataclass(frozen=True)
class Burst:
    """A burst: the rate is multiplied by ``factor`` from ``start_s`` for ``duration_s``.

    Example:
        >>> Burst(100.0, 60.0, 2.0).factor_at(130.0)
        2.0
    """

    start_s: float
    duration_s: float
    factor: float

    def factor_at(self, t_s: float) -> float:
        """The multiplier at ``t_s`` (1 outside the burst)."""
        return self.factor if self.start_s <= t_s < self.start_s + self.duration_s else 1.0


def random_bursts(duration_s: float, *, per_day: float, rng: random.Random, start_s: float = 0.0) -> list[Burst]:
    """Bursts at random times: ``per_day`` on average, 5-30 min long, 1.4x to 2x the rate.

    Example:
        >>> len(random_bursts(86_400.0, per_day=0.0, rng=random.Random(1)))
        0
    """
    bursts: list[Burst] = []
    t = start_s
    if per_day <= 0:
        return bursts
    while True:
        t += rng.expovariate(per_day / DAY_S)
        if t >= start_s + duration_s:
            return bursts
        bursts.append(Burst(t, rng.uniform(300.0, 1800.0), rng.uniform(1.4, 2.0)))


def rate_with_bursts(seasonality: Seasonality, bursts: Sequence[Burst]) -> Callable[[float], float]:
    """The seasonal rate multiplied by whichever bursts are active.

    Example:
        >>> rate = rate_with_bursts(Seasonality(1.0, daily_amplitude=0.0), [Burst(0.0, 10.0, 2.0)])
        >>> rate(5.0), rate(20.0)
        (2.0, 1.0)
    """

    def rate(t_s: float) -> float:
        factor = 1.0
        for burst in bursts:
            factor *= burst.factor_at(t_s)
        return seasonality.rate(t_s) * factor

    return rate


def poisson_arrivals(
    rate: Callable[[float], float],
    *,
    start_s: float,
    end_s: float,
    max_rate: float,
    rng: random.Random,
    lengths: Sequence[tuple[int, int]] | None = None,
) -> list[Request]:
    """A non-homogeneous Poisson process (thinning), token lengths resampled from ``lengths``.

    Args:
        rate: the arrival rate in requests/s at time t.
        start_s: the first time.
        end_s: the end (exclusive).
        max_rate: an upper bound of ``rate`` over the interval (thinning needs one).
        rng: the random source (seed it for a reproducible trace).
        lengths: (input, output) token pairs to draw from; default: the real trace's pairs.

    Example:
        >>> reqs = poisson_arrivals(lambda t: 2.0, start_s=0, end_s=100, max_rate=2.0,
        ...                         rng=random.Random(7), lengths=[(100, 10)])
        >>> 150 < len(reqs) < 250
        True
    """
    if not max_rate > 0:
        raise ValueError(f"max_rate must be > 0, got {max_rate!r}")
    pairs = list(lengths) if lengths is not None else [(r.input_tokens, r.output_tokens) for r in azure_code_trace()]
    out: list[Request] = []
    t = start_s
    while True:
        t += rng.expovariate(max_rate)
        if t >= end_s:
            return out
        if rng.random() * max_rate <= rate(t):
            inp, outp = pairs[rng.randrange(len(pairs))]
            out.append(Request(t, inp, outp))


def mmc_arrivals(count: int, *, arrival_rate: float, service_rate: float, rng: random.Random) -> list[Request]:
    """Poisson arrivals with exponential service times (an M/M/c workload).

    Example:
        >>> reqs = mmc_arrivals(3, arrival_rate=1.0, service_rate=2.0, rng=random.Random(0))
        >>> [r.service_s is not None for r in reqs]
        [True, True, True]
    """
    out = []
    t = 0.0
    for _ in range(count):
        t += rng.expovariate(arrival_rate)
        out.append(Request(t, 1, 1, rng.expovariate(service_rate)))
    return out


def poisson_count(mean: float, rng: random.Random) -> int:
    """A Poisson-distributed count (exact below a mean of 50, normal approximation above).

    Example:
        >>> poisson_count(0.0, random.Random(1))
        0
    """
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def bucket_counts(
    rate: Callable[[float], float], *, start_s: float, end_s: float, step_s: float, rng: random.Random
) -> list[int]:
    """Request counts per ``step_s`` bucket of a Poisson process with the given rate (sampled mid-bucket).

    Example:
        >>> bucket_counts(lambda t: 1.0, start_s=0, end_s=600, step_s=300, rng=random.Random(2))[0] > 200
        True
    """
    count = int(round((end_s - start_s) / step_s))
    return [poisson_count(rate(start_s + (i + 0.5) * step_s) * step_s, rng) for i in range(count)]


def counts_of(requests: Sequence[Request], *, start_s: float, end_s: float, step_s: float) -> list[int]:
    """Arrivals per ``step_s`` bucket of a trace.

    Example:
        >>> counts_of([Request(1.0, 1, 1), Request(2.0, 1, 1)], start_s=0, end_s=4, step_s=2)
        [1, 1]
    """
    out = [0] * int(round((end_s - start_s) / step_s))
    for req in requests:
        i = int((req.arrival_s - start_s) // step_s)
        if 0 <= i < len(out):
            out[i] += 1
    return out
