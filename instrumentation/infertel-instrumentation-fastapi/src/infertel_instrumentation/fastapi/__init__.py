"""GenAI server metrics for OpenAI-compatible FastAPI inference servers.

On top of ``opentelemetry-instrumentation-fastapi``'s server spans, the OpenAI-compatible
routes (``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings`` by default) get
``gen_ai.server.request.duration`` and, for streamed (SSE) responses,
``gen_ai.server.time_to_first_token`` and ``gen_ai.server.time_per_output_token``, measured
when the chunks leave the server, plus ``gen_ai.*`` attributes on the server span.

Under ``opentelemetry-instrument`` it is loaded through the ``opentelemetry_instrumentor``
entry point ``infertel_fastapi`` (disable it with
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=infertel_fastapi``); the routes come from
``INFERTEL_FASTAPI_ROUTES``.

Example:
    >>> from fastapi import FastAPI
    >>> from infertel_instrumentation.fastapi import InfertelFastAPIInstrumentor
    >>> app = FastAPI()
    >>> InfertelFastAPIInstrumentor.instrument_app(app)  # server spans + GenAI server metrics
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from infertel import handle_internal_errors
from infertel.environment_variables import INFERTEL_FASTAPI_ROUTES
from infertel.instrumentation import MethodPatcher
from infertel_instrumentation.fastapi._middleware import (
    DEFAULT_ROUTES,
    GenAIServerMiddleware,
    operation_for_path,
    parse_routes,
)
from infertel_instrumentation.fastapi.package import _instruments

__all__ = ["DEFAULT_ROUTES", "GenAIServerMiddleware", "InfertelFastAPIInstrumentor", "operation_for_path"]

_logger = logging.getLogger(__name__)

_APP_STATE = "_infertel_genai_server"
_BUILD_MIDDLEWARE_STACK = (("fastapi.applications", "FastAPI", "build_middleware_stack", None),)


class _Switch:
    """Whether middleware already built into an application stack still measures."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = True

    def __call__(self) -> bool:
        return self.on


class _AppState:
    __slots__ = ("switch", "instrumented_server_spans")

    def __init__(self, switch: _Switch, instrumented_server_spans: bool) -> None:
        self.switch = switch
        self.instrumented_server_spans = instrumented_server_spans


def _insert_middleware(stack: Any, switch: _Switch, options: Mapping[str, Any]) -> Any:
    """Put a :class:`GenAIServerMiddleware` just inside Starlette's outermost ``ServerErrorMiddleware``.

    That keeps the stack's outermost type unchanged (``opentelemetry-instrumentation-fastapi``
    relies on it) and places our middleware inside the OpenTelemetry server span.
    """
    inner = getattr(stack, "app", None)
    if inner is not None and type(stack).__name__ == "ServerErrorMiddleware":
        stack.app = GenAIServerMiddleware(inner, is_enabled=switch, **options)
        return stack
    return GenAIServerMiddleware(stack, is_enabled=switch, **options)


class InfertelFastAPIInstrumentor(BaseInstrumentor):
    """Instruments FastAPI applications' OpenAI-compatible routes with GenAI server metrics.

    ``instrument()`` patches ``fastapi.FastAPI.build_middleware_stack`` (with wrapt, when
    ``fastapi.applications`` is imported) so every application gets
    :class:`GenAIServerMiddleware`; ``uninstrument()`` removes the patch and
    makes the applications it reached rebuild their stacks without it. Server spans themselves
    come from ``opentelemetry-instrumentation-fastapi`` (loaded next to this one by
    ``opentelemetry-instrument``, or by :meth:`instrument_app`).

    Keyword arguments of ``instrument()``:
        routes: Paths to measure: a mapping ``{path: operation}``, a sequence of paths, or
            ``"path[=operation],..."``; default ``INFERTEL_FASTAPI_ROUTES`` or
            :data:`DEFAULT_ROUTES`.
        meter_provider: Where the metrics go (default: infertel's configured provider).
        provider: ``gen_ai.provider.name`` to report.

    Example:
        >>> from fastapi import FastAPI
        >>> InfertelFastAPIInstrumentor().instrument()  # doctest: +SKIP
        >>> app = FastAPI()                               # measured
    """

    _switch: _Switch | None = None
    _apps: weakref.WeakSet[Any] = weakref.WeakSet()
    _patcher = MethodPatcher(_BUILD_MIDDLEWARE_STACK)

    def instrumentation_dependencies(self) -> Collection[str]:
        """The library versions this instrumentation applies to."""
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        options = _options(kwargs)
        switch = _Switch()
        type(self)._switch = switch
        apps = type(self)._apps

        def build_middleware_stack(wrapped: Any, instance: Any, args: Any, kw: Any) -> Any:
            stack = wrapped(*args, **kw)
            if not switch.on:
                return stack
            with handle_internal_errors:
                if getattr(instance, _APP_STATE, None) is None:  # instrument_app() apps have their own
                    stack = _insert_middleware(stack, switch, options)
                    apps.add(instance)
            return stack

        self._patcher.patch(lambda target: build_middleware_stack)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._patcher.unpatch()
        cls = type(self)
        if cls._switch is not None:
            cls._switch.on = False
            cls._switch = None
        for app in list(cls._apps):
            app.middleware_stack = None  # Starlette rebuilds it, without us, on the next request
        cls._apps.clear()

    @staticmethod
    def instrument_app(
        app: Any,
        *,
        routes: str | Sequence[str] | Mapping[str, str] | None = None,
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
        provider: str | None = None,
        server_spans: bool = True,
        shedder: Any = None,
        **fastapi_kwargs: Any,
    ) -> None:
        """Instrument one application: server spans and GenAI server metrics.

        Args:
            app: The ``FastAPI`` application.
            routes: Paths to measure (see the class docstring).
            meter_provider: Where the metrics go (also given to the server-span instrumentation).
            tracer_provider: Given to ``opentelemetry-instrumentation-fastapi``.
            provider: ``gen_ai.provider.name`` to report.
            shedder: The load-shedding switch the measured routes honour (default
                ``infertel.health.load_shedder``, which the ``shed_load`` remediation drives).
            server_spans: Also apply ``FastAPIInstrumentor.instrument_app`` (server spans and HTTP
                metrics) unless the application already has it.
            **fastapi_kwargs: Passed on to ``FastAPIInstrumentor.instrument_app``.

        Raises:
            ValueError: ``routes`` is malformed.

        Example:
            >>> InfertelFastAPIInstrumentor.instrument_app(app, routes=["/v1/chat/completions"])  # doctest: +SKIP
        """
        if getattr(app, _APP_STATE, None) is not None:
            _logger.warning("FastAPI application already instrumented by infertel; ignoring the second call")
            return
        options = _options(
            {"routes": routes, "meter_provider": meter_provider, "provider": provider, "shedder": shedder}
        )
        switch = _Switch()

        def build_middleware_stack(wrapped: Any, instance: Any, args: Any, kw: Any) -> Any:
            stack = wrapped(*args, **kw)
            if not switch.on:
                return stack
            with handle_internal_errors:
                stack = _insert_middleware(stack, switch, options)
            return stack

        app.build_middleware_stack = wrapt.FunctionWrapper(app.build_middleware_stack, build_middleware_stack)
        instrument_spans = server_spans and not getattr(app, "_is_instrumented_by_opentelemetry", False)
        setattr(app, _APP_STATE, _AppState(switch, instrument_spans))
        if instrument_spans:
            from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

            FastAPIInstrumentor.instrument_app(
                app, tracer_provider=tracer_provider, meter_provider=meter_provider, **fastapi_kwargs
            )
        app.middleware_stack = None

    @staticmethod
    def uninstrument_app(app: Any) -> None:
        """Undo :meth:`instrument_app` (and the server spans it added).

        Example:
            >>> InfertelFastAPIInstrumentor.uninstrument_app(app)  # doctest: +SKIP
        """
        state = getattr(app, _APP_STATE, None)
        if state is None:
            return
        state.switch.on = False
        if state.instrumented_server_spans:
            from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

            FastAPIInstrumentor.uninstrument_app(app)
        if isinstance(app.__dict__.get("build_middleware_stack"), wrapt.FunctionWrapper):
            del app.build_middleware_stack
        delattr(app, _APP_STATE)
        app.middleware_stack = None


def _options(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    routes = kwargs.get("routes")
    setting = "routes"
    if routes is None and os.environ.get(INFERTEL_FASTAPI_ROUTES):
        routes, setting = os.environ[INFERTEL_FASTAPI_ROUTES], INFERTEL_FASTAPI_ROUTES
    return {
        "routes": parse_routes(routes, setting=setting),
        "meter_provider": kwargs.get("meter_provider"),
        "provider": kwargs.get("provider"),
        "shedder": kwargs.get("shedder"),
    }
