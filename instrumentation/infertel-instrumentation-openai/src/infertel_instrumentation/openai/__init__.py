"""infertel instrumentation of the ``openai`` client: GenAI CLIENT spans and ``gen_ai.client.*`` metrics.

Patches ``chat.completions.create``, ``completions.create`` and ``embeddings.create`` of the
sync and async clients. Each call becomes one CLIENT span named ``"{operation} {model}"`` made
by :func:`infertel.inference` (so spans and metrics follow the core's rules, content capture
included), with ``server.address``/``server.port`` from the client's ``base_url``. Streams are
returned behind a transparent proxy that records the time to first chunk and ends the span once.
The span's W3C trace context is sent with the request, so an instrumented server joins the trace.

Example:
    >>> from infertel_instrumentation.openai import OpenAIInstrumentor
    >>> OpenAIInstrumentor().instrument()  # doctest: +SKIP
    >>> # ... openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[...])
    >>> OpenAIInstrumentor().uninstrument()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from infertel import semconv
from infertel.instrumentation import PatchingInstrumentor, PatchTarget
from infertel_instrumentation.openai._wrappers import async_wrapper, sync_wrapper
from infertel_instrumentation.openai.package import _instruments

__all__ = ["OpenAIInstrumentor"]

# (module, class, method, (GenAI operation, is async))
_TARGETS: tuple[PatchTarget, ...] = (
    ("openai.resources.chat.completions", "Completions", "create", (semconv.GEN_AI_OPERATION_CHAT, False)),
    ("openai.resources.chat.completions", "AsyncCompletions", "create", (semconv.GEN_AI_OPERATION_CHAT, True)),
    ("openai.resources.completions", "Completions", "create", (semconv.GEN_AI_OPERATION_TEXT_COMPLETION, False)),
    ("openai.resources.completions", "AsyncCompletions", "create", (semconv.GEN_AI_OPERATION_TEXT_COMPLETION, True)),
    ("openai.resources.embeddings", "Embeddings", "create", (semconv.GEN_AI_OPERATION_EMBEDDINGS, False)),
    ("openai.resources.embeddings", "AsyncEmbeddings", "create", (semconv.GEN_AI_OPERATION_EMBEDDINGS, True)),
)


class OpenAIInstrumentor(
    PatchingInstrumentor,
    targets=_TARGETS,
    requires=("openai",),
    instruments=_instruments,
    distribution="infertel-instrumentation-openai",
):
    """Instruments the ``openai`` client (``openai >= 1.40``).

    ``instrument()`` accepts ``tracer_provider=``, ``meter_provider=`` and ``logger_provider=`` (for
    the ``gen_ai.client.operation.exception`` events); without them the providers of
    :func:`infertel.configure` (or the global ones) are used at each call. It does
    not import openai: the methods are wrapped when the application imports the client.
    ``uninstrument()`` puts the original methods back on the classes. A direct ``instrument()``
    call raises ``ImportError`` (with the ``pip install`` line) when openai is not installed.

    Threading: the patched methods may be called from any thread or task; a returned stream may
    be consumed in another thread or task than the one that created it.

    Example:
        >>> import openai
        >>> OpenAIInstrumentor().instrument()  # doctest: +SKIP
        >>> client = openai.OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="-")  # doctest: +SKIP
        >>> client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])  # doctest: +SKIP
    """

    def _instrument(self, **kwargs: Any) -> None:
        tracer_provider = kwargs.get("tracer_provider")
        meter_provider = kwargs.get("meter_provider")
        logger_provider = kwargs.get("logger_provider")

        def make(target: PatchTarget) -> Any:
            operation, is_async = target[3]
            factory = async_wrapper if is_async else sync_wrapper
            return factory(operation, tracer_provider, meter_provider, logger_provider)

        self._patcher.patch(make)
