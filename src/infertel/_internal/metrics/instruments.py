"""The GenAI semantic-convention histograms infertel records: names, units, descriptions, buckets.

Both recording paths (in-process pre-aggregation and per-call ``Histogram.record``) read this
one table, so what they export cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from infertel import semconv


@dataclass(frozen=True)
class HistogramSpec:
    """One semantic-convention histogram.

    Attributes:
        name: Metric name (a ``semconv`` constant).
        unit: UCUM unit.
        description: The description the semantic conventions give.
        boundaries: The recommended explicit bucket boundaries.
    """

    name: str
    unit: str
    description: str
    boundaries: tuple[float, ...]


CLIENT_OPERATION_DURATION = HistogramSpec(
    semconv.GEN_AI_CLIENT_OPERATION_DURATION,
    semconv.UNIT_SECONDS,
    "GenAI operation duration.",
    tuple(semconv.DURATION_BUCKETS),
)
CLIENT_TOKEN_USAGE = HistogramSpec(
    semconv.GEN_AI_CLIENT_TOKEN_USAGE,
    semconv.UNIT_TOKENS,
    "Number of input and output tokens used.",
    tuple(semconv.TOKEN_USAGE_BUCKETS),
)
CLIENT_TIME_TO_FIRST_CHUNK = HistogramSpec(
    semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK,
    semconv.UNIT_SECONDS,
    "Time to receive the first chunk, measured from when the client issues the generation request to when "
    "the first chunk is received in the response stream.",
    tuple(semconv.TIME_TO_FIRST_CHUNK_BUCKETS),
)
CLIENT_TIME_PER_OUTPUT_CHUNK = HistogramSpec(
    semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK,
    semconv.UNIT_SECONDS,
    "Time per output chunk, recorded for each chunk received after the first one, measured as the time "
    "elapsed from the end of the previous chunk to the end of the current chunk.",
    tuple(semconv.TIME_PER_OUTPUT_CHUNK_BUCKETS),
)
SERVER_REQUEST_DURATION = HistogramSpec(
    semconv.GEN_AI_SERVER_REQUEST_DURATION,
    semconv.UNIT_SECONDS,
    "Generative AI server request duration such as time-to-last byte or last output token.",
    tuple(semconv.DURATION_BUCKETS),
)
SERVER_TIME_TO_FIRST_TOKEN = HistogramSpec(
    semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
    semconv.UNIT_SECONDS,
    "Time to generate first token for successful responses.",
    tuple(semconv.TIME_TO_FIRST_TOKEN_BUCKETS),
)
SERVER_TIME_PER_OUTPUT_TOKEN = HistogramSpec(
    semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
    semconv.UNIT_SECONDS,
    "Time per output token generated after the first token for successful responses.",
    tuple(semconv.TIME_PER_OUTPUT_TOKEN_BUCKETS),
)


@dataclass(frozen=True)
class KindMetrics:
    """The histograms one kind of invocation records.

    ``kind="internal"`` (the model runs in this process) records the ``gen_ai.server.*``
    histograms; the semantic conventions define no server-side token histogram, so token counts
    go to ``gen_ai.client.token.usage`` for both kinds (with ``gen_ai.token.type``).
    ``kind="client"`` (a remote model) records the ``gen_ai.client.*`` histograms.
    """

    duration: HistogramSpec
    tokens: HistogramSpec
    first: HistogramSpec
    per_output: HistogramSpec
    per_chunk: bool
    """True: ``per_output`` is recorded once per chunk gap (client); False: once per call (server)."""


INTERNAL = KindMetrics(
    SERVER_REQUEST_DURATION, CLIENT_TOKEN_USAGE, SERVER_TIME_TO_FIRST_TOKEN, SERVER_TIME_PER_OUTPUT_TOKEN, False
)
CLIENT = KindMetrics(
    CLIENT_OPERATION_DURATION, CLIENT_TOKEN_USAGE, CLIENT_TIME_TO_FIRST_CHUNK, CLIENT_TIME_PER_OUTPUT_CHUNK, True
)
ALL_SPECS: tuple[HistogramSpec, ...] = (
    CLIENT_OPERATION_DURATION,
    CLIENT_TOKEN_USAGE,
    CLIENT_TIME_TO_FIRST_CHUNK,
    CLIENT_TIME_PER_OUTPUT_CHUNK,
    SERVER_REQUEST_DURATION,
    SERVER_TIME_TO_FIRST_TOKEN,
    SERVER_TIME_PER_OUTPUT_TOKEN,
)
