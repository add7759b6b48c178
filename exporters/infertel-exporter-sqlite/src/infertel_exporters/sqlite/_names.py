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
