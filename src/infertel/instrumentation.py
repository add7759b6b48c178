"""Building blocks for instrumentations: wrap library methods on import, restore them on uninstrument.

Example:
    >>> from infertel.instrumentation import MethodPatcher
    >>> patcher = MethodPatcher((("json.encoder", "JSONEncoder", "encode", None),))
    >>> patcher.patch(lambda target: lambda wrapped, instance, args, kwargs: wrapped(*args, **kwargs))
    >>> patcher.unpatch()
"""

from __future__ import annotations

from infertel._internal.patching import MethodPatcher, PatchingInstrumentor, PatchTarget, WrapperFactory

__all__ = ["MethodPatcher", "PatchTarget", "PatchingInstrumentor", "WrapperFactory"]
