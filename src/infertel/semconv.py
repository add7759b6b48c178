"""Every attribute name, metric name, unit and bucket boundary infertel emits.

Names follow the OpenTelemetry semantic conventions where they exist (``gen_ai.*``,
``hw.*``, ``system.*``, ``process.*``, ``error.type``, ``server.*``) and live under
``infertel.*`` otherwise. Call sites use these constants, never string literals.

Example:
    >>> from infertel import semconv
    >>> semconv.GEN_AI_REQUEST_MODEL
    'gen_ai.request.model'
"""

from __future__ import annotations

from typing import Final

# --- GenAI span and metric attributes (semantic conventions, gen-ai registry) ---------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"

# Values of gen_ai.token.type
GEN_AI_TOKEN_TYPE_INPUT: Final = "input"
GEN_AI_TOKEN_TYPE_OUTPUT: Final = "output"

# Well-known values of gen_ai.operation.name
GEN_AI_OPERATION_CHAT: Final = "chat"
GEN_AI_OPERATION_TEXT_COMPLETION: Final = "text_completion"
GEN_AI_OPERATION_EMBEDDINGS: Final = "embeddings"
GEN_AI_OPERATION_GENERATE_CONTENT: Final = "generate_content"

# --- General attributes ----------------------------------------------------------------------
ERROR_TYPE: Final = "error.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
OTEL_METRIC_OVERFLOW: Final = "otel.metric.overflow"

# --- infertel attributes (no semantic convention exists) -------------------------------------
INFERTEL_STREAM: Final = "infertel.stream"
"""True on spans of streamed responses."""
INFERTEL_STREAM_END_REASON: Final = "infertel.stream.end_reason"
"""How a stream ended: one of the ``STREAM_END_*`` values below."""
INFERTEL_STREAM_CHUNKS: Final = "infertel.stream.chunks"
INFERTEL_TIME_TO_FIRST_TOKEN: Final = "infertel.time_to_first_token"
"""Seconds from the start of the call to the first chunk (span attribute, for processors)."""
INFERTEL_TIME_PER_OUTPUT_TOKEN: Final = "infertel.time_per_output_token"
INFERTEL_OUTPUT_TOKENS_PER_SECOND: Final = "infertel.output_tokens_per_second"
INFERTEL_VERSION: Final = "infertel.version"
"""Resource attribute carrying the infertel version."""

STREAM_END_EXHAUSTED: Final = "exhausted"
STREAM_END_CLOSED: Final = "closed"
STREAM_END_ABANDONED: Final = "abandoned"
STREAM_END_ERROR: Final = "error"
STREAM_END_CANCELLED: Final = "cancelled"

# --- GenAI metrics (semantic conventions) ----------------------------------------------------
GEN_AI_CLIENT_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
GEN_AI_CLIENT_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.operation.time_per_output_chunk"
GEN_AI_SERVER_REQUEST_DURATION: Final = "gen_ai.server.request.duration"
GEN_AI_SERVER_TIME_TO_FIRST_TOKEN: Final = "gen_ai.server.time_to_first_token"
GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN: Final = "gen_ai.server.time_per_output_token"

# --- Units (UCUM) ----------------------------------------------------------------------------
UNIT_SECONDS: Final = "s"
UNIT_BYTES: Final = "By"
UNIT_RATIO: Final = "1"
UNIT_TOKENS: Final = "{token}"
UNIT_REQUESTS: Final = "{request}"
UNIT_WATTS: Final = "W"
UNIT_JOULES: Final = "J"
UNIT_CELSIUS: Final = "Cel"

# --- Recommended explicit bucket boundaries (semantic conventions) ---------------------------
DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
"""For gen_ai.client.operation.duration and gen_ai.server.request.duration."""
TOKEN_USAGE_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
"""For gen_ai.client.token.usage."""
TIME_TO_FIRST_TOKEN_BUCKETS: Final = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)
"""For gen_ai.server.time_to_first_token and gen_ai.client.operation.time_to_first_chunk."""
TIME_PER_OUTPUT_TOKEN_BUCKETS: Final = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
)
"""For gen_ai.server.time_per_output_token and gen_ai.client.operation.time_per_output_chunk."""

# --- Instrumentation scope -------------------------------------------------------------------
INSTRUMENTATION_SCOPE: Final = "infertel"
