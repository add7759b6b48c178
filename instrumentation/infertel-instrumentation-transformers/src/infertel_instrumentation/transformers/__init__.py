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

from typing import Any

from infertel.instrumentation import PatchingInstrumentor, PatchTarget
from infertel_instrumentation.transformers._wrappers import generate_wrapper, pipeline_wrapper
from infertel_instrumentation.transformers.package import _instruments

__all__ = ["TransformersInstrumentor"]

# (module, class, method, wrapper factory)
_TARGETS: tuple[PatchTarget, ...] = (
    ("transformers.generation.utils", "GenerationMixin", "generate", generate_wrapper),
    ("transformers.pipelines.text_generation", "TextGenerationPipeline", "__call__", pipeline_wrapper),
)


class TransformersInstrumentor(
    PatchingInstrumentor,
    targets=_TARGETS,
    requires=("torch", "transformers"),
    instruments=_instruments,
    distribution="infertel-instrumentation-transformers",
):
    """Instruments ``transformers`` generation (``transformers >= 4.40`` with ``torch >= 2.1``).

    ``instrument()`` accepts ``tracer_provider=``, ``meter_provider=`` and ``logger_provider=`` (for
    the ``gen_ai.client.operation.exception`` events); without them the providers of
    :func:`infertel.configure` (or the global ones) are used at each call. It does
    not import transformers: the methods are wrapped when the application imports their module.
    ``uninstrument()`` puts the original methods back on the classes. A direct ``instrument()``
    call raises ``ImportError`` (with the ``pip install`` line) when torch or transformers is not
    installed.

    Threading: instrumented calls may run on any thread; each call's span is current on the
    thread running it.

    Example:
        >>> TransformersInstrumentor().instrument()  # doctest: +SKIP
        >>> model.generate(input_ids, max_new_tokens=8)  # doctest: +SKIP
    """

    def _instrument(self, **kwargs: Any) -> None:
        tracer_provider = kwargs.get("tracer_provider")
        meter_provider = kwargs.get("meter_provider")
        logger_provider = kwargs.get("logger_provider")
        self._patcher.patch(lambda target: target[3](tracer_provider, meter_provider, logger_provider))
