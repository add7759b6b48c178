"""Wrap library methods when their module is imported, and put the originals back.

``instrument()`` must not import the library itself: under ``opentelemetry-instrument`` every
installed instrumentor is loaded at start-up, and importing a heavy library (torch) there would
slow down every application, including those that never use it. Methods of modules already
imported are wrapped at once; the others when (and if) the application imports them, through
wrapt's post-import hooks. The hooks are registered once per process and do nothing while
uninstrumented.

Threading: ``patch``/``unpatch`` and the import hooks hold one lock.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

import wrapt

from infertel import handle_internal_errors

# wrapt 2 moved the proxy base out from under ObjectProxy; either marks a method already wrapped.
_PROXY = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)

Target = tuple[str, str, str, Any]
"""(module, class, method, anything the wrapper factory needs)."""

WrapperFactory = Callable[[Target], Callable[..., Any]]


class Patcher:
    """Wraps ``module.Class.method`` for every target while patched; ``unpatch()`` restores them."""

    def __init__(self, targets: tuple[Target, ...]) -> None:
        self._targets = targets
        self._lock = threading.RLock()
        self._factory: WrapperFactory | None = None
        self._hooked: set[Target] = set()
        self._originals: list[tuple[type, str, Any]] = []

    def patch(self, factory: WrapperFactory) -> None:
        """Wrap the targets now (modules already imported) or on import; ``factory`` makes each wrapper."""
        with self._lock:
            self._factory = factory
            for target in self._targets:
                module = sys.modules.get(target[0])
                if module is not None:
                    self._wrap(module, target)
                elif target not in self._hooked:
                    self._hooked.add(target)
                    wrapt.register_post_import_hook(functools.partial(self._on_import, target), target[0])

    def unpatch(self) -> None:
        """Put every original method back; pending import hooks become no-ops."""
        with self._lock:
            self._factory = None
            while self._originals:
                cls, name, original = self._originals.pop()
                setattr(cls, name, original)

    def _on_import(self, target: Target, module: ModuleType) -> None:
        with handle_internal_errors, self._lock:
            if self._factory is not None:
                self._wrap(module, target)

    def _wrap(self, module: ModuleType, target: Target) -> None:
        factory = self._factory
        _, class_name, method, _ = target
        cls = getattr(module, class_name, None)
        original = cls.__dict__.get(method) if isinstance(cls, type) else None
        if factory is None or cls is None or original is None or isinstance(original, _PROXY):
            return
        setattr(cls, method, wrapt.FunctionWrapper(original, factory(target)))
        self._originals.append((cls, method, original))
