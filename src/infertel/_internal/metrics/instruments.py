"""The GenAI semantic-convention instruments infertel records: names, units, descriptions, buckets.

Both recording paths (in-process pre-aggregation and per-call ``Histogram.record``/``Counter.add``)
read this one table, so what they export cannot drift apart.

Which names are recorded follows ``OTEL_SEMCONV_STABILITY_OPT_IN`` (read by ``configure()``, or
when the first call binds without one): by default the names of semantic conventions v1.41
(``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage`` ...); with
``gen_ai_latest_experimental`` the newer names of semantic-conventions-genai only
(``gen_ai.client.inference.duration``, the ``gen_ai.client.inference.usage.*`` counters by
``gen_ai.token.modality`` ...; for ``embeddings``: ``gen_ai.client.embeddings.duration`` and
``gen_ai.client.embeddings.operation.input_tokens``); with ``gen_ai_latest_experimental/dup`` both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from infertel import semconv


@dataclass(frozen=True)
class HistogramSpec:
    """One semantic-convention instrument (a histogram, or a counter when ``counter`` is set).

    Attributes:
        name: Metric name (a ``semconv`` constant).
        unit: UCUM unit.
        description: The description the semantic conventions give.
        boundaries: The recommended explicit bucket boundaries (empty for a counter).
        counter: A monotonic counter (a sum) instead of a histogram.
    """

    name: str
    unit: str
    description: str
    boundaries: tuple[float, ...]
    counter: bool = False


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

# --- semantic-conventions-genai (development) ------------------------------------------------
INFERENCE_DURATION = HistogramSpec(
    semconv.GEN_AI_CLIENT_INFERENCE_DURATION,
    semconv.UNIT_SECONDS,
    "GenAI client inference operation duration.",
    tuple(semconv.DURATION_BUCKETS),
)
INFERENCE_TIME_TO_FIRST_CHUNK = HistogramSpec(
    semconv.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
    semconv.UNIT_SECONDS,
    CLIENT_TIME_TO_FIRST_CHUNK.description,
    tuple(semconv.TIME_TO_FIRST_CHUNK_BUCKETS),
)
INFERENCE_TIME_PER_OUTPUT_CHUNK = HistogramSpec(
    semconv.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
    semconv.UNIT_SECONDS,
    CLIENT_TIME_PER_OUTPUT_CHUNK.description,
    tuple(semconv.TIME_PER_OUTPUT_CHUNK_BUCKETS),
)
INFERENCE_OPERATION_INPUT_TOKENS = HistogramSpec(
    semconv.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
    semconv.UNIT_TOKENS,
    "The number of input (prompt) tokens used per inference operation.",
    tuple(semconv.TOKEN_USAGE_BUCKETS),
)
INFERENCE_OPERATION_OUTPUT_TOKENS = HistogramSpec(
    semconv.GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
    semconv.UNIT_TOKENS,
    "The number of output (completion) tokens used per inference operation.",
    tuple(semconv.TOKEN_USAGE_BUCKETS),
)
EMBEDDINGS_DURATION = HistogramSpec(
    semconv.GEN_AI_CLIENT_EMBEDDINGS_DURATION,
    semconv.UNIT_SECONDS,
    "GenAI client embeddings operation duration.",
    tuple(semconv.DURATION_BUCKETS),
)
EMBEDDINGS_OPERATION_INPUT_TOKENS = HistogramSpec(
    semconv.GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS,
    semconv.UNIT_TOKENS,
    "The number of input tokens used per embeddings operation.",
    tuple(semconv.TOKEN_USAGE_BUCKETS),
)
INFERENCE_USAGE_INPUT_TOKENS = HistogramSpec(
    semconv.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
    semconv.UNIT_TOKENS,
    "The number of input (prompt) tokens used, including cached tokens.",
    (),
    counter=True,
)
INFERENCE_USAGE_OUTPUT_TOKENS = HistogramSpec(
    semconv.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
    semconv.UNIT_TOKENS,
    "The number of output (completion) tokens used, including reasoning tokens.",
    (),
    counter=True,
)


@dataclass(frozen=True)
class TokenSpecs:
    """Where one call's input and output token counts go (None: not recorded), and the attributes each adds."""

    input: HistogramSpec | None
    output: HistogramSpec | None
    input_attributes: tuple[tuple[str, str], ...]
    output_attributes: tuple[tuple[str, str], ...]


_TOKEN_USAGE = TokenSpecs(
    CLIENT_TOKEN_USAGE,
    CLIENT_TOKEN_USAGE,
    ((semconv.GEN_AI_TOKEN_TYPE, semconv.GEN_AI_TOKEN_TYPE_INPUT),),
    ((semconv.GEN_AI_TOKEN_TYPE, semconv.GEN_AI_TOKEN_TYPE_OUTPUT),),
)
_OPERATION_TOKENS = TokenSpecs(INFERENCE_OPERATION_INPUT_TOKENS, INFERENCE_OPERATION_OUTPUT_TOKENS, (), ())
_MODALITY = ((semconv.GEN_AI_TOKEN_MODALITY, semconv.GEN_AI_TOKEN_MODALITY_UNKNOWN),)
_USAGE_COUNTERS = TokenSpecs(INFERENCE_USAGE_INPUT_TOKENS, INFERENCE_USAGE_OUTPUT_TOKENS, _MODALITY, _MODALITY)


@dataclass(frozen=True)
class SpecGroup:
    """Instruments one call updates together; a field left None is not recorded by this group.

    ``duration`` carries ``error.type``; ``first`` and ``per_output`` are recorded for streams.
    """

    duration: HistogramSpec | None
    tokens: TokenSpecs | None
    first: HistogramSpec | None
    per_output: HistogramSpec | None


@dataclass(frozen=True)
class KindMetrics:
    """The instruments one kind of invocation records under one naming mode.

    ``kind="internal"`` (the model runs in this process) records the ``gen_ai.server.*``
    histograms; the semantic conventions define no server-side token instrument, so token counts
    go to the client token instruments for both kinds. ``kind="client"`` (a remote model)
    records the ``gen_ai.client.*`` ones. Groups after the first hold other names of the same
    values; a None field is not recorded (in the first group too: embeddings have no output
    token or chunk instruments under the newer names).
    """

    name: str
    groups: tuple[SpecGroup, ...]
    per_chunk: bool
    """True: ``per_output`` is recorded once per chunk gap (client); False: once per call (server)."""

    @property
    def duration(self) -> HistogramSpec:
        """The duration histogram of the first group."""
        return self.groups[0].duration  # type: ignore[return-value]


MODE_DEFAULT = "default"
MODE_LATEST = "latest"
MODE_DUP = "dup"

_SERVER = SpecGroup(SERVER_REQUEST_DURATION, _TOKEN_USAGE, SERVER_TIME_TO_FIRST_TOKEN, SERVER_TIME_PER_OUTPUT_TOKEN)
_SERVER_LATEST = SpecGroup(
    SERVER_REQUEST_DURATION, _OPERATION_TOKENS, SERVER_TIME_TO_FIRST_TOKEN, SERVER_TIME_PER_OUTPUT_TOKEN
)
_CLIENT = SpecGroup(CLIENT_OPERATION_DURATION, _TOKEN_USAGE, CLIENT_TIME_TO_FIRST_CHUNK, CLIENT_TIME_PER_OUTPUT_CHUNK)
_CLIENT_LATEST = SpecGroup(
    INFERENCE_DURATION, _OPERATION_TOKENS, INFERENCE_TIME_TO_FIRST_CHUNK, INFERENCE_TIME_PER_OUTPUT_CHUNK
)
_COUNTERS = SpecGroup(None, _USAGE_COUNTERS, None, None)
# Embeddings have their own newer names (client-embeddings): a duration and an input-token histogram only.
_EMBEDDINGS_TOKENS = TokenSpecs(EMBEDDINGS_OPERATION_INPUT_TOKENS, None, (), ())
_EMBEDDINGS = SpecGroup(EMBEDDINGS_DURATION, _EMBEDDINGS_TOKENS, None, None)

INTERNAL = KindMetrics("internal", (_SERVER,), False)
CLIENT = KindMetrics("client", (_CLIENT,), True)
INTERNAL_LATEST = KindMetrics("internal/latest", (_SERVER_LATEST, _COUNTERS), False)
CLIENT_LATEST = KindMetrics("client/latest", (_CLIENT_LATEST, _COUNTERS), True)
INTERNAL_DUP = KindMetrics("internal/dup", (_SERVER, SpecGroup(None, _OPERATION_TOKENS, None, None), _COUNTERS), False)
CLIENT_DUP = KindMetrics("client/dup", (_CLIENT, _CLIENT_LATEST, _COUNTERS), True)
CLIENT_EMBEDDINGS_LATEST = KindMetrics("client/embeddings/latest", (_EMBEDDINGS,), True)
CLIENT_EMBEDDINGS_DUP = KindMetrics("client/embeddings/dup", (_CLIENT, _EMBEDDINGS), True)
_SERVER_EMBEDDINGS = SpecGroup(None, _EMBEDDINGS_TOKENS, None, None)
INTERNAL_EMBEDDINGS_LATEST = KindMetrics(
    "internal/embeddings/latest",
    (SpecGroup(SERVER_REQUEST_DURATION, _EMBEDDINGS_TOKENS, SERVER_TIME_TO_FIRST_TOKEN, SERVER_TIME_PER_OUTPUT_TOKEN),),
    False,
)
INTERNAL_EMBEDDINGS_DUP = KindMetrics("internal/embeddings/dup", (_SERVER, _SERVER_EMBEDDINGS), False)

_BY_MODE: dict[str, dict[str, KindMetrics]] = {
    MODE_DEFAULT: {"internal": INTERNAL, "client": CLIENT},
    MODE_LATEST: {"internal": INTERNAL_LATEST, "client": CLIENT_LATEST},
    MODE_DUP: {"internal": INTERNAL_DUP, "client": CLIENT_DUP},
}
_EMBEDDINGS_BY_MODE: dict[str, dict[str, KindMetrics]] = {
    MODE_LATEST: {"internal": INTERNAL_EMBEDDINGS_LATEST, "client": CLIENT_EMBEDDINGS_LATEST},
    MODE_DUP: {"internal": INTERNAL_EMBEDDINGS_DUP, "client": CLIENT_EMBEDDINGS_DUP},
}

ALL_SPECS: tuple[HistogramSpec, ...] = (
    CLIENT_OPERATION_DURATION,
    CLIENT_TOKEN_USAGE,
    CLIENT_TIME_TO_FIRST_CHUNK,
    CLIENT_TIME_PER_OUTPUT_CHUNK,
    SERVER_REQUEST_DURATION,
    SERVER_TIME_TO_FIRST_TOKEN,
    SERVER_TIME_PER_OUTPUT_TOKEN,
    INFERENCE_DURATION,
    INFERENCE_TIME_TO_FIRST_CHUNK,
    INFERENCE_TIME_PER_OUTPUT_CHUNK,
    INFERENCE_OPERATION_INPUT_TOKENS,
    INFERENCE_OPERATION_OUTPUT_TOKENS,
    INFERENCE_USAGE_INPUT_TOKENS,
    INFERENCE_USAGE_OUTPUT_TOKENS,
    EMBEDDINGS_DURATION,
    EMBEDDINGS_OPERATION_INPUT_TOKENS,
)


def kind_metrics(kind: str, mode: str = MODE_DEFAULT, operation: str | None = None) -> KindMetrics:
    """The instruments of ``kind`` (``internal``/``client``) under naming ``mode``.

    Under the newer names an ``embeddings`` operation has its own (``gen_ai.client.embeddings.*``).
    """
    if operation == semconv.GEN_AI_OPERATION_EMBEDDINGS and mode != MODE_DEFAULT:
        return _EMBEDDINGS_BY_MODE[mode][kind]
    return _BY_MODE[mode][kind]


def mode_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The GenAI naming mode ``OTEL_SEMCONV_STABILITY_OPT_IN`` asks for.

    The variable is a comma-separated list (other values, such as ``http``, belong to other
    instrumentations and are ignored); ``gen_ai_latest_experimental/dup`` wins over
    ``gen_ai_latest_experimental``.

    Example:
        >>> mode_from_env({"OTEL_SEMCONV_STABILITY_OPT_IN": "http, gen_ai_latest_experimental"})
        'latest'
    """
    env = os.environ if environ is None else environ
    values = {v.strip().lower() for v in env.get(semconv.OTEL_SEMCONV_STABILITY_OPT_IN, "").split(",")}
    if semconv.GEN_AI_LATEST_EXPERIMENTAL_DUP in values:
        return MODE_DUP
    if semconv.GEN_AI_LATEST_EXPERIMENTAL in values:
        return MODE_LATEST
    return MODE_DEFAULT
