"""Helpers: stores filled through the real write path with requests whose timing is known by construction."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from infertel import semconv
from infertel_exporters.sqlite import SQLiteSpanExporter

S = 10**9


@dataclass(frozen=True)
class Req:
    """One request: start (ns), TTFT, TPOT, output tokens, the rest (s); duration = ttft + tpot*(out-1) + rest."""

    start_ns: int
    ttft: float
    tpot: float
    output: int
    rest: float = 0.01
    model: str = "llama"
    error: str | None = None
    queue: float | None = None
    cost: float | None = None
    input: int = 100

    @property
    def duration(self) -> float:
        return self.ttft + self.tpot * (self.output - 1) + self.rest


def hour_start(hours_ago: int = 1) -> int:
    """The start of a whole hour ``hours_ago`` hours before the current one (Unix ns)."""
    now = time.time_ns()
    return (now // (3600 * S) - hours_ago) * 3600 * S


def write(path, requests: Iterable[Req], *, service: str = "chat-api", instance: str = "i-1") -> int:
    """Write ``requests`` as GenAI spans through the SDK (explicit start/end times) and the store exporter."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service, "service.instance.id": instance}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.analysis")
    n = 0
    for r in requests:
        attributes = {
            semconv.GEN_AI_OPERATION_NAME: "chat",
            semconv.GEN_AI_REQUEST_MODEL: r.model,
            semconv.GEN_AI_USAGE_INPUT_TOKENS: r.input,
        }
        span = tracer.start_span(f"chat {r.model}", kind=SpanKind.SERVER, start_time=r.start_ns, attributes=attributes)
        if r.error is not None:
            span.set_attribute(semconv.ERROR_TYPE, r.error)
            span.set_status(Status(StatusCode.ERROR))
        else:
            span.set_attributes({
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS: r.output,
                semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: r.ttft,
                semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN: r.tpot,
            })  # fmt: skip
            if r.queue is not None:
                span.set_attribute(semconv.INFERTEL_TIME_IN_QUEUE, r.queue)
            if r.cost is not None:
                span.set_attribute(semconv.INFERTEL_COST_USD, r.cost)
        span.end(end_time=r.start_ns + int(r.duration * S))
        n += 1
    store_exporter = SQLiteSpanExporter(path, retention=None)
    spans = memory.get_finished_spans()
    for i in range(0, len(spans), 512):
        store_exporter.export(spans[i : i + 512])
    store_exporter.shutdown()
    provider.shutdown()
    return n


def spaced(start_ns: int, seconds: float, count: int) -> list[int]:
    """``count`` start times spread evenly over ``seconds`` from ``start_ns``."""
    return [start_ns + int(i * seconds / count * S) for i in range(count)]


def durations(requests: Sequence[Req]) -> list[float]:
    return [r.duration for r in requests if r.error is None]
