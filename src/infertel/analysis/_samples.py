"""Per-request samples read from the store's raw spans, bounded, with the in-flight count at each start."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infertel import semconv

MAX_SAMPLES = 20_000
"""Most requests read per window; beyond it each of :data:`SLICES` time slices contributes its first share."""

SLICES = 20
"""Time slices a window is cut into when it holds more than the sample limit (spread over the window)."""

_QUEUE_KEYS = (semconv.INFERTEL_TIME_IN_QUEUE, semconv.VLLM_TIME_IN_QUEUE)


@dataclass
class RequestSample:
    """One GenAI request as the analysis sees it (times in seconds).

    ``ttft_s``/``tpot_s`` are None for a request that was not streamed; ``queue_s`` None when the
    server did not report its queue wait; ``in_flight`` counts the requests read that were running
    when this one started (itself included; set by :func:`with_in_flight`).
    """

    start_ns: int
    end_ns: int
    duration_s: float
    service: str | None
    model: str | None
    error_type: str | None
    ttft_s: float | None
    tpot_s: float | None
    input_tokens: int | None
    output_tokens: int | None
    queue_s: float | None
    cost_usd: float | None
    instance: str | None
    in_flight: int = 1


@dataclass(frozen=True)
class SampleSet:
    """The requests read from one window, and how they relate to all requests in it."""

    start_ns: int
    end_ns: int
    samples: list[RequestSample]
    total_requests: int
    """Requests in the window by the store's rollups (the sample's size when rollups are absent)."""

    @property
    def sampled(self) -> bool:
        """Whether fewer requests were read than the window holds."""
        return len(self.samples) < self.total_requests

    @property
    def seconds(self) -> float:
        """The window's length in seconds."""
        return max(1e-9, (self.end_ns - self.start_ns) / 1e9)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        return None
    return float(value)


def _sample(span: Any) -> RequestSample | None:
    if span.model is None and span.operation is None:
        return None  # not a GenAI span
    a = span.attributes
    error = a.get(semconv.ERROR_TYPE)
    if error is None and span.status_code == "ERROR":
        error = "_OTHER"
    queue = None
    for key in _QUEUE_KEYS:
        queue = _number(a.get(key))
        if queue is not None:
            break
    inp, out = _number(a.get(semconv.GEN_AI_USAGE_INPUT_TOKENS)), _number(a.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS))
    resource = span.resource or {}
    return RequestSample(
        start_ns=span.start_time_ns,
        end_ns=span.end_time_ns,
        duration_s=max(0.0, span.duration_s),
        service=resource.get("service.name"),
        model=span.model,
        error_type=None if error is None else str(error),
        ttft_s=_number(a.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)),
        tpot_s=_number(a.get(semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN)),
        input_tokens=None if inp is None else int(inp),
        output_tokens=None if out is None else int(out),
        queue_s=queue,
        cost_usd=_number(a.get(semconv.INFERTEL_COST_USD)),
        instance=resource.get("service.instance.id"),
    )


def with_in_flight(samples: Sequence[RequestSample]) -> list[RequestSample]:
    """The samples by start time, each with ``in_flight`` set: requests started at or before it and not yet ended.

    Example:
        >>> s = [RequestSample(0, 10, 1e-8, None, "m", None, None, None, None, None, None, None, None),
        ...      RequestSample(5, 20, 1.5e-8, None, "m", None, None, None, None, None, None, None, None)]
        >>> [x.in_flight for x in with_in_flight(s)]
        [1, 2]
    """
    ordered = sorted(samples, key=lambda s: s.start_ns)
    ends = sorted(s.end_ns for s in ordered)
    for i, s in enumerate(ordered):
        # started at or before s (i + 1, ties by order) minus those that ended at or before s started
        s.in_flight = max(1, i + 1 - bisect.bisect_right(ends, s.start_ns))
    return ordered


_READS_PER_SLICE = 8
"""Most reads per slice when other spans (HTTP, database) are interleaved with the GenAI ones."""


def _read_slice(store: Any, lo: int, hi: int, want: int, model: str | None, service: str | None,
                out: list[RequestSample]) -> None:  # fmt: skip
    """Append up to ``want`` GenAI requests starting in ``[lo, hi)``, oldest first, reading no more than needed."""
    got = 0
    seen: set[tuple[str, str]] = set()  # spans at the resume time, already looked at
    for _ in range(_READS_PER_SLICE):
        ask = want - got + 16
        batch = store.spans(lo, hi, model=model, limit=ask)
        for span in batch:
            key = (span.trace_id, span.span_id)
            if key in seen:
                continue
            sample = _sample(span)
            if sample is not None and (service is None or sample.service == service):
                out.append(sample)
                got += 1
                if got >= want:
                    return
        if len(batch) < ask:
            return  # the slice is exhausted
        lo = batch[-1].start_time_ns  # resume at the last start time (others may share it)
        seen = {(sp.trace_id, sp.span_id) for sp in batch if sp.start_time_ns == lo}


def read_samples(
    store: Any,
    start_ns: int,
    end_ns: int,
    *,
    model: str | None = None,
    service: str | None = None,
    limit: int = MAX_SAMPLES,
) -> SampleSet:
    """GenAI requests that started in ``[start_ns, end_ns)``, at most about ``limit`` of them.

    Args:
        store: An ``infertel_exporters.sqlite.SQLiteStore`` (read-only is enough).
        start_ns: Window start, Unix nanoseconds.
        end_ns: Window end (exclusive).
        model: Only this model.
        service: Only this ``service.name``.
        limit: Most requests read; a larger window is read in :data:`SLICES` slices, the first
            ``limit / SLICES`` requests of each.

    Example:
        >>> from infertel_exporters.sqlite import SQLiteStore
        >>> with SQLiteStore(":memory:") as store:
        ...     read_samples(store, 0, 10**18).samples
        []
    """
    where = {"service": service} if service else None
    rows = store.overview(start_ns, end_ns, group_by=("model",), where=where)
    total = sum(r.requests for r in rows if model is None or r.group.get("model") == model)
    samples: list[RequestSample] = []
    if total <= limit:
        _read_slice(store, start_ns, end_ns, limit, model, service, samples)
    else:
        step = (end_ns - start_ns) // SLICES or 1
        for i in range(SLICES):
            hi = start_ns + (i + 1) * step if i < SLICES - 1 else end_ns
            _read_slice(store, start_ns + i * step, hi, limit // SLICES, model, service, samples)
    return SampleSet(start_ns, end_ns, with_in_flight(samples), max(total, len(samples)))
