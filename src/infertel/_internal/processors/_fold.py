"""Folding buffered span records into the series' staging slots (the batch half of the hot path).

Written for speed: one pass, locals only, fast paths for well-typed attribute values (bad
values take the slow path, are dropped with a rate-limited warning, and never raise). The
pass only appends each value to a list per staging slot and distribution; the lists are then
counted into the sketches in one go each (vectorised with numpy when long, see
:mod:`infertel._internal.quantiles._bulk`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infertel import semconv
from infertel._internal.errors import warn_rate_limited
from infertel._internal.quantiles import LogMapping, QuantileSketch
from infertel._internal.quantiles._bulk import add_values

if TYPE_CHECKING:
    from infertel._internal.processors._stats import _Series
    from infertel._internal.processors._window import Slot


def count_value(value: Any, what: str) -> int:
    """A token count, or 0 (with a rate-limited warning) when it is not a non-negative int."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    warn_rate_limited(("infertel.stats", what), "infertel: ignoring %s=%r (not a non-negative integer)", what, value)
    return 0


def seconds_value(value: Any, what: str) -> float | None:
    """A duration in seconds, or ``None`` (with a rate-limited warning) when it is not a number >= 0."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 and math.isfinite(value):
        return float(value)
    warn_rate_limited(("infertel.stats", what), "infertel: ignoring %s=%r (not a non-negative number)", what, value)
    return None


_TTFT = semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
_TPOT = semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN
_INPUT = semconv.GEN_AI_USAGE_INPUT_TOKENS
_OUTPUT = semconv.GEN_AI_USAGE_OUTPUT_TOKENS


def fold(popleft: Callable[[], tuple[Any, ...]], series_for: Callable[[Any], _Series], mapping: LogMapping) -> None:
    """Pop records until the buffer is empty and count each in its series' staging slot.

    Values go to the sketches in batches: one list per (staging slot, distribution) gathered
    while records are popped, counted by :func:`~infertel._internal.quantiles._bulk.add_values`
    (vectorised when long) before the slot is flushed and when the buffer is empty.
    """
    pending: dict[Slot, tuple[list[float], list[float], list[float], list[float]]] = {}
    try:
        _gather(popleft, series_for, mapping, pending)
    finally:
        for slot, lists in pending.items():
            _count(slot, lists, mapping)


def _count(slot: Slot, lists: tuple[list[float], ...], mapping: LogMapping) -> None:
    sketches = slot.sketches
    for i, values in enumerate(lists):
        if values:
            sketch = sketches[i]
            if sketch is None:
                sketch = sketches[i] = QuantileSketch(mapping=mapping)
            add_values(sketch, values)


def _gather(
    popleft: Callable[[], tuple[Any, ...]],
    series_for: Callable[[Any], _Series],
    mapping: LogMapping,
    pending: dict[Slot, tuple[list[float], list[float], list[float], list[float]]],
) -> None:
    last_key: Any = None
    series: Any = None
    slot: Any = None
    until = 0.0  # the current slot's stage_until
    unused: list[float] = []  # the appends are bound to a slot's lists before the first use
    add_latency = add_ttft = add_tpot = add_speed = unused.append
    # Counters of the current slot, added to it when the slot changes (a local += is cheaper).
    requests = input_sum = output_sum = 0
    try:
        while True:
            try:
                record = popleft()
            except IndexError:
                return
            t, key, latency, ttft, tpot, input_tokens, output_tokens, error_type = record
            if ttft is not None and not (ttft.__class__ is float and ttft >= 0.0):
                ttft = seconds_value(ttft, _TTFT)
            if tpot is not None and not (tpot.__class__ is float and tpot >= 0.0):
                tpot = seconds_value(tpot, _TPOT)
            if input_tokens.__class__ is not int or input_tokens < 0:
                input_tokens = count_value(input_tokens, _INPUT)
            if output_tokens.__class__ is not int or output_tokens < 0:
                output_tokens = count_value(output_tokens, _OUTPUT)
            if ttft is not None and ttft > latency:
                ttft = latency
            # Decode speed: 1 / TPOT for streams (read back from the TPOT sketch, see
            # Slot.DECODE_SPEED), output tokens / latency for the others.
            speed = None
            if tpot is None and output_tokens:
                if ttft is not None and output_tokens >= 2 and latency > ttft:
                    tpot = (latency - ttft) / (output_tokens - 1)
                elif latency > 0.0:
                    speed = output_tokens / latency
            # Consecutive records of one series and one stage are the common case.
            if key != last_key or t >= until:
                if key != last_key:
                    series = series_for(key)
                    last_key = key
                if slot is not None:
                    slot.requests += requests
                    slot.input_tokens += input_sum
                    slot.output_tokens += output_sum
                    requests = input_sum = output_sum = 0
                if t >= series.stage_until:
                    lists = pending.pop(series.stage, None)
                    if lists is not None:
                        _count(series.stage, lists, mapping)  # before the stage is merged into the windows
                    series.flush(mapping)
                    series.start_stage(t)
                slot = series.stage
                until = series.stage_until
                lists = pending.get(slot)
                if lists is None:
                    lists = pending[slot] = ([], [], [], [])
                add_latency, add_ttft, add_tpot, add_speed = (values.append for values in lists)
            requests += 1
            input_sum += input_tokens
            output_sum += output_tokens
            if error_type is not None:
                slot.errors += 1
                types = slot.error_types
                if types is None:
                    types = slot.error_types = {}
                name = str(error_type)
                types[name] = types.get(name, 0) + 1
            add_latency(latency)
            if ttft is not None:
                add_ttft(ttft)
            if tpot is not None:
                add_tpot(tpot)
            if speed is not None:
                add_speed(speed)
    finally:
        if slot is not None:
            slot.requests += requests
            slot.input_tokens += input_sum
            slot.output_tokens += output_sum
