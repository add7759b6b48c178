"""The names this distribution reads: environment variables and GenAI attribute names.

They are infertel's names (``infertel.environment_variables`` and ``infertel.semconv`` document
them too); they are spelled out here because this distribution does not depend on ``infertel``
(``infertel`` depends on it). A test asserts both spellings are identical.
"""

from __future__ import annotations

from typing import Final

INFERTEL_STORE_MAX_AGE_SECONDS: Final = "INFERTEL_STORE_MAX_AGE_SECONDS"
INFERTEL_STORE_MAX_BYTES: Final = "INFERTEL_STORE_MAX_BYTES"
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
INFERTEL_TIME_PER_OUTPUT_TOKEN: Final = "infertel.time_per_output_token"
ERROR_TYPE: Final = "error.type"
ERROR_TYPE_OTHER: Final = "_OTHER"
SERVICE_NAME: Final = "service.name"
INFERTEL_GEN_AI_IN_FLIGHT: Final = "infertel.gen_ai.in_flight"
INFERTEL_STORE_ROLLUP_MAX_AGE_SECONDS: Final = "INFERTEL_STORE_ROLLUP_MAX_AGE_SECONDS"
