"""Token counts and response metadata from what an inference call returns or streams.

Priority, highest first (see :class:`~infertel._internal.instrument.invocation.Inference`):
explicit calls on the current invocation, a user ``usage=`` extractor, the built-in
extraction below, and for streams one token per chunk unless the chunk carries its own count.

Built-in extraction understands OpenAI-style responses, as objects or dicts, whose ``usage``
holds ``prompt_tokens``/``completion_tokens`` or ``input_tokens``/``output_tokens``, and
sequences of token ids (lists or tuples of ints, 1-D integer arrays).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any

from infertel import semconv
from infertel._internal.errors import warn_rate_limited

PRIORITY_CHUNKS = 1
PRIORITY_BUILTIN = 2
PRIORITY_EXTRACTOR = 3
PRIORITY_EXPLICIT = 4

_PLAIN = (str, bytes, int, float, bool, type(None))


def valid_count(value: Any, what: str) -> int | None:
    """``value`` as a non-negative int, or None with a rate-limited warning if it is not one."""
    if type(value) is int and value >= 0:
        return value
    if not isinstance(value, bool):
        try:
            as_int = operator.index(value)
        except TypeError:
            as_int = None
        if as_int is not None and as_int >= 0:
            return int(as_int)
        if isinstance(value, float) and math.isfinite(value) and value >= 0 and value.is_integer():
            return int(value)
    warn_rate_limited(("bad-token-count", what), "infertel: dropped invalid %s token count %r", what, value)
    return None


def finish_reason(reason: Any) -> str:
    """One ``gen_ai.response.finish_reasons`` entry: the reason as a string, ``error`` when missing.

    Example:
        >>> finish_reason(None), finish_reason("length")
        ('error', 'length')
    """
    if reason is None or reason == "":
        return semconv.GEN_AI_FINISH_REASON_ERROR
    return reason if isinstance(reason, str) else str(reason)


def _get(obj: Any, name: str) -> Any:
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def usage_counts(usage: Any) -> tuple[Any, Any]:
    """(input, output) raw counts from a usage object or mapping; either may be None."""
    if usage is None:
        return None, None
    prompt = _get(usage, "prompt_tokens")
    if prompt is None:
        prompt = _get(usage, "input_tokens")
    completion = _get(usage, "completion_tokens")
    if completion is None:
        completion = _get(usage, "output_tokens")
    return prompt, completion


def token_id_count(value: Any) -> int | None:
    """Number of token ids when ``value`` is a sequence of token ids, else None."""
    if isinstance(value, (list, tuple)):
        if value and type(value[0]) is int and type(value[-1]) is int:
            return len(value)
        return None
    dtype = getattr(value, "dtype", None)
    if dtype is not None and getattr(value, "ndim", None) == 1:
        kind = getattr(dtype, "kind", None)
        if kind in ("i", "u") or (kind is None and "int" in str(dtype)):
            return len(value)
    return None


class Extracted:
    """What :func:`extract` found in a response; every field may be None."""

    __slots__ = ("input_tokens", "output_tokens", "response_model", "response_id", "finish_reasons", "text")

    def __init__(self) -> None:
        self.input_tokens: Any = None
        self.output_tokens: Any = None
        self.response_model: str | None = None
        self.response_id: str | None = None
        self.finish_reasons: list[str] | None = None
        self.text: str | None = None


def _extract_dict(result: dict[str, Any]) -> Extracted:
    found = Extracted()
    usage = result.get("usage")
    if usage is None:
        usage = result
    if type(usage) is dict:
        prompt = usage.get("prompt_tokens")
        found.input_tokens = usage.get("input_tokens") if prompt is None else prompt
        completion = usage.get("completion_tokens")
        found.output_tokens = usage.get("output_tokens") if completion is None else completion
    else:
        found.input_tokens, found.output_tokens = usage_counts(usage)
    model = result.get("model")
    if type(model) is str:
        found.response_model = model
    rid = result.get("id")
    if type(rid) is str:
        found.response_id = rid
    choices = result.get("choices")
    if choices:
        _choices(found, choices)
    return found


def _choices(found: Extracted, choices: Any) -> None:
    if not isinstance(choices, (list, tuple)):
        return
    reasons = [_get(c, "finish_reason") for c in choices]
    if any(isinstance(r, str) and r for r in reasons):  # aligned with the choices; a missing one is "error"
        found.finish_reasons = [finish_reason(r) for r in reasons]
    if choices:
        message = _get(choices[0], "message")
        content = _get(message, "content") if message is not None else _get(choices[0], "text")
        if isinstance(content, str):
            found.text = content


def extract(result: Any) -> Extracted | None:
    """Built-in extraction from a non-streamed result (None when nothing is recognised)."""
    if type(result) is dict:
        return _extract_dict(result)
    if isinstance(result, _PLAIN):
        return None
    found = Extracted()
    ids = token_id_count(result)
    if ids is not None:
        found.output_tokens = ids
        return found
    is_mapping = type(result) is dict or isinstance(result, Mapping)
    usage = result.get("usage") if is_mapping else getattr(result, "usage", None)
    if usage is None and is_mapping:
        # A bare usage mapping ({"prompt_tokens": .., "completion_tokens": ..}) counts too.
        usage = result
    found.input_tokens, found.output_tokens = usage_counts(usage)
    model = _get(result, "model")
    if isinstance(model, str):
        found.response_model = model
    rid = _get(result, "id")
    if isinstance(rid, str):
        found.response_id = rid
    _choices(found, _get(result, "choices"))
    return found


def chunk_usage(chunk: Any) -> tuple[Any, Any, int]:
    """(input, output, counted) for one streamed chunk.

    ``input``/``output`` come from a usage block the chunk carries (OpenAI's last chunk with
    ``stream_options={"include_usage": True}``), else None; ``counted`` is how many output
    tokens the chunk itself stands for: the length of a token-id sequence, 0 for a chunk that
    only carries usage, else 1.
    """
    ids = token_id_count(chunk)
    if ids is not None:
        return None, None, ids
    usage = _get(chunk, "usage")
    if usage is not None:
        prompt, completion = usage_counts(usage)
        if prompt is not None or completion is not None:
            choices = _get(chunk, "choices")
            return prompt, completion, 1 if choices else 0
    return None, None, 1


def chunk_text(chunk: Any) -> str | None:
    """Text a chunk carries (a str, or an OpenAI-style ``choices[0].delta.content``)."""
    if isinstance(chunk, str):
        return chunk
    if isinstance(chunk, bytes):
        return None
    choices = _get(chunk, "choices")
    if isinstance(choices, (list, tuple)) and choices:
        delta = _get(choices[0], "delta")
        content = _get(delta, "content") if delta is not None else _get(choices[0], "text")
        if isinstance(content, str):
            return content
    return None
