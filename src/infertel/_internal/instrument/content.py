"""Prompt and completion content: recorded only when asked for, truncated.

Content capture is off by default. It is on when ``configure(capture_content=True)`` installed
a runtime that says so or, before any ``configure()``, when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``true`` (or ``span_only`` /
``span_and_event``). Captured messages go to the ``gen_ai.input.messages`` /
``gen_ai.output.messages`` span attributes as JSON in the semantic-convention shape
(``[{"role": "user", "parts": [{"type": "text", "content": "..."}]}]``), with at most
``content_max_length`` characters of text per attribute.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from infertel._internal.errors import warn_rate_limited

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_ON = frozenset({"true", "1", "yes", "on", "span_only", "span_and_event"})
_OFF = frozenset({"", "false", "0", "no", "off", "no_content", "event_only"})


def capture_from_env() -> bool:
    """Whether the environment asks for content capture (unknown values: off, with a warning)."""
    value = os.environ.get(CAPTURE_ENV, "").strip().lower()
    if value in _ON:
        return True
    if value not in _OFF:
        warn_rate_limited(
            ("capture-env", value),
            "infertel: %s=%r is not one of %s; content capture stays off",
            CAPTURE_ENV,
            value,
            ", ".join(sorted(_ON | _OFF - {""})),
        )
    return False


class _Budget:
    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left

    def take(self, text: str) -> str:
        if len(text) > self.left:
            text = text[: max(self.left, 0)]
        self.left -= len(text)
        return text


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        # OpenAI content parts: [{"type": "text", "text": "..."}, ...]
        texts = [p.get("text") or p.get("content") for p in content if isinstance(p, Mapping)]
        return "".join(t for t in texts if isinstance(t, str))
    return "" if content is None else str(content)


def to_messages(value: Any, default_role: str) -> list[dict[str, Any]]:
    """Normalise a str, an OpenAI-style message list or a single message into semconv messages."""
    if isinstance(value, (str, bytes)) or value is None:
        text = value.decode(errors="replace") if isinstance(value, bytes) else (value or "")
        return [{"role": default_role, "parts": [{"type": "text", "content": text}]}]
    if isinstance(value, Mapping):
        value = [value]
    messages: list[dict[str, Any]] = []
    for item in value:
        if isinstance(item, Mapping):
            role = item.get("role") or default_role
            if "parts" in item:
                messages.append(dict(item))
                continue
            text = _text_of(item.get("content"))
            message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": text}]}
            if "finish_reason" in item:
                message["finish_reason"] = item["finish_reason"]
            messages.append(message)
        else:
            messages.append({"role": default_role, "parts": [{"type": "text", "content": _text_of(item)}]})
    return messages


def serialize(messages: list[dict[str, Any]], max_length: int) -> str:
    """JSON of ``messages`` with at most ``max_length`` characters of text content in total."""
    budget = _Budget(max_length)
    out = []
    for message in messages:
        parts = []
        for part in message.get("parts", []):
            if isinstance(part, Mapping) and isinstance(part.get("content"), str):
                part = {**part, "content": budget.take(part["content"])}
            parts.append(part)
        out.append({**message, "parts": parts})
    return json.dumps(out, ensure_ascii=False, default=str)


_PROMPT_NAMES = ("messages", "prompt", "prompts", "input", "inputs", "text", "query")


def input_from_call(signature: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The prompt of a decorated call: a ``messages``/``prompt``-like argument, else the first str."""
    try:
        bound = signature.bind_partial(*args, **kwargs).arguments if signature is not None else dict(kwargs)
    except TypeError:
        bound = dict(kwargs)
    for name in _PROMPT_NAMES:
        if name in bound and bound[name] is not None:
            return bound[name]
    for value in list(bound.values()) + list(args):
        if isinstance(value, str):
            return value
    return None
