"""infertel instrumentation of Hugging Face ``transformers``: INTERNAL spans for in-process generation.

Patches ``GenerationMixin.generate`` and ``TextGenerationPipeline.__call__`` (the pipeline of
``pipeline("text-generation")``). Each user-facing call becomes one INTERNAL span named
``"{operation} {model}"`` made by :func:`infertel.inference` (so the ``gen_ai.server.*``
metrics follow), with input and output token counts computed from the tensors, time to first
token measured through the generation streamer hook, the model's device and dtype
(``infertel.model.device``, ``infertel.model.dtype``) and the batch size
(``infertel.request.batch_size``).

Example:
    >>> from infertel_instrumentation.transformers import TransformersInstrumentor
    >>> TransformersInstrumentor().instrument()  # doctest: +SKIP
    >>> # ... model.generate(**tokenizer("Hello", return_tensors="pt"), max_new_tokens=16)
    >>> TransformersInstrumentor().uninstrument()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from infertel_instrumentation.transformers._patching import Patcher, Target
from infertel_instrumentation.transformers._wrappers import generate_wrapper, pipeline_wrapper
from infertel_instrumentation.transformers.package import _instruments

__all__ = ["TransformersInstrumentor"]

_REQUIRED_MODULES = ("torch", "transformers")

# (module, class, method, wrapper factory)
_TARGETS: tuple[Target, ...] = (
    ("transformers.generation.utils", "GenerationMixin", "generate", generate_wrapper),
    ("transformers.pipelines.text_generation", "TextGenerationPipeline", "__call__", pipeline_wrapper),
)


class TransformersInstrumentor(BaseInstrumentor):
    """Instruments ``transformers`` generation (``transformers >= 4.40`` with ``torch >= 2.1``).

    ``instrument()`` accepts ``tracer_provider=`` and ``meter_provider=``; without them the
    providers of :func:`infertel.configure` (or the global ones) are used at each call. It does
    not import transformers: the methods are wrapped when the application imports their module.
    ``uninstrument()`` puts the original methods back on the classes.

    Threading: instrumented calls may run on any thread; each call's span is current on the
    thread running it.

    Example:
        >>> TransformersInstrumentor().instrument()  # doctest: +SKIP
        >>> model.generate(input_ids, max_new_tokens=8)  # doctest: +SKIP
    """

    # BaseInstrumentor is a singleton whose __init__ runs on every ``TransformersInstrumentor()``:
    # the patch state lives on the class so a fresh handle can still uninstrument.
    _patcher = Patcher(_TARGETS)

    def instrumentation_dependencies(self) -> Collection[str]:
        """The ``transformers`` and ``torch`` versions supported."""
        return _instruments

    def instrument(self, **kwargs: Any) -> Any:
        """Patch the library (see :class:`TransformersInstrumentor`).

        Raises:
            ImportError: Called directly (not by ``opentelemetry-instrument``, which skips
                instrumentors whose library is absent) while the library is not installed; the
                message gives the ``pip install`` line.
        """
        if not kwargs.get("raise_exception_on_conflict"):
            for module in _REQUIRED_MODULES:
                if importlib.util.find_spec(module) is None:
                    raise ImportError(
                        f"TransformersInstrumentor needs the {module} package: "
                        "pip install 'infertel-instrumentation-transformers[instruments]'"
                    )
        return super().instrument(**kwargs)

    def _instrument(self, **kwargs: Any) -> None:
        tracer_provider = kwargs.get("tracer_provider")
        meter_provider = kwargs.get("meter_provider")
        self._patcher.patch(lambda target: target[3](tracer_provider, meter_provider))

    def _uninstrument(self, **kwargs: Any) -> None:
        self._patcher.unpatch()
