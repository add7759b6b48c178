"""Folding buffered span records into the series' staging slots (the batch half of the hot path).

Written for speed: one pass, locals only, fast paths for well-typed attribute values (bad
values take the slow path, are dropped with a rate-limited warning, and never raise).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infertel import semconv
from infertel._internal.errors import warn_rate_limited
from infertel._internal.quantiles import LogMapping, QuantileSketch

if TYPE_CHECKING:
    from infertel._internal.processors._stats import _Series


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


_TTFT = semconv.INFERTEL_TIME_TO_FIRST_TOKEN
_TPOT = semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN
_INPUT = semconv.GEN_AI_USAGE_INPUT_TOKENS
_OUTPUT = semconv.GEN_AI_USAGE_OUTPUT_TOKENS


def fold(popleft: Callable[[], tuple[Any, ...]], series_for: Callable[[Any], _Series], mapping: LogMapping) -> None:
    """Pop records until the buffer is empty and count each in its series' staging slot."""
    log = math.log
    ceil = math.ceil
    inv = 1.0 / math.log1p(mapping.relative_accuracy)
    min_value = mapping.min_value
    max_value = mapping.max_value
    max_index = mapping.index(max_value)
    last_key: Any = None
    last_series: Any = None
    while True:
        try:
            record = popleft()
        except IndexError:
            return
        t, key, latency, ttft, tpot, input_tokens, output_tokens, error_type = record
        if key != last_key:  # consecutive records of one series are the common case
            last_series = series_for(key)
            last_key = key
        series = last_series
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
        if t >= series.stage_until:
            series.flush(mapping)
            series.start_stage(t)
        slot = series.stage
        slot.requests += 1
        slot.input_tokens += input_tokens
        slot.output_tokens += output_tokens
        if error_type is not None:
            slot.errors += 1
            types = slot.error_types
            if types is None:
                types = slot.error_types = {}
            name = str(error_type)
            types[name] = types.get(name, 0) + 1
        sketches = slot.sketches
        i = 0
        for value in (latency, ttft, tpot, speed):
            if value is not None:
                sketch = sketches[i]
                if sketch is None:
                    sketch = sketches[i] = QuantileSketch(mapping=mapping)
                if value <= min_value:
                    sketch.add_index(None)
                else:
                    index = ceil(log(value) * inv) if value < max_value else max_index
                    # QuantileSketch.add_index inlined for the common case (bucket in range, no
                    # overflow): a method call per value is a third of the fold's cost.
                    counts = sketch._counts
                    j = index - sketch._offset
                    if 0 <= j < len(counts):
                        try:
                            counts[j] += 1
                        except OverflowError:
                            sketch.add_index(index)  # widens the counts
                        else:
                            sketch.count += 1
                    else:
                        sketch.add_index(index)
            i += 1
