"""Every ``INFERTEL_*`` environment variable, one documented constant each.

infertel also honours the standard ``OTEL_*`` variables (``OTEL_SERVICE_NAME``,
``OTEL_EXPORTER_OTLP_*``, ``OTEL_TRACES_SAMPLER``, ``OTEL_SDK_DISABLED``,
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` ...); keyword arguments to
:func:`infertel.configure` override both.

Example:
    >>> import os
    >>> from infertel.environment_variables import INFERTEL_STORE_PATH
    >>> os.environ[INFERTEL_STORE_PATH] = "/tmp/telemetry.db"
"""

from __future__ import annotations

from typing import Final

INFERTEL_STORE_PATH: Final = "INFERTEL_STORE_PATH"
"""Path of the embedded SQLite store used when no OTLP endpoint is configured.

Default: ``$XDG_DATA_HOME/infertel/infertel.db`` (``~/.local/share/infertel/infertel.db``).
"""

INFERTEL_CAPTURE_CONTENT_MAX_LENGTH: Final = "INFERTEL_CAPTURE_CONTENT_MAX_LENGTH"
"""Maximum number of characters of captured prompt/completion content (default 4096).

Content is captured only when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` asks for it.
"""

INFERTEL_RAISE_INTERNAL_ERRORS: Final = "INFERTEL_RAISE_INTERNAL_ERRORS"
"""Testing switch: ``true`` makes internal errors re-raise instead of being logged and dropped.

Never set it in production: it lets a bug in infertel break the instrumented application.
"""
