"""What a call's result or streamed chunks tell: token counts, response model and id, finish reasons, output text.

:class:`ResponseReader` is the part of :class:`~infertel._internal.instrument.invocation.Inference`
that reads them; its methods run on the user's thread, under ``handle_internal_errors`` held by
the caller. Counts have a priority (:mod:`~infertel._internal.instrument.tokens`): a count from a
higher source is never overwritten by one from a lower source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infertel._internal.errors import call_user_callback
from infertel._internal.instrument import tokens

if TYPE_CHECKING:
    from infertel._internal.instrument.site import Site


class ResponseReader:
    """Token counts, response model and id, finish reasons and output text of one call, and how they are read.

    The base of :class:`~infertel._internal.instrument.invocation.Inference`, which sets these
    slots in its ``__init__``.
    """

    __slots__ = (
        "_counted",
        "_input",
        "_input_priority",
        "_output",
        "_output_priority",
        "_response_model",
        "_response_id",
        "_finish_reasons",
        "_text",
        "_text_left",
    )

    _site: Site  # Inference's slot (read only here)
    _input: int | None
    _input_priority: int
    _output: int | None
    _output_priority: int
    _counted: int
    _response_model: str | None
    _response_id: str | None
    _finish_reasons: list[str] | None
    _text: list[str] | None
    _text_left: int

    def _set_input(self, value: int | None, priority: int) -> None:
        if value is not None and priority >= self._input_priority:
            self._input, self._input_priority = value, priority

    def _set_output(self, value: int | None, priority: int) -> None:
        if value is not None and priority >= self._output_priority:
            self._output, self._output_priority = value, priority

    def _chunk_slow(self, chunk: Any) -> None:
        prompt, completion, counted = tokens.chunk_usage(chunk)
        self._counted += counted
        if prompt is not None:
            self._set_input(tokens.valid_count(prompt, "input"), tokens.PRIORITY_BUILTIN)
        if completion is not None:
            self._set_output(tokens.valid_count(completion, "output"), tokens.PRIORITY_BUILTIN)
        if self._response_model is None:
            model = getattr(chunk, "model", None) if not isinstance(chunk, dict) else chunk.get("model")
            if isinstance(model, str) and model:
                self._response_model = model

    def _keep_text(self, chunk: Any) -> None:
        text = tokens.chunk_text(chunk)
        if text and self._text_left > 0 and self._text is not None:
            text = text[: self._text_left]
            self._text_left -= len(text)
            self._text.append(text)

    def _apply_usage(self, usage: Any) -> None:
        if usage is None:
            return
        prompt, completion = tokens.usage_counts(usage)
        if prompt is None and completion is None:
            prompt, completion = tokens.usage_counts(
                getattr(usage, "usage", None) or (usage.get("usage") if isinstance(usage, dict) else None)
            )
        if prompt is not None:
            self._set_input(tokens.valid_count(prompt, "input"), tokens.PRIORITY_EXTRACTOR)
        if completion is not None:
            self._set_output(tokens.valid_count(completion, "output"), tokens.PRIORITY_EXTRACTOR)

    def _on_result(self, result: Any) -> None:
        """Extract usage and response metadata from a non-streamed result."""
        if self._site.usage is not None:
            self._apply_usage(call_user_callback(self._site.usage, result, default=None, what="usage= extractor"))
        if type(result) is dict and self._text is None and self._fast_result(result):
            return
        found = tokens.extract(result)
        if found is not None:
            if found.input_tokens is not None:
                self._set_input(tokens.valid_count(found.input_tokens, "input"), tokens.PRIORITY_BUILTIN)
            if found.output_tokens is not None:
                self._set_output(tokens.valid_count(found.output_tokens, "output"), tokens.PRIORITY_BUILTIN)
            if self._response_model is None:
                self._response_model = found.response_model
            if self._response_id is None:
                self._response_id = found.response_id
            if self._finish_reasons is None:
                self._finish_reasons = found.finish_reasons
        if self._text is not None:
            text = result if isinstance(result, str) else (found.text if found is not None else None)
            if text:
                self._text.append(text)

    def _fast_result(self, result: dict[str, Any]) -> bool:
        """The common OpenAI-style dict with int counts, without the general machinery; False: not handled."""
        usage = result.get("usage")
        if type(usage) is not dict or result.get("choices"):
            return False
        prompt = usage.get("prompt_tokens")
        if prompt is None:
            prompt = usage.get("input_tokens")
        completion = usage.get("completion_tokens")
        if completion is None:
            completion = usage.get("output_tokens")
        if (prompt is not None and type(prompt) is not int) or (completion is not None and type(completion) is not int):
            return False
        builtin = tokens.PRIORITY_BUILTIN
        if prompt is not None and prompt >= 0 and builtin >= self._input_priority:
            self._input, self._input_priority = prompt, builtin
        elif prompt is not None and prompt < 0:
            tokens.valid_count(prompt, "input")  # the rate-limited warning
        if completion is not None and completion >= 0 and builtin >= self._output_priority:
            self._output, self._output_priority = completion, builtin
        elif completion is not None and completion < 0:
            tokens.valid_count(completion, "output")
        model = result.get("model")
        if self._response_model is None and type(model) is str and model:
            self._response_model = model
        rid = result.get("id")
        if self._response_id is None and type(rid) is str and rid:
            self._response_id = rid
        return True
