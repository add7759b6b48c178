"""Paired ingest rates: the same batches through two exporters, alternated batch by batch.

The rollups' ingest cost is a difference of about a tenth between two rates that each move by as
much from one second to the next on a shared machine (other processes, the CPU's clock, the page
cache). Timing the two exporters in runs of their own, even interleaved round by round, leaves that
drift in the figure: ten runs of ``benchmarks/store.py`` with whole-run rounds gave medians from 5.6 %
to 15.2 % for the same code (2026-12-07). Here each round opens both exporters on fresh files, then hands every
batch to one and then the other (the order alternating from batch to batch), timing each call on
its own; a round's cost is ``1 - (CPU time without) / (CPU time with)`` over all its batches, so any
drift slower than one batch (10-20 ms) falls on both sides alike. Both exporters keep their own file
and connection throughout, as in production; each call is timed in process CPU time (the exporter
writes on the calling thread: CPU time is the work done) and in wall-clock time.

Example:
    >>> from benchmarks._paired import paired_rates  # doctest: +SKIP
    >>> result = paired_rates(batches, lambda rollups, round_: make(rollups), sizes)  # doctest: +SKIP
    >>> result.cost, result.cpu_rate[True]  # doctest: +SKIP
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

ROUNDS = 10
"""Rounds per figure: their median (each round holds every batch of both sides)."""


@dataclass(frozen=True)
class PairedRates:
    """Medians over rounds: ``cost`` (``1 - rate with / rate without``, per CPU-second) and the rates per side.

    ``cpu_rate[flag]`` / ``wall_rate[flag]``: items per CPU-second / per second of the calls, ``flag`` being
    the exporter's switch (``True``: with the work whose cost is measured). ``costs``: every round's cost.
    """

    cost: float
    costs: tuple[float, ...]
    cpu_rate: dict[bool, float]
    wall_rate: dict[bool, float]


def paired_rates(
    batches: Sequence[Any],
    open_exporter: Callable[[bool, int], Any],
    items: Sequence[int],
    rounds: int = ROUNDS,
    check: Callable[[Any], None] | None = None,
) -> PairedRates:
    """Export ``batches`` through ``open_exporter(True, round)`` and ``open_exporter(False, round)``, alternated.

    ``open_exporter`` returns a ready exporter (file and schema created: not timed) with a fresh file per
    call; ``items[i]`` is the number of items (spans, points) in ``batches[i]``. Every ``export`` must
    return ``SUCCESS``; ``check(exporter)`` (when given) runs on both at the end of their round, before they
    are shut down (e.g. that every span was stored).
    """
    total = sum(items)
    costs: list[float] = []
    cpu_rates: dict[bool, list[float]] = {True: [], False: []}
    wall_rates: dict[bool, list[float]] = {True: [], False: []}
    process_time, perf_counter = time.process_time, time.perf_counter
    for round_ in range(rounds):
        exporters = {flag: open_exporter(flag, round_) for flag in (True, False)}
        cpu = {True: 0.0, False: 0.0}
        wall = {True: 0.0, False: 0.0}
        try:
            for i, batch in enumerate(batches):
                for flag in (True, False) if (i + round_) % 2 == 0 else (False, True):
                    exporter = exporters[flag]
                    w0, c0 = perf_counter(), process_time()
                    result = exporter.export(batch)
                    c1, w1 = process_time(), perf_counter()
                    if result.name != "SUCCESS":
                        raise RuntimeError(f"the exporter refused batch {i} (see the log above)")
                    cpu[flag] += c1 - c0
                    wall[flag] += w1 - w0
            if check is not None:
                for exporter in exporters.values():
                    check(exporter)
        finally:
            for exporter in exporters.values():
                exporter.shutdown()
        costs.append(1 - cpu[False] / cpu[True])
        for flag in (True, False):
            cpu_rates[flag].append(total / cpu[flag])
            wall_rates[flag].append(total / wall[flag])
    return PairedRates(
        cost=statistics.median(costs),
        costs=tuple(costs),
        cpu_rate={flag: statistics.median(rates) for flag, rates in cpu_rates.items()},
        wall_rate={flag: statistics.median(rates) for flag, rates in wall_rates.items()},
    )
