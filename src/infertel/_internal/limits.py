"""Length bounds on the strings infertel puts into span names, span attributes and metric attributes.

A name (model, operation, provider, server address, span name, response model and id, finish
reason) longer than :data:`MAX_NAME_LENGTH` characters, and a text (status description,
exception message, stack trace) longer than :data:`MAX_TEXT_LENGTH`, is cut and ends with
:data:`MARKER`, with a rate-limited warning naming what was cut. The checks cost one ``len()``
per value; names given at decoration time are bounded once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infertel._internal.errors import warn_rate_limited

MAX_NAME_LENGTH = 256
"""Characters kept of a name (model, operation, provider, span name, ...), marker included."""
MAX_TEXT_LENGTH = 8192
"""Characters kept of a free text (status description, exception message, stack trace), marker included."""
MAX_ITEMS = 128
"""Items kept of a list-valued attribute (finish reasons, stop sequences, a user's list)."""
MARKER = "...[truncated]"
"""What a cut string ends with."""


def _cut(value: str, what: str, limit: int) -> str:
    warn_rate_limited(
        ("truncated", what),
        "infertel: a %s of %d characters was cut to %d (ending with %r)",
        what,
        len(value),
        limit,
        MARKER,
    )
    return value[: max(limit - len(MARKER), 0)] + MARKER


def bound_name(value: str, what: str) -> str:
    """``value`` cut to :data:`MAX_NAME_LENGTH` characters (marker included) when longer.

    Example:
        >>> bound_name("llama-3-8b", "model")
        'llama-3-8b'
        >>> len(bound_name("m" * 100_000, "model"))
        256
    """
    return value if len(value) <= MAX_NAME_LENGTH else _cut(value, what, MAX_NAME_LENGTH)


def bound_text(value: str, what: str, limit: int = MAX_TEXT_LENGTH) -> str:
    """``value`` cut to ``limit`` characters (marker included) when longer.

    Example:
        >>> bound_text("x" * 20, "message", 16)
        'xx...[truncated]'
    """
    return value if len(value) <= limit else _cut(value, what, limit)


def bound_value(value: Any, what: str) -> Any:
    """An attribute value with every string in it bounded (:data:`MAX_TEXT_LENGTH`) and lists cut to :data:`MAX_ITEMS`.

    Example:
        >>> bound_value(["stop"] * 200, "finish reasons") == ["stop"] * 128
        True
    """
    if isinstance(value, str):
        return bound_text(value, what)
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        if len(value) > MAX_ITEMS:
            warn_rate_limited(("items", what), "infertel: a %s of %d items was cut to %d", what, len(value), MAX_ITEMS)
            value = value[:MAX_ITEMS]
        if any(isinstance(v, str) and len(v) > MAX_TEXT_LENGTH for v in value):
            return [bound_text(v, what) if isinstance(v, str) else v for v in value]
    return value


def exception_message(exc: BaseException) -> str:
    """``str(exc)`` bounded to :data:`MAX_TEXT_LENGTH`; a placeholder when ``__str__`` raises or returns a non-str.

    Example:
        >>> class Hostile(Exception):
        ...     def __str__(self):
        ...         raise RuntimeError
        >>> exception_message(Hostile())
        '<Hostile: str() failed>'
    """
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - the user's exception must end its span whatever its __str__ does
        return f"<{type(exc).__name__}: str() failed>"
    return bound_text(message, "exception message")
