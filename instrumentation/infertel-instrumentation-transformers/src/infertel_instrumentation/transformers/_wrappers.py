"""wrapt wrappers of ``GenerationMixin.generate`` and ``TextGenerationPipeline.__call__``.

One INTERNAL span per user-facing call: a pipeline call gets one span and the ``generate()``
calls it makes add their tokens to it; a ``generate()`` nested in another ``generate()`` (a
model's override calling ``super()``) passes straight through.

Time to first token comes from the generation streamer hook: ``generate()`` hands the prompt to
the streamer first and then each step's new tokens, so the second ``put()`` marks the first
generated token. A streamer the user passed keeps receiving every ``put()``/``end()``.

Our code runs inside ``handle_internal_errors``; the user's exceptions propagate as the same
object after being recorded on the span.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

import infertel
from infertel import handle_internal_errors, semconv
from infertel_instrumentation.transformers import _tokens

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]

_STREAMER_ARG_INDEX = 7
"""Position of ``streamer`` in ``GenerationMixin.generate(self, inputs, generation_config, ...)`` (self excluded)."""

_active: contextvars.ContextVar[_Generation | None] = contextvars.ContextVar(
    "infertel_transformers_active", default=None
)
_in_generate: contextvars.ContextVar[bool] = contextvars.ContextVar("infertel_transformers_in_generate", default=False)


class _Generation:
    """The infertel invocation of one user-facing call, and what its generate() calls add to it."""

    def __init__(
        self,
        model: Any,
        *,
        operation: str,
        request: dict[str, Any],
        batch_size: int | None,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
        logger_provider: Any = None,
    ) -> None:
        # Everything that could fail is read before the span starts, so no span is left open.
        name = _tokens.model_name(model)
        attributes = _tokens.model_attributes(model)
        self._manager = infertel.inference(
            model=name,
            operation=operation,
            provider=semconv.GEN_AI_PROVIDER_TRANSFORMERS,
            kind="internal",
            request=request,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
        )
        self.invocation = self._manager.__enter__()
        self.invocation.set_response_model(name)
        for key, value in attributes.items():
            self.invocation.set_attribute(key, value)
        self.batch_size = batch_size
        self.input_tokens = 0
        self.output_tokens = 0
        self.inputs_known = False
        self.counted = False
        self.hooked = False
        """Whether a generate() of this call already had the timing streamer (one marks the first token)."""

    def add(self, inputs: _tokens.Inputs, output: int | None) -> None:
        """Tokens of one generate() call."""
        if inputs.rows:
            self.input_tokens += inputs.tokens
            self.inputs_known = True
        if output is not None:
            self.output_tokens += output
            self.counted = True

    def end(self, exc: BaseException | None) -> None:
        """Set the totals and end the span (same context as it started)."""
        inv = self.invocation
        if self.batch_size is not None:
            inv.set_attribute(semconv.INFERTEL_REQUEST_BATCH_SIZE, self.batch_size)
        if self.inputs_known:
            inv.set_input_tokens(self.input_tokens)
        if self.counted:
            inv.set_output_tokens(self.output_tokens)
        if exc is None:
            self._manager.__exit__(None, None, None)
        else:
            self._manager.__exit__(type(exc), exc, exc.__traceback__)


class TimingStreamer:
    """A generation streamer that marks the first generated token and forwards to the user's streamer.

    Threading: called on the thread running ``generate()``. The user's streamer's exceptions
    propagate unchanged (they are the user's); ours are handled as internal errors.
    """

    def __init__(self, generation: _Generation, inner: Any = None) -> None:
        self._generation = generation
        self._inner = inner
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        """Receive the prompt (first call) or one step's new tokens."""
        with handle_internal_errors:
            if self._prompt_seen:
                # One token per row and step: the fallback count if the exact one (from the output) fails.
                numel = getattr(value, "numel", None)
                self._generation.invocation.record_chunk(tokens=int(numel()) if numel is not None else 1)
            self._prompt_seen = True
        if self._inner is not None:
            self._inner.put(value)

    def end(self) -> None:
        """Generation finished."""
        if self._inner is not None:
            self._inner.end()


def _may_add_streamer(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
    # Beam search, continuous batching and custom decoding loops reject or ignore a streamer.
    if kwargs.get("custom_generate") is not None or kwargs.get("cache_implementation") == "paged":
        return False
    config = kwargs.get("generation_config", args[1] if len(args) > 1 else None)
    num_beams = kwargs.get("num_beams")
    if num_beams is None:
        num_beams = getattr(config, "num_beams", None)
    if num_beams is None:
        num_beams = getattr(getattr(instance, "generation_config", None), "num_beams", 1)
    return num_beams in (None, 1)


def _with_streamer(
    generation: _Generation, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    generation.hooked = True
    if len(args) > _STREAMER_ARG_INDEX:
        wrapped_args = list(args)
        wrapped_args[_STREAMER_ARG_INDEX] = TimingStreamer(generation, args[_STREAMER_ARG_INDEX])
        return tuple(wrapped_args), kwargs
    user_streamer = kwargs.get("streamer")
    if user_streamer is None and not _may_add_streamer(instance, args, kwargs):
        return args, kwargs
    return args, {**kwargs, "streamer": TimingStreamer(generation, user_streamer)}


def _batch_size(inputs: _tokens.Inputs) -> int | None:
    return inputs.rows or None


def generate_wrapper(
    tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None, logger_provider: Any = None
) -> Wrapper:
    """The wrapt wrapper of ``GenerationMixin.generate``."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if _in_generate.get():
            return wrapped(*args, **kwargs)
        generation: _Generation | None = None
        owned = False
        inputs: _tokens.Inputs | None = None
        call_args, call_kwargs = args, kwargs
        with handle_internal_errors:
            inputs = _tokens.Inputs(args, kwargs, instance)
            generation = _active.get()
            if generation is None:
                config = kwargs.get("generation_config", args[1] if len(args) > 1 else None)
                generation = _Generation(
                    instance,
                    operation=semconv.GEN_AI_OPERATION_TEXT_COMPLETION,
                    request=_tokens.request_params(kwargs, generation_config=config),
                    batch_size=_batch_size(inputs),
                    tracer_provider=tracer_provider,
                    meter_provider=meter_provider,
                    logger_provider=logger_provider,
                )
                owned = True
            if not generation.hooked:
                # Later generate() calls of a pipeline need none: the first token was already marked.
                call_args, call_kwargs = _with_streamer(generation, instance, args, kwargs)
        if generation is None or inputs is None:
            return wrapped(*args, **kwargs)
        token = _in_generate.set(True)
        try:
            result = wrapped(*call_args, **call_kwargs)
        except BaseException as exc:
            _in_generate.reset(token)
            if owned:
                with handle_internal_errors:
                    generation.end(exc)
            raise
        _in_generate.reset(token)
        with handle_internal_errors:
            try:
                eos = _tokens.eos_token_ids(instance, kwargs)
                generation.add(inputs, _tokens.output_tokens(result, inputs.prompt_length_in_output, eos))
            finally:
                # Always end (and detach) the span we started, even if counting failed.
                if owned:
                    generation.end(None)
        return result

    return wrapper


def _pipeline_batch(text_inputs: Any) -> tuple[str, int] | None:
    """(operation, number of prompts) of a pipeline input, or None for lazy inputs (generators, datasets)."""
    if isinstance(text_inputs, str):
        return semconv.GEN_AI_OPERATION_TEXT_COMPLETION, 1
    if isinstance(text_inputs, (list, tuple)) and text_inputs:
        first = text_inputs[0]
        if isinstance(first, Mapping):
            return semconv.GEN_AI_OPERATION_CHAT, 1
        if isinstance(first, str):
            return semconv.GEN_AI_OPERATION_TEXT_COMPLETION, len(text_inputs)
        if isinstance(first, (list, tuple)) or hasattr(first, "messages"):
            return semconv.GEN_AI_OPERATION_CHAT, len(text_inputs)
    if isinstance(text_inputs, Mapping) or hasattr(text_inputs, "messages"):
        return semconv.GEN_AI_OPERATION_CHAT, 1
    return None


def pipeline_wrapper(
    tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None, logger_provider: Any = None
) -> Wrapper:
    """The wrapt wrapper of ``TextGenerationPipeline.__call__``."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if _active.get() is not None or _in_generate.get():
            return wrapped(*args, **kwargs)
        generation: _Generation | None = None
        with handle_internal_errors:
            text_inputs = args[0] if args else kwargs.get("text_inputs")
            shape = _pipeline_batch(text_inputs)
            if shape is not None:
                operation, batch_size = shape
                generate_kwargs = kwargs.get("generate_kwargs")
                generation = _Generation(
                    getattr(instance, "model", instance),
                    operation=operation,
                    request=_tokens.request_params(
                        kwargs, generate_kwargs if isinstance(generate_kwargs, Mapping) else None
                    ),
                    batch_size=batch_size,
                    tracer_provider=tracer_provider,
                    meter_provider=meter_provider,
                    logger_provider=logger_provider,
                )
        if generation is None:
            return wrapped(*args, **kwargs)
        token = _active.set(generation)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _active.reset(token)
            with handle_internal_errors:
                generation.end(exc)
            raise
        _active.reset(token)
        with handle_internal_errors:
            generation.end(None)
        return result

    return wrapper
