"""Prompt and completion content: recorded only when asked for, truncated.

Content capture is off by default. It is on when ``configure(capture_content=True)`` installed
a runtime that says so or, before any ``configure()``, when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``true`` (or ``span_only`` /
``span_and_event``). Captured messages go to the ``gen_ai.input.messages`` /
``gen_ai.output.messages`` span attributes as JSON in the semantic-convention shape
(``[{"role": "user", "parts": [{"type": "text", "content": "..."}]}]``): each attribute, the
whole JSON string, has at most ``content_max_length`` characters (:func:`serialize`).
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


MAX_DEPTH = 8
"""Nesting kept of a message's values (tool-call arguments, parts); deeper values become ``"..."``."""
_KEY_LENGTH = 64
_LABELS = frozenset({"role", "type", "finish_reason", "id", "name", "mime_type", "modality", "tool_call_id"})


class _Budget:
    """What one serialization may still spend: text characters, and (roughly) output characters."""

    __slots__ = ("text", "room")

    def __init__(self, text: int, room: int) -> None:
        self.text = text
        self.room = room

    def take(self, text: str) -> str:
        if len(text) > self.text:
            text = text[: max(self.text, 0)]
        self.text -= len(text)
        self.room -= len(text) + 2
        return text


def _reference(text: str) -> str | None:
    """An inline ``data:`` URI (an image, audio) as a reference: its media type and size, not the payload."""
    if text.startswith("data:"):
        head, sep, payload = text.partition(",")
        if sep and len(payload) > 64:
            return f"{head},[{len(payload)} characters not captured]"
    return None


def _bounded(value: Any, budget: _Budget, depth: int) -> Any:
    """``value`` as JSON-ready data: text from the budget, bytes and inline data as references, nesting cut."""
    if isinstance(value, str):
        reference = _reference(value)
        return reference if reference is not None else budget.take(value)
    if value is None or isinstance(value, (bool, int, float)):
        budget.room -= 6
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        budget.room -= 24
        return f"[{len(value)} bytes not captured]"
    if depth >= MAX_DEPTH:
        budget.room -= 5
        return "..."
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if budget.room <= 0:
                break
            name = str(key)[:_KEY_LENGTH]
            budget.room -= len(name) + 4
            if name in _LABELS and isinstance(item, str):
                # Role, part type, finish reason, ids: kept whole (up to a name's length), outside the text budget.
                out[name] = item[:_KEY_LENGTH]
                budget.room -= len(out[name]) + 2
            else:
                out[name] = _bounded(item, budget, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            if budget.room <= 0:
                break
            items.append(_bounded(item, budget, depth + 1))
            budget.room -= 2
        return items
    # Anything else (an SDK object): its str(), from the text budget.
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a hostile __str__ must not cost the span
        text = f"<{type(value).__name__}>"
    return budget.take(text)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _cut_to_fit(message: Any, text: int, left: int) -> str | None:
    """``message`` with the most text (at most ``text`` characters) whose JSON has at most ``left`` characters."""

    def encoded(t: int) -> str:
        # The room only stops the walk through a huge message early; the bound is checked on the JSON.
        return _dumps(_bounded(message, _Budget(t, 2 * left + 256), 0))

    if len(encoded(0)) > left:
        return None
    low, high = 0, text
    while low < high:
        middle = (low + high + 1) // 2
        if len(encoded(middle)) <= left:
            low = middle
        else:
            high = middle - 1
    return encoded(low)


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


def serialize(messages: Sequence[Any], max_length: int) -> str:
    """JSON of ``messages``, the whole string at most ``max_length`` characters, whatever their shape.

    The conversation is kept from its start: the leading messages that fit whole, then as much of
    the next message's text as fits; the rest is left out. Inline data (``data:`` URIs, bytes) is
    replaced by a reference giving its size; values nested deeper than :data:`MAX_DEPTH` become
    ``"..."``. Without room for even ``[]``: the empty string.

    Example:
        >>> serialize([{"role": "user", "parts": [{"type": "text", "content": "hello world"}]}], 66)
        '[{"role": "user", "parts": [{"type": "text", "content": "hell"}]}]'
    """
    if max_length < 2:
        return ""
    budget = _Budget(max_length, 2 * max_length + 256)
    pieces: list[str] = []
    size = 2  # "[]"
    for message in messages:
        separator = 2 if pieces else 0  # ", "
        text_before = budget.text
        piece = _dumps(_bounded(message, budget, 0))
        if size + separator + len(piece) > max_length:
            cut = _cut_to_fit(message, text_before, max_length - size - separator)
            if cut is not None:
                pieces.append(cut)
            break
        pieces.append(piece)
        size += separator + len(piece)
    # json.dumps of the list, assembled from its items' encodings (same separators).
    return "[" + ", ".join(pieces) + "]"


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
