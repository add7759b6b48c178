"""Names on an inference call's spans, events and metrics (GenAI semantic conventions first), units, buckets.

Part of :mod:`infertel.semconv`, which re-exports every name here: import them from there.
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
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
"""Input tokens served from a provider-managed cache (included in ``gen_ai.usage.input_tokens``)."""
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
"""Output tokens spent on reasoning (included in ``gen_ai.usage.output_tokens``)."""
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
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
"""The output modality the client asked for (``text``, ``json``, ``image``, ``speech``)."""
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
"""True on spans of streamed requests (set only then: unset means not streamed)."""
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
"""Seconds from the start of the call to the first chunk of a streamed response (span attribute)."""
GEN_AI_TOKEN_MODALITY: Final = "gen_ai.token.modality"
"""Modality of the counted tokens on the ``gen_ai.client.inference.usage.*`` counters."""
GEN_AI_TOKEN_MODALITY_UNKNOWN: Final = "unknown"
"""``gen_ai.token.modality`` when the provider does not break usage down by modality."""
GEN_AI_FINISH_REASON_ERROR: Final = "error"
"""The finish reason of a generation that ended abnormally (an error, a cancelled or cut-off stream)."""
GEN_AI_FINISH_REASON_STOP: Final = "stop"
"""The finish reason of a generation that ended normally when the model reported none."""

# --- Exceptions (semantic-conventions-genai: gen_ai.client.operation.exception event) --------
GEN_AI_CLIENT_OPERATION_EXCEPTION: Final = "gen_ai.client.operation.exception"
"""Event name (a log record, severity WARN) of an exception that failed a GenAI operation."""
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

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
ERROR_TYPE_OTHER: Final = "_OTHER"
"""The ``error.type`` value the conventions reserve for an error with no better name."""
SERVICE_NAME: Final = "service.name"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
OTEL_METRIC_OVERFLOW: Final = "otel.metric.overflow"

# --- infertel attributes (no semantic convention exists) -------------------------------------
INFERTEL_STREAM_END_REASON: Final = "infertel.stream.end_reason"
"""How a stream ended: one of the ``STREAM_END_*`` values below."""
INFERTEL_STREAM_CHUNKS: Final = "infertel.stream.chunks"
INFERTEL_TIME_PER_OUTPUT_TOKEN: Final = "infertel.time_per_output_token"
INFERTEL_OUTPUT_TOKENS_PER_SECOND: Final = "infertel.output_tokens_per_second"
INFERTEL_VERSION: Final = "infertel.version"
"""Resource attribute carrying the infertel version."""

STREAM_END_EXHAUSTED: Final = "exhausted"
STREAM_END_CLOSED: Final = "closed"
STREAM_END_ABANDONED: Final = "abandoned"
STREAM_END_ERROR: Final = "error"
STREAM_END_CANCELLED: Final = "cancelled"
STREAM_END_CLIENT_DISCONNECTED: Final = "client_disconnected"
"""A server-side stream whose client went away before the response completed (also its ``error.type``)."""
STREAM_END_SHUTDOWN: Final = "shutdown"
"""The stream was still open when ``infertel.shutdown()`` ran (also at exit and on SIGTERM)."""

# --- GenAI metrics (semantic conventions) ----------------------------------------------------
GEN_AI_CLIENT_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
GEN_AI_CLIENT_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.operation.time_per_output_chunk"
GEN_AI_SERVER_REQUEST_DURATION: Final = "gen_ai.server.request.duration"
GEN_AI_SERVER_TIME_TO_FIRST_TOKEN: Final = "gen_ai.server.time_to_first_token"
GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN: Final = "gen_ai.server.time_per_output_token"

# Newer names (semantic-conventions-genai, development), emitted when OTEL_SEMCONV_STABILITY_OPT_IN
# lists ``gen_ai_latest_experimental`` (only these) or ``gen_ai_latest_experimental/dup`` (both).
GEN_AI_CLIENT_INFERENCE_DURATION: Final = "gen_ai.client.inference.duration"
GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.inference.time_to_first_chunk"
GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.inference.time_per_output_chunk"
GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.input_tokens"
"""Counter ({token}) by ``gen_ai.token.modality``."""
GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS: Final = "gen_ai.client.inference.usage.output_tokens"
"""Counter ({token}) by ``gen_ai.token.modality``."""
GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS: Final = "gen_ai.client.inference.operation.input_tokens"
"""Histogram ({token}): input tokens per operation (no modality)."""
GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS: Final = "gen_ai.client.inference.operation.output_tokens"
"""Histogram ({token}): output tokens per operation (no modality)."""
GEN_AI_CLIENT_EMBEDDINGS_DURATION: Final = "gen_ai.client.embeddings.duration"
"""Histogram (s): duration of an ``embeddings`` operation (instead of ``gen_ai.client.inference.duration``)."""
GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS: Final = "gen_ai.client.embeddings.operation.input_tokens"
"""Histogram ({token}): input tokens per ``embeddings`` operation."""
OTEL_SEMCONV_STABILITY_OPT_IN: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
"""Environment variable (comma-separated) read by ``configure()``; see :data:`GEN_AI_LATEST_EXPERIMENTAL`."""
GEN_AI_LATEST_EXPERIMENTAL: Final = "gen_ai_latest_experimental"
"""Opt-in value: the newer GenAI metric names only."""
GEN_AI_LATEST_EXPERIMENTAL_DUP: Final = "gen_ai_latest_experimental/dup"
"""Opt-in value: the newer and the older GenAI metric names side by side."""

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
# fmt: off
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
"""For gen_ai.server.time_to_first_token."""
TIME_PER_OUTPUT_TOKEN_BUCKETS: Final = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
)
"""For gen_ai.server.time_per_output_token."""
TIME_TO_FIRST_CHUNK_BUCKETS: Final = DURATION_BUCKETS
"""For gen_ai.client.operation.time_to_first_chunk (the semantic conventions reuse the duration buckets)."""
TIME_PER_OUTPUT_CHUNK_BUCKETS: Final = DURATION_BUCKETS
"""For gen_ai.client.operation.time_per_output_chunk (the semantic conventions reuse the duration buckets)."""

# --- Instrumentation scope -------------------------------------------------------------------
INSTRUMENTATION_SCOPE: Final = "infertel"
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.41.0"
"""Schema URL of every instrumentation scope infertel creates (tracers, meters, loggers)."""

# --- Instrumentation distributions (infertel-instrumentation-openai / -transformers) ---------
GEN_AI_PROVIDER_OPENAI: Final = "openai"
"""gen_ai.provider.name of the openai client instrumentation (semantic-convention value)."""
GEN_AI_PROVIDER_TRANSFORMERS: Final = "transformers"
"""gen_ai.provider.name of in-process Hugging Face transformers models (no convention value exists)."""
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"
INFERTEL_MODEL_DEVICE: Final = "infertel.model.device"
"""Device the in-process model ran on, as torch writes it (``cpu``, ``cuda:0``, ``mps``)."""
INFERTEL_MODEL_DTYPE: Final = "infertel.model.dtype"
"""Parameter dtype of the in-process model, as torch writes it without the prefix (``float32``, ``bfloat16``)."""
INFERTEL_REQUEST_BATCH_SIZE: Final = "infertel.request.batch_size"
"""Number of prompts (input rows) in one generate call or pipeline call."""
