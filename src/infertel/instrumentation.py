"""Building blocks for instrumentations: wrap library methods on import, restore them on uninstrument.

Streams an instrumentation ends by hand (a proxy over a library's stream object) hand their
span to infertel with :func:`track_stream`, :func:`claim_stream` and :func:`release_stream`:
``shutdown()`` ends them (``infertel.stream.end_reason="shutdown"``), and one let go unfinished
is ended on a background thread, never inside its finalizer.

Example:
    >>> from infertel.instrumentation import MethodPatcher
    >>> patcher = MethodPatcher((("json.encoder", "JSONEncoder", "encode", None),))
    >>> patcher.patch(lambda target: lambda wrapped, instance, args, kwargs: wrapped(*args, **kwargs))
    >>> patcher.unpatch()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from infertel._internal.patching import MethodPatcher, PatchingInstrumentor, PatchTarget, WrapperFactory

if TYPE_CHECKING:
    from infertel._internal.instrument.handoff import claim_stream, release_stream, track_stream

# Loaded on first use: the stream registry imports the whole inference instrumentation, which an
# instrumentor that only patches (under ``opentelemetry-instrument``, at start-up) does not need.
_LAZY = frozenset({"claim_stream", "release_stream", "track_stream"})

__all__ = [
    "MethodPatcher",
    "PatchTarget",
    "PatchingInstrumentor",
    "WrapperFactory",
    "claim_stream",
    "release_stream",
    "track_stream",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module("infertel._internal.instrument.handoff"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
