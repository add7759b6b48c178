"""Wrap library methods when their module is imported, and put the originals back.

``instrument()`` must not import the library itself: under ``opentelemetry-instrument`` every
installed instrumentor is loaded at start-up, and importing a heavy library (torch) there would
slow down every application, including those that never use it. Methods of modules already
imported are wrapped at once; the others when (and if) the application imports them, through
wrapt's post-import hooks. The hooks are registered once per process and do nothing while
unpatched.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import threading
from collections.abc import Callable, Collection
from types import ModuleType
from typing import Any, ClassVar

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from infertel._internal.errors import handle_internal_errors

# wrapt 2 moved the proxy base out from under ObjectProxy; either marks a method already wrapped.
_PROXY = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)

PatchTarget = tuple[str, str, str, Any]
"""(module, class, method, anything the wrapper factory needs)."""

WrapperFactory = Callable[[PatchTarget], Callable[..., Any]]
"""Makes the wrapt wrapper ``(wrapped, instance, args, kwargs) -> result`` of one target."""


class MethodPatcher:
    """Wraps ``module.Class.method`` of every target while patched; :meth:`unpatch` restores them.

    A method is wrapped only where its class defines it (``Class.__dict__``), and never twice: a
    method that already is a wrapt proxy is left alone. :meth:`unpatch` puts back the very
    objects that were replaced, so no proxy is left behind.

    Threading: :meth:`patch`, :meth:`unpatch` and the import hooks hold one (reentrant) lock, so
    they may be called from any thread, including while another thread imports a target module.
    Exceptions: :meth:`patch` and :meth:`unpatch` raise only what the wrapper factory raises;
    a failure inside an import hook goes through :data:`~infertel.handle_internal_errors` (the
    application's import goes on).

    Args:
        targets: ``(module, class, method, data)`` tuples; ``data`` is for the wrapper factory.

    Example:
        >>> import json
        >>> def factory(target):
        ...     def wrapper(wrapped, instance, args, kwargs):
        ...         return "patched " + wrapped(*args, **kwargs)
        ...     return wrapper
        >>> patcher = MethodPatcher((("json.encoder", "JSONEncoder", "encode", None),))
        >>> patcher.patch(factory)
        >>> json.encoder.JSONEncoder().encode("x")
        'patched "x"'
        >>> patcher.unpatch()
        >>> json.encoder.JSONEncoder().encode("x")
        '"x"'
    """

    def __init__(self, targets: tuple[PatchTarget, ...]) -> None:
        self._targets = targets
        self._lock = threading.RLock()
        self._factory: WrapperFactory | None = None
        self._hooked: set[PatchTarget] = set()
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

    def _on_import(self, target: PatchTarget, module: ModuleType) -> None:
        with handle_internal_errors, self._lock:
            if self._factory is not None:
                self._wrap(module, target)

    def _wrap(self, module: ModuleType, target: PatchTarget) -> None:
        factory = self._factory
        _, class_name, method, _ = target
        cls = getattr(module, class_name, None)
        original = cls.__dict__.get(method) if isinstance(cls, type) else None
        if factory is None or cls is None or original is None or isinstance(original, _PROXY):
            return
        setattr(cls, method, wrapt.FunctionWrapper(original, factory(target)))
        self._originals.append((cls, method, original))


class PatchingInstrumentor(BaseInstrumentor):
    """Base of instrumentors that wrap a library's methods through a :class:`MethodPatcher`.

    A subclass names its targets and library in the class statement and implements
    ``_instrument(**kwargs)``, which calls ``self._patcher.patch(factory)``; ``uninstrument()``
    puts the original methods back. ``BaseInstrumentor`` is a singleton whose ``__init__`` runs
    on every ``Instrumentor()``, so the patch state lives on the class: a fresh handle can still
    uninstrument.

    Class keywords (a subclass without ``targets`` inherits all four):
        targets: The :data:`PatchTarget` tuples to wrap.
        requires: Modules that must be importable for a direct ``instrument()`` call.
        instruments: The library requirements (``instrumentation_dependencies()``).
        distribution: The instrumentation's distribution, named in the ``pip install`` hint.

    Threading: as :class:`MethodPatcher`; the wrappers the factory makes may run on any thread.

    Example:
        >>> class JSONInstrumentor(
        ...     PatchingInstrumentor,
        ...     targets=(("json.encoder", "JSONEncoder", "encode", None),),
        ...     requires=("json",),
        ...     instruments=(),
        ...     distribution="my-json-instrumentation",
        ... ):
        ...     def _instrument(self, **kwargs):
        ...         self._patcher.patch(lambda target: lambda wrapped, instance, args, kw: wrapped(*args, **kw))
        >>> JSONInstrumentor().instrument()
        >>> JSONInstrumentor().uninstrument()
    """

    _patcher: ClassVar[MethodPatcher]
    _requires: ClassVar[tuple[str, ...]]
    _instruments: ClassVar[Collection[str]]
    _distribution: ClassVar[str]

    def __init_subclass__(
        cls,
        *,
        targets: tuple[PatchTarget, ...] | None = None,
        requires: tuple[str, ...] = (),
        instruments: Collection[str] = (),
        distribution: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if targets is not None:  # a subclass of a concrete instrumentor shares its patch state
            cls._patcher = MethodPatcher(targets)
            cls._requires = requires
            cls._instruments = instruments
            cls._distribution = distribution

    def instrumentation_dependencies(self) -> Collection[str]:
        """The library versions supported."""
        return self._instruments

    def instrument(self, **kwargs: Any) -> Any:
        """Patch the library (see the class docstring).

        Raises:
            ImportError: Called directly (not by ``opentelemetry-instrument``, which skips
                instrumentors whose library is absent) while the library is not installed; the
                message gives the ``pip install`` line.
        """
        if not kwargs.get("raise_exception_on_conflict"):
            for module in self._requires:
                if importlib.util.find_spec(module) is None:
                    raise ImportError(
                        f"{type(self).__name__} needs the {module} package: "
                        f"pip install '{self._distribution}[instruments]'"
                    )
        return super().instrument(**kwargs)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._patcher.unpatch()
