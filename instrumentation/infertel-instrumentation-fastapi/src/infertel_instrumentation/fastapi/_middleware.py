"""The ASGI middleware that measures OpenAI-compatible routes on the server.

It sits inside ``opentelemetry-instrumentation-fastapi``'s ``OpenTelemetryMiddleware`` (so the
server span is the current span) and wraps ``receive`` and ``send``: the request body is read
as it passes (the model), each response body message is timed right after the server accepted
it (time to first token, time per output token), and the response's ``usage`` or its SSE chunks
give the token counts. Nothing is buffered on the application's behalf and no message is
changed, delayed or replayed.

At the ASGI lifespan shutdown it calls ``infertel.force_flush()`` before passing the
application's ``lifespan.shutdown.complete`` on: a uvicorn worker under gunicorn ends right after
by a re-raised SIGTERM with the default action, which no exit flush survives.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import Span, Status, StatusCode

import infertel
from infertel import handle_internal_errors, semconv
from infertel_instrumentation.fastapi._exchange import Exchange

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_ROUTES: Mapping[str, str] = {
    "/v1/chat/completions": semconv.GEN_AI_OPERATION_CHAT,
    "/v1/completions": semconv.GEN_AI_OPERATION_TEXT_COMPLETION,
    "/v1/embeddings": semconv.GEN_AI_OPERATION_EMBEDDINGS,
}
"""OpenAI-compatible routes measured by default, with their ``gen_ai.operation.name``."""

CLIENT_DISCONNECTED = semconv.STREAM_END_CLIENT_DISCONNECTED
"""``error.type`` and ``infertel.stream.end_reason`` of a request the client abandoned."""

LIFESPAN_FLUSH_MILLIS = 5_000
"""Time budget of the flush at the ASGI ``lifespan.shutdown`` (as infertel's flush on SIGTERM)."""

_LIFESPAN_SHUTDOWN_DONE = frozenset({"lifespan.shutdown.complete", "lifespan.shutdown.failed"})

_REQUEST_ATTRIBUTES = {
    "max_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "seed": semconv.GEN_AI_REQUEST_SEED,
}


def operation_for_path(path: str) -> str:
    """The ``gen_ai.operation.name`` a route path implies (``chat`` when nothing matches).

    Example:
        >>> operation_for_path("/openai/v1/embeddings")
        'embeddings'
    """
    path = path.rstrip("/")
    if path.endswith("/chat/completions"):
        return semconv.GEN_AI_OPERATION_CHAT
    if path.endswith("/completions"):
        return semconv.GEN_AI_OPERATION_TEXT_COMPLETION
    if path.endswith("/embeddings"):
        return semconv.GEN_AI_OPERATION_EMBEDDINGS
    return semconv.GEN_AI_OPERATION_CHAT


def parse_routes(routes: str | Sequence[str] | Mapping[str, str] | None, *, setting: str = "routes") -> dict[str, str]:
    """Normalise the ``routes`` option into ``{path: operation}``.

    Accepts a mapping, a sequence of paths, or a comma-separated string of ``path`` or
    ``path=operation`` items (the form of ``INFERTEL_FASTAPI_ROUTES``). ``None`` means
    :data:`DEFAULT_ROUTES`.

    Raises:
        ValueError: A path does not start with ``/`` (the message names ``setting``).

    Example:
        >>> parse_routes("/v1/chat/completions,/generate=text_completion")
        {'/v1/chat/completions': 'chat', '/generate': 'text_completion'}
    """
    if routes is None:
        return dict(DEFAULT_ROUTES)
    items: list[tuple[str, str | None]] = []
    if isinstance(routes, Mapping):
        items = [(str(path), str(operation)) for path, operation in routes.items()]
    else:
        raw = routes.split(",") if isinstance(routes, str) else list(routes)
        for item in raw:
            item_path, _, item_operation = str(item).strip().partition("=")
            items.append((item_path.strip(), item_operation.strip() or None))
    out: dict[str, str] = {}
    for path, operation in items:
        if not path.startswith("/"):
            raise ValueError(
                f"{setting}: {path!r} is not a route path; expected paths starting with '/' "
                "(e.g. '/v1/chat/completions' or '/generate=text_completion')"
            )
        normalised = path.rstrip("/") or "/"
        out[normalised] = operation or operation_for_path(normalised)
    return out


class GenAIServerMiddleware:
    """Records GenAI server metrics and span attributes for OpenAI-compatible routes.

    Threading and exceptions: one instance per application; each request gets its own
    :class:`Exchange`. infertel's own code runs inside ``handle_internal_errors``; the
    application's exceptions propagate unchanged (same object) after being noted.

    Args:
        app: The ASGI application to wrap.
        routes: ``{path: operation}`` of the measured routes.
        meter_provider: Where metrics go; ``None`` for infertel's configured/global provider.
        provider: ``gen_ai.provider.name`` to report, if any.
        is_enabled: Called per request; when it returns false the request passes straight
            through (lets ``uninstrument()`` switch off stacks that are already built).
        shedder: The load-shedding switch (default ``infertel.health.load_shedder``): while it is
            active the measured routes answer 503 with ``Retry-After`` before the application
            sees the request (not counted as inference requests or errors).

    Example:
        >>> app = GenAIServerMiddleware(app, routes=parse_routes(None))  # doctest: +SKIP
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Mapping[str, str],
        meter_provider: MeterProvider | None = None,
        provider: str | None = None,
        is_enabled: Callable[[], bool] | None = None,
        shedder: Any = None,
    ) -> None:
        if shedder is None:
            from infertel.health import load_shedder as shedder
        self.shedder = shedder
        self.app = app
        self.routes = dict(routes)
        self.meter_provider = meter_provider
        self.provider = provider
        self.is_enabled = is_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        exchange: Exchange | None = None
        with handle_internal_errors:
            exchange = self._start(scope)
        if exchange is None:
            await self.app(scope, receive, send)
            return
        if self.shedder.active:
            await _shed(self.shedder, send)
            return
        span = trace.get_current_span()

        async def observed_receive() -> Message:
            message = await receive()
            with handle_internal_errors:
                kind = message.get("type")
                if kind == "http.request":
                    exchange.on_request_body(message.get("body", b""), bool(message.get("more_body", False)))
                elif kind == "http.disconnect":
                    exchange.on_disconnect()
            return message

        async def observed_send(message: Message) -> None:
            kind = message.get("type")
            final = False
            with handle_internal_errors:
                if kind == "http.response.start":
                    exchange.on_response_start(int(message.get("status", 0)), message.get("headers"))
                elif kind == "http.response.body" and not message.get("more_body", False):
                    # The server span ends as soon as the final body message is sent, so the span
                    # is annotated now; the final message is timed when it is handed over.
                    final = exchange.completing = True
                    now = time.perf_counter_ns()
                    exchange.on_response_body(message.get("body", b""), now)
                    exchange.on_response_complete(now)
                    self._annotate(exchange, span)
            try:
                await send(message)
            except OSError:
                # The server could not write: the client is gone (ASGI spec >= 2.4 servers).
                with handle_internal_errors:
                    exchange.on_disconnect()
                raise
            if kind == "http.response.body":
                now = time.perf_counter_ns()
                with handle_internal_errors:
                    if final:
                        exchange.end_ns = now
                    else:
                        exchange.on_response_body(message.get("body", b""), now)

        try:
            # This layer records the request's GenAI server metrics; a model call inside the
            # handler (@infertel.observe, infertel.inference) keeps its span but must not count
            # the same request again.
            with infertel.suppress_inference_metrics():
                await self.app(scope, observed_receive, observed_send)
        except Exception as exc:
            with handle_internal_errors:
                if exchange.error_type is None and not exchange.disconnected:
                    exchange.error_type = type(exc).__qualname__
            raise
        except BaseException:
            # Cancelled (the server gave up on the request) or interpreter exit: not completed.
            with handle_internal_errors:
                if not exchange.completed:
                    exchange.disconnected = True
            raise
        finally:
            with handle_internal_errors:
                self._finish(exchange, span)

    def _lifespan_send(self, send: Send) -> Send:
        """``send`` of the lifespan scope: flush infertel once the application's shutdown has run.

        uvicorn ends its workers under gunicorn by a re-raised SIGTERM whose action is the default
        one, right after the lifespan shutdown: neither ``atexit`` nor infertel's SIGTERM flush runs
        then, so what the worker recorded since the last export (the spans of its last requests,
        the metrics of the last interval) is exported here, before the server hears the shutdown
        is complete. Bounded by :data:`LIFESPAN_FLUSH_MILLIS`; blocks the event loop meanwhile
        (every connection is closed by then).
        """

        async def lifespan_send(message: Message) -> None:
            if message.get("type") in _LIFESPAN_SHUTDOWN_DONE and (self.is_enabled is None or self.is_enabled()):
                with handle_internal_errors:
                    infertel.force_flush(timeout_millis=LIFESPAN_FLUSH_MILLIS)
            await send(message)

        return lifespan_send

    def _start(self, scope: Scope) -> Exchange | None:
        if scope.get("type") != "http" or (self.is_enabled is not None and not self.is_enabled()):
            return None
        path = scope.get("path", "")
        operation = self.routes.get(path.rstrip("/") or "/")
        if operation is None:
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                operation = self.routes.get(path[len(root) :].rstrip("/") or "/")
            if operation is None:
                return None
        exchange = Exchange(operation, time.perf_counter_ns())
        server = scope.get("server")
        if server and len(server) == 2 and server[1] is not None:
            exchange.server_address, exchange.server_port = str(server[0]), int(server[1])
        return exchange

    def _annotate(self, exchange: Exchange, span: Span) -> None:
        """Set the ``gen_ai.*`` attributes on the server span, once, while it is still open."""
        if exchange.annotated or not span.is_recording():
            return
        exchange.annotated = True
        error_type = _error_type(exchange)
        ttft, tpot = _stream_timings(exchange, error_type)
        model = exchange.model or exchange.response_model
        _set_span_attributes(span, exchange, model, exchange.total_output_tokens, ttft, tpot, error_type, self.provider)

    def _finish(self, exchange: Exchange, span: Span) -> None:
        if exchange.end_ns is None or not exchange.completed:
            exchange.end_ns = time.perf_counter_ns()
        self._annotate(exchange, span)  # error and disconnect paths: the span is still open
        # A request whose model could not be read (a malformed body, say) still counts, without
        # gen_ai.request.model (required only when available): its error belongs in the error rate.
        model = exchange.model or exchange.response_model
        error_type = _error_type(exchange)
        ttft, tpot = _stream_timings(exchange, error_type)
        infertel.record_metrics(
            model=model,
            operation=exchange.operation,
            kind="internal",
            provider=self.provider,
            duration_s=max(exchange.end_ns - exchange.start_ns, 0) / 1e9,
            input_tokens=exchange.input_tokens,
            output_tokens=exchange.total_output_tokens,
            time_to_first_token_s=ttft,
            time_per_output_token_s=tpot,
            error_type=error_type,
            server_address=exchange.server_address,
            server_port=exchange.server_port,
            response_model=exchange.response_model,
            meter_provider=self.meter_provider,
        )


_SHED_BODY = b'{"error":{"message":"The server is shedding load; retry later.","type":"overloaded","code":503}}'


async def _shed(shedder: Any, send: Send) -> None:
    """Refuse a request while load shedding is active: 503, ``Retry-After``, an OpenAI-style error body."""
    shedder.rejected += 1
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_SHED_BODY)).encode()),
        (b"retry-after", shedder.retry_after_header),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _SHED_BODY})


def _error_type(exchange: Exchange) -> str | None:
    if exchange.disconnected:
        return CLIENT_DISCONNECTED
    if exchange.error_type is None and exchange.status is not None and exchange.status >= 500:
        return str(exchange.status)
    return exchange.error_type


def _stream_timings(exchange: Exchange, error_type: str | None) -> tuple[float | None, float | None]:
    # The semantic conventions define both stream timings for successful responses only.
    if error_type is not None:
        return None, None
    return exchange.time_to_first_token_s(), exchange.time_per_output_token_s()


def _set_span_attributes(
    span: Span,
    exchange: Exchange,
    model: str | None,
    output_tokens: int | None,
    ttft: float | None,
    tpot: float | None,
    error_type: str | None,
    provider: str | None,
) -> None:
    attributes: dict[str, Any] = {semconv.GEN_AI_OPERATION_NAME: exchange.operation}
    if model is not None:
        attributes[semconv.GEN_AI_REQUEST_MODEL] = model
    if provider is not None:
        attributes[semconv.GEN_AI_PROVIDER_NAME] = provider
    for name, value in exchange.request_params.items():
        attributes[_REQUEST_ATTRIBUTES[name]] = value
    if exchange.response_model is not None:
        attributes[semconv.GEN_AI_RESPONSE_MODEL] = exchange.response_model
    if exchange.response_id is not None:
        attributes[semconv.GEN_AI_RESPONSE_ID] = exchange.response_id
    if exchange.finish_reasons:
        attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = tuple(exchange.finish_reasons)
    if exchange.input_tokens is not None:
        attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] = exchange.input_tokens
    if output_tokens is not None:
        attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = output_tokens
    if exchange.streaming:
        attributes[semconv.GEN_AI_REQUEST_STREAM] = True
        attributes[semconv.INFERTEL_STREAM_CHUNKS] = exchange.chunks
        if exchange.disconnected:
            attributes[semconv.INFERTEL_STREAM_END_REASON] = CLIENT_DISCONNECTED
        elif error_type is not None:
            attributes[semconv.INFERTEL_STREAM_END_REASON] = semconv.STREAM_END_ERROR
        elif exchange.completed:
            attributes[semconv.INFERTEL_STREAM_END_REASON] = semconv.STREAM_END_EXHAUSTED
        if ttft is not None:
            attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttft
        if tpot is not None:
            attributes[semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN] = tpot
    if error_type is not None:
        attributes[semconv.ERROR_TYPE] = error_type
    span.set_attributes(attributes)
    if exchange.disconnected:
        span.set_status(Status(StatusCode.ERROR, "client disconnected before the response completed"))
