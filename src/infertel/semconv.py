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

# The constants live in infertel._internal.semconv, one module per subject; every one of them is
# a name of this module (the star imports copy each module's public names, nothing else).
from infertel._internal.semconv.components import *  # noqa: F403
from infertel._internal.semconv.inference import *  # noqa: F403
from infertel._internal.semconv.resources import *  # noqa: F403

# --- Deprecated names (no longer emitted; removed in the next minor release) -----------------
_DEPRECATED: Final = {
    "INFERTEL_STREAM": ("infertel.stream", "GEN_AI_REQUEST_STREAM"),
    "INFERTEL_TIME_TO_FIRST_TOKEN": ("infertel.time_to_first_token", "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK"),
}
"""Old constant -> (its value, the constant of the semantic-convention name that replaced it)."""


def __getattr__(name: str) -> str:
    """The deprecated constants, with a ``DeprecationWarning`` naming the replacement.

    Example:
        >>> import warnings
        >>> from infertel import semconv
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     semconv.INFERTEL_STREAM
        'infertel.stream'
    """
    found = _DEPRECATED.get(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value, replacement = found
    import warnings

    warnings.warn(
        f"infertel.semconv.{name} ({value!r}) is deprecated and no longer emitted; "
        f"use infertel.semconv.{replacement} ({globals()[replacement]!r})",
        DeprecationWarning,
        stacklevel=2,
    )
    return value
